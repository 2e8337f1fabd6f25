"""Report figures with matplotlib's object API (no pyplot, no global rcParams: safe in server threads)."""

from __future__ import annotations

import io
import math

from matplotlib.figure import Figure

from service.catalogue import fmt_value, unit_text
from service.reports.model import EventSpan, PlotGroup, ProgressChart

__all__ = [
    "LINE_COLOUR",
    "PROGRESS_COLOUR",
    "RIGHT_COLOUR",
    "THRESHOLD_COLOUR",
    "progress_figure",
    "series_figure",
    "to_png",
    "to_svg",
]

# Okabe-Ito colours (readable with colour-vision deficiency). LINE_COLOUR is used for nothing else on
# a page, so the tests can find the measured series in a rendered page by its colour. A left/right
# pair shares one figure: left in LINE_COLOUR, right in RIGHT_COLOUR.
LINE_COLOUR = "#0072B2"
RIGHT_COLOUR = "#CC79A7"
THRESHOLD_COLOUR = "#D55E00"
PROGRESS_COLOUR = "#009E73"
_EVENT_FILL = "#E6E6E6"

WIDTH_IN, HEIGHT_IN = 7.0, 2.3


def _unit(unit: str) -> str:
    return unit_text(unit) or unit


def _axis_label(unit: str) -> str:
    return {"°": "degrees", "°/s": "degrees/s", "%": "percent", "": "count"}.get(unit, unit)


def series_figure(group: PlotGroup, events: tuple[EventSpan, ...]) -> Figure:
    """One angle over time (left and right overlaid): events shaded and named above the curves, thresholds dashed."""
    if not group.lines:
        raise ValueError(f"{group.key} is not measurable: it gets a note, not a figure")
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    ax = fig.add_subplot()
    t = list(group.lines[0].t_s)
    spans = [e for e in events if e.end_s is not None]
    numbered = len(spans) > 4  # many repetitions: number them, the caption names the event
    for e in events:
        if e.end_s is None:
            ax.axvline(e.start_s, color="#999999", linewidth=0.8, zorder=1)
    for i, e in enumerate(spans):
        end = e.end_s if e.end_s is not None else e.start_s
        ax.axvspan(e.start_s, end, color=_EVENT_FILL, zorder=0)
        ax.text(
            (e.start_s + end) / 2,
            0.97,
            str(i + 1) if numbered else e.label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="#333333",
            zorder=6,  # above the threshold lines, on its own background: never struck through
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )
    for line in group.thresholds:
        for level in line.levels:
            ax.axhline(level, color=THRESHOLD_COLOUR, linestyle="--", linewidth=0.9, zorder=2)
    sided = len(group.lines) > 1 or any(ks.side for ks in group.lines)
    for ks in group.lines:
        y = [math.nan if v is None else v for v in ks.values or ()]
        colour = RIGHT_COLOUR if ks.side == "right" else LINE_COLOUR
        (plotted,) = ax.plot(t, y, color=colour, linewidth=1.2, zorder=3, label=ks.side or ks.label)
        plotted.set_gid(f"series-{ks.name}")  # <g id="series-<name>"> in the SVG
    if group.y_range:
        lo, hi = group.y_range
        head = (hi - lo) * 0.18  # room for the event names above the curves
        ax.set_ylim(lo, hi + (head if spans else 0))
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel(_axis_label(_unit(group.unit)), fontsize=8)
    ax.set_title(
        group.title + (f", {group.plane} plane" if group.plane else "") + f" ({_unit(group.unit)})",
        fontsize=9,
        loc="left",
    )
    if sided:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=7, frameon=False, borderaxespad=0.1)
    if t:
        ax.set_xlim(t[0], t[-1])
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#EEEEEE", linewidth=0.6)
    return fig


def progress_figure(chart: ProgressChart) -> Figure:
    """One measure per session: the baseline's change band (MCID or MDC) shaded, 95 % intervals as error bars."""
    if not chart.drawn:
        raise ValueError(f"{chart.measure} has one value: it is listed in the table, not charted")
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(chart.marks)))
    values = [m.value for m in chart.marks]
    if chart.threshold_points is not None and chart.marks:
        base = chart.marks[0].value
        ax.axhspan(base - chart.threshold_points, base + chart.threshold_points, color="#F3E3D3", zorder=0)
        ax.text(
            -0.45,
            base + chart.threshold_points,
            f" baseline ± {fmt_value(chart.threshold_points, chart.change_unit, None)} "
            f"({chart.threshold_kind.upper() if chart.threshold_kind else ''}): inside = no real change",
            fontsize=7,
            va="bottom",
            color="#7A4A1A",
        )
    ax.plot(xs, values, color=PROGRESS_COLOUR, linewidth=1.0, marker="o", markersize=4, zorder=3)
    for x, m in zip(xs, chart.marks, strict=True):
        if m.ci95 is not None:
            ax.errorbar(
                [x],
                [m.value],
                yerr=[[m.value - m.ci95[0]], [m.ci95[1] - m.value]],
                color=PROGRESS_COLOUR,
                capsize=3,
                linewidth=0.8,
                zorder=3,
            )
        if m.current:
            ax.plot([x], [m.value], marker="o", markersize=9, markerfacecolor="none", markeredgecolor="black", zorder=4)
        if m.judgement:
            ax.annotate(m.judgement, (x, m.value), textcoords="offset points", xytext=(6, 6), ha="left", fontsize=7)
    ax.set_xticks(xs, [m.label for m in chart.marks], fontsize=7)
    ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
    ax.set_ylabel(_axis_label(chart.unit), fontsize=8)
    direction = "lower is better" if chart.lower_is_better else "higher is better"
    ax.set_title(f"{chart.label} ({chart.unit})", fontsize=9, loc="left")
    ax.set_title(
        direction + ("" if chart.threshold_points is not None else "; no published threshold"),
        fontsize=7,
        loc="right",
        color="#444444",
    )
    ax.tick_params(labelsize=7)
    ax.grid(True, axis="y", color="#EEEEEE", linewidth=0.6)
    ax.margins(y=0.25)
    return fig


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML declaration, no creation date)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def to_png(fig: Figure, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
