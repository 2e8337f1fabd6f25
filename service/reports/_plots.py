"""Report figures with matplotlib's object API (no pyplot, no global rcParams: safe in server threads)."""

from __future__ import annotations

import io
import math

from matplotlib.figure import Figure

from service.reports.model import EventSpan, KeySeries, ProgressChart

__all__ = ["LINE_COLOUR", "PROGRESS_COLOUR", "THRESHOLD_COLOUR", "progress_figure", "series_figure", "to_png", "to_svg"]

# Okabe-Ito colours (readable with colour-vision deficiency). LINE_COLOUR is used for nothing else on
# a page, so the tests can find the measured series in a rendered page by its colour.
LINE_COLOUR = "#0072B2"
THRESHOLD_COLOUR = "#D55E00"
PROGRESS_COLOUR = "#009E73"
_EVENT_FILL = "#E6E6E6"

WIDTH_IN, HEIGHT_IN = 7.0, 2.3


def _event_label(e: EventSpan) -> str:
    words = e.type.replace("_", " ")
    return f"{words} ({e.side})" if e.side else words


def series_figure(ks: KeySeries, events: tuple[EventSpan, ...]) -> Figure:
    """One key series over time: events shaded, thresholds dashed, unit and sign convention labelled."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    ax = fig.add_subplot()
    if ks.values is None:
        raise ValueError(f"{ks.name} is not measurable: it gets a note, not a figure")
    t = list(ks.t_s)
    y = [math.nan if v is None else v for v in ks.values]
    for e in events:
        if e.end_s is None:
            ax.axvline(e.start_s, color="#999999", linewidth=0.8, zorder=1)
        else:
            ax.axvspan(e.start_s, e.end_s, color=_EVENT_FILL, zorder=0)
            ax.text(
                (e.start_s + e.end_s) / 2,
                1.0,
                _event_label(e),
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=7,
                color="#444444",
            )
    for line in ks.thresholds:
        for level in line.levels:
            ax.axhline(level, color=THRESHOLD_COLOUR, linestyle="--", linewidth=0.9, zorder=2)
    (plotted,) = ax.plot(t, y, color=LINE_COLOUR, linewidth=1.2, zorder=3)
    plotted.set_gid(f"series-{ks.name}")  # <g id="series-<name>"> in the SVG
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel(f"{ks.unit}", fontsize=8)
    ax.set_title(f"{ks.name} [{ks.unit}]" + (f", {ks.plane} plane" if ks.plane else ""), fontsize=9, loc="left")
    ax.set_title(ks.convention, fontsize=7, loc="right", color="#444444")
    if t:
        ax.set_xlim(t[0], t[-1])
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#EEEEEE", linewidth=0.6)
    return fig


def progress_figure(chart: ProgressChart) -> Figure:
    """One measure per session: the baseline's change band (MCID or MDC) shaded, 95 % intervals as error bars."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    ax = fig.add_subplot()
    xs = list(range(len(chart.marks)))
    values = [m.value for m in chart.marks]
    if chart.threshold_points is not None and chart.marks:
        base = chart.marks[0].value
        ax.axhspan(base - chart.threshold_points, base + chart.threshold_points, color="#F3E3D3", zorder=0)
        ax.text(
            0.0,
            base + chart.threshold_points,
            f" baseline ± {chart.threshold_points:g} {chart.unit} "
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
            ax.annotate(m.judgement, (x, m.value), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
    ax.set_xticks(xs, [m.label for m in chart.marks], fontsize=7)
    ax.set_xlim(-0.5, max(len(xs) - 0.5, 0.5))
    ax.set_ylabel(chart.unit, fontsize=8)
    direction = "lower is better" if chart.lower_is_better else "higher is better"
    ax.set_title(f"{chart.measure} [{chart.unit}]", fontsize=9, loc="left")
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
