"""One self-contained HTML file: inline CSS, plots as inline SVG, every stored string escaped."""

from __future__ import annotations

from html import escape

from service.catalogue import QUALITY_INTRO, QualityNote, fmt_value, unit_text
from service.reports._plots import progress_figure, series_figure, to_svg
from service.reports.model import AssessmentSection, KeySeries, PlotGroup, ProgressChart, ReportModel

__all__ = ["PROGRESS_INTRO", "progress_rows", "render_html", "unmeasured"]

_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:13px;color:#222;max-width:60rem;margin:1.5rem auto;
padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border:1px solid #ddd;padding:.25rem .4rem;
vertical-align:top;text-align:left}th{background:#f4f4f4}
.meta td{border:none;padding:.1rem .6rem .1rem 0}.plot svg{width:100%;height:auto}figure.plot{margin:.6rem 0}
.na{background:#fff4e5;border-left:4px solid #D55E00;padding:.3rem .6rem;margin:.4rem 0}
.sev-attention{color:#a33}.sev-inconclusive{color:#8a6d00}.sev-normal{color:#2a6f2a}
.sev-key{font-size:.9em;color:#444;margin:.2rem 0 .6rem;padding-left:1.1rem}.sev-key li{margin:.15rem 0}
.notes{white-space:pre-wrap;background:#f8f8f8;padding:.4rem .6rem}
.quality{background:#f4f6f8;border-left:4px solid #8a939e;padding:.3rem .7rem;margin:.6rem 0}
.quality h3{margin:.2rem 0 .1rem}.quality .hint{margin:.1rem 0 .3rem;color:#555}
.quality ul{margin:.2rem 0;padding-left:1.1rem}.quality li{margin:.2rem 0}.quality li.note{color:#555;font-size:.92em}
@media (max-width:40rem){table.stack thead{display:none}table.stack tr{display:block;border:1px solid #ddd;
margin:.4rem 0}table.stack td{display:block;border:none;padding:.15rem .4rem}
table.stack td[data-label]:not(:empty)::before{content:attr(data-label) ": ";font-weight:bold}}
footer{margin-top:2rem;border-top:1px solid #ccc;padding-top:.5rem;font-size:.9rem;color:#555}
@media print{h2{break-before:auto}.plot{break-inside:avoid}}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(head: list[str], rows: list[list[object]], cls: list[str] | None = None, *, stack: bool = False) -> str:
    """``stack``: on a phone each row becomes a block of labelled lines (a wide table would not fit)."""
    out = ['<table class="stack"><thead><tr>' if stack else "<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head)]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        attr = f' class="{_e(cls[i])}"' if cls and cls[i] else ""
        cells = (
            f'<td data-label="{_e(h)}">{_e(c)}</td>' if stack else f"<td>{_e(c)}</td>"
            for h, c in zip(head, row, strict=True)
        )
        out.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _plot_caption(g: PlotGroup, numbered: bool) -> str:
    text = f"{g.title} ({unit_text(g.unit) or g.unit})"
    if g.convention:
        text += f"; sign: {g.convention}"
    text += ". Shaded: detected events" + (" (numbered in order)" if numbered else "") + ". "
    text += "".join(f"Dashed: {t.label} ({t.source}). " for t in g.thresholds)
    text += "".join(f"{o[:1].upper()}{o[1:]}. " for o in g.off_scale)
    return text


def unmeasured(plots: tuple[PlotGroup, ...]) -> list[tuple[tuple[KeySeries, ...], str]]:
    """The series no plot could draw, those withheld for the same reason in the same unit on one line (an oblique
    view withholds every angle for one reason: one line, not four alike)."""
    out: dict[tuple[str, str], list[KeySeries]] = {}
    for g in plots:
        for ks in g.missing:
            out.setdefault((ks.reason or "", ks.unit), []).append(ks)
    return [(tuple(series), reason) for (reason, _), series in out.items()]


def _quality(notes: tuple[QualityNote, ...]) -> str:
    """What limits the recording's measurements: titled, set apart from the findings, notes last and smaller."""
    items = "".join(
        f'<li data-code="{_e(q.code)}"'
        + (' class="note"' if q.is_note else "")
        + f"><b>{_e(q.title)}.</b> {_e(q.text)}</li>"
        for q in notes
    )
    return (
        f'<div class="quality" data-testid="quality"><h3>Recording quality</h3><p class="hint">{_e(QUALITY_INTRO)}</p>'
        f"<ul>{items}</ul></div>"
    )


def _assessment(a: AssessmentSection, n: int) -> str:
    title = f"Assessment {n}: {a.title}"
    parts = [
        f'<section class="assessment" id="assessment-{_e(a.id)}"><h2>{_e(title)}</h2>',
        '<table class="meta"><tr><td>id</td><td>' + _e(a.id) + "</td></tr>"
        f"<tr><td>recorded</td><td>{_e(a.created_at.strftime('%Y-%m-%d %H:%M UTC'))}</td></tr>"
        f"<tr><td>camera view</td><td>{_e(a.view or 'unknown')}</td></tr></table>",
    ]
    if a.status != "done":
        parts.append(
            f'<p class="na">Not analysed: status {_e(a.status)}'
            + (f", {_e(a.reason)}" if a.reason else "")
            + "</p></section>"
        )
        return "".join(parts)
    for c in a.not_scored:
        parts.append(f'<p class="na">{_e(c)}</p>')
    if a.quality:
        parts.append(_quality(a.quality))
    numbered = sum(e.end_s is not None for e in a.events) > 4
    for missing, reason in unmeasured(a.plots):
        parts.append(
            f'<p class="na" data-series="{_e(" ".join(ks.name for ks in missing))}">'
            + ", ".join(f"<b>{_e(ks.label)}</b>" for ks in missing)
            + f" ({_e(unit_text(missing[0].unit))}): not measurable: {_e(reason)}</p>"
        )
    for g in a.plots:
        if not g.lines:
            continue
        parts.append(
            f'<figure class="plot" data-series="{_e(g.key)}">{to_svg(series_figure(g, a.events))}'
            f"<figcaption>{_e(_plot_caption(g, numbered))}</figcaption></figure>"
        )
    if a.events:
        parts.append(
            "<h3>Events</h3>"
            + _table(
                ["event", "start (s)", "end (s)"],
                [[e.label, f"{e.start_s:.2f}", "" if e.end_s is None else f"{e.end_s:.2f}"] for e in a.events],
            )
        )
    if a.metrics:
        parts.append(
            "<h3>Measurements</h3>"
            + _table(["measure", "side", "value"], [[m.name, m.side or "", m.value] for m in a.metrics])
        )
    parts.append("<h3>Findings</h3>")
    if a.findings:
        parts.append(
            _table(
                ["severity", "finding", "evidence", "threshold", "source", "clinician review"],
                [
                    [
                        f.severity_text,
                        f.message,
                        f.evidence,
                        f.threshold or "none",
                        f.source or "",
                        f.review_text,
                    ]
                    for f in a.findings
                ],
                cls=[f"sev-{f.severity}" + (" reviewed" if f.review else "") for f in a.findings],
                stack=True,
            )
        )
        parts.append(
            '<ul class="sev-key" data-testid="severity-key">'
            + "".join(f"<li><strong>{_e(t)}</strong>: {_e(m)}</li>" for t, m in a.severity_key)
            + "</ul>"
        )
    else:
        parts.append("<p>No findings for this recording.</p>")
    if a.exercises:
        parts.append(
            "<h3>Exercises</h3>"
            + _table(
                ["exercise", "dose", "for", "decision"],
                [[x.name, x.dose, x.because, x.text] for x in a.exercises],
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _threshold_cell(c: ProgressChart) -> str:
    if not c.threshold_kind or c.threshold_points is None:
        return "none published; not judged"
    return f"{c.threshold_kind.upper()} {fmt_value(c.threshold_points, c.change_unit, None)}"


def progress_rows(charts: tuple[ProgressChart, ...]) -> list[list[str]]:
    return [
        [c.label, c.unit, ", ".join(f"{m.value:g}" for m in c.marks), c.summary, _threshold_cell(c)] for c in charts
    ]


PROGRESS_INTRO = (
    "Each change is judged against the first value (baseline): questionnaires against the minimal clinically "
    "important difference (MCID), movement measures against the minimal detectable change (MDC). ODI scores are "
    "percent of the maximum score; their changes and MCID are percentage points. The circled point is this "
    "session. A measure with one value so far is listed in the table, not charted."
)


def _progress(charts: tuple[ProgressChart, ...]) -> str:
    if not charts:
        return "<h2>Progress</h2><p>No questionnaire or protocol measurement recorded yet.</p>"
    parts = [f"<h2>Progress across sessions</h2><p>{_e(PROGRESS_INTRO)}</p>"]
    for c in charts:
        if c.drawn and (c.threshold_points is not None or c.kind == "outcome"):
            parts.append(
                f'<figure class="plot" data-measure="{_e(c.measure)}">{to_svg(progress_figure(c))}'
                f"<figcaption>{_e(c.label)}: {_e(c.summary)}."
                + (f" Threshold: {_e(c.source)}." if c.source else "")
                + "</figcaption></figure>"
            )
    parts.append(
        _table(
            ["measure", "unit", "values (oldest first)", "change", "threshold"],
            progress_rows(charts),
            cls=[f"measure-{c.measure}" for c in charts],
            stack=True,
        )
    )
    return "".join(parts)


def render_html(report: ReportModel) -> str:
    """The report as one HTML document; nothing is loaded from elsewhere."""
    head = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Session report '
        f"{_e(report.patient_code)} {report.session_date.isoformat()}</title><style>{_CSS}</style></head><body>"
    )
    meta = [
        ("patient code", report.patient_code),
        ("clinic", report.clinic or ""),
        ("session", f"{report.session_date.isoformat()} (session {report.session_number})"),
        ("generated", report.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    body = [
        '<header><h1>Motionscript session report</h1><table class="meta">',
        *(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in meta),
        "</table>",
    ]
    if report.session_notes:
        body.append(f'<p class="notes">{_e(report.session_notes)}</p>')
    body.append("</header>")
    if not report.assessments:
        body.append("<p>No assessment is linked to this session.</p>")
    body.extend(_assessment(a, i + 1) for i, a in enumerate(report.assessments))
    if report.outcomes:
        body.append(
            "<h2>Questionnaires in this session</h2>"
            + _table(
                ["questionnaire", "score", "unit", "detail", "recorded"],
                [
                    [o.label, f"{o.score:g}", o.unit, o.detail, o.recorded_at.strftime("%Y-%m-%d %H:%M UTC")]
                    for o in report.outcomes
                ],
                stack=True,
            )
        )
    body.append(_progress(report.progress))
    if report.sources:
        body.append("<h2>Sources</h2><ul>" + "".join(f"<li>{_e(s)}</li>" for s in report.sources) + "</ul>")
    body.append(f"<footer>{_e(report.disclaimer)}</footer></body></html>")
    return head + "".join(body)
