"""One self-contained HTML file: inline CSS, plots as inline SVG, every stored string escaped."""

from __future__ import annotations

from html import escape

from service.reports._plots import progress_figure, series_figure, to_svg
from service.reports.model import AssessmentSection, ProgressChart, ReportModel

__all__ = ["render_html"]

_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:13px;color:#222;max-width:60rem;margin:1.5rem auto;
padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.15rem;border-bottom:1px solid #ccc;margin-top:2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border:1px solid #ddd;padding:.25rem .4rem;
vertical-align:top;text-align:left}th{background:#f4f4f4}
.meta td{border:none;padding:.1rem .6rem .1rem 0}.plot svg{width:100%;height:auto}
.na{background:#fff4e5;border-left:4px solid #D55E00;padding:.3rem .6rem;margin:.4rem 0}
.sev-attention{color:#a33}.sev-inconclusive{color:#8a6d00}.sev-normal{color:#2a6f2a}
.notes{white-space:pre-wrap;background:#f8f8f8;padding:.4rem .6rem}
footer{margin-top:2rem;border-top:1px solid #ccc;padding-top:.5rem;font-size:.9rem;color:#555}
@media print{h2{break-before:auto}.plot{break-inside:avoid}}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _table(head: list[str], rows: list[list[object]], cls: list[str] | None = None) -> str:
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        attr = f' class="{_e(cls[i])}"' if cls and cls[i] else ""
        out.append(f"<tr{attr}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _assessment(a: AssessmentSection, n: int) -> str:
    title = f"Assessment {n}: {a.exercise or 'no exercise protocol'}"
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
    for c in a.coaching:
        parts.append(f'<p class="na">Cannot answer the exercise\'s question from this recording: {_e(c)}</p>')
    for q in a.quality:
        parts.append(f'<p class="na">Recording quality: {_e(q)}</p>')
    for ks in a.series:
        if ks.values is None:
            parts.append(
                f'<p class="na" data-series="{_e(ks.name)}"><b>{_e(ks.name)}</b> [{_e(ks.unit)}]: '
                f"not measurable: {_e(ks.reason)}</p>"
            )
            continue
        parts.append(
            f'<figure class="plot" data-series="{_e(ks.name)}">{to_svg(series_figure(ks, a.events))}'
            f"<figcaption>{_e(ks.name)} [{_e(ks.unit)}]; sign: {_e(ks.convention)}. Shaded: "
            "detected events. "
            + "".join(f"Dashed: {_e(t.label)} ({_e(t.source)}). " for t in ks.thresholds)
            + "</figcaption></figure>"
        )
    if a.events:
        parts.append(
            "<h3>Events</h3>"
            + _table(
                ["event", "side", "start (s)", "end (s)"],
                [[e.type, e.side or "", f"{e.start_s:g}", "" if e.end_s is None else f"{e.end_s:g}"] for e in a.events],
            )
        )
    if a.metrics:
        parts.append(
            "<h3>Measurements</h3>"
            + _table(["metric", "side", "value"], [[m.name, m.side or "", m.value] for m in a.metrics])
        )
    parts.append("<h3>Findings</h3>")
    if a.findings:
        parts.append(
            _table(
                ["severity", "finding", "evidence", "threshold", "source", "clinician review"],
                [
                    [
                        f.severity,
                        f.message,
                        f.evidence,
                        f.threshold or "none",
                        f.source or "",
                        f.review or "not reviewed",
                    ]
                    for f in a.findings
                ],
                cls=[f"sev-{f.severity}" for f in a.findings],
            )
        )
    else:
        parts.append("<p>No findings for this recording.</p>")
    parts.append("</section>")
    return "".join(parts)


def _progress(charts: tuple[ProgressChart, ...]) -> str:
    if not charts:
        return "<h2>Progress</h2><p>No questionnaire or protocol measurement recorded yet.</p>"
    parts = [
        (
            "<h2>Progress across sessions</h2><p>Each change is judged against the first value (baseline): "
            "outcomes against the minimal clinically important difference (MCID), movement measures against the "
            "minimal detectable change (MDC). The circled point is this session.</p>"
        )
    ]
    for c in charts:
        if c.threshold_points is not None or c.kind == "outcome":
            parts.append(
                f'<figure class="plot" data-measure="{_e(c.measure)}">{to_svg(progress_figure(c))}'
                f"<figcaption>{_e(c.summary)}"
                + (f" Threshold: {_e(c.source)}." if c.source else "")
                + "</figcaption></figure>"
            )
    parts.append(
        _table(
            ["measure", "unit", "values (oldest first)", "change", "threshold"],
            [
                [
                    c.measure,
                    c.unit,
                    ", ".join(f"{m.value:g}" for m in c.marks),
                    c.summary,
                    f"{c.threshold_kind.upper()} {c.threshold_points:g} {c.unit}"
                    if c.threshold_kind
                    else "none published; not judged",
                ]
                for c in charts
            ],
        )
    )
    return "".join(parts)


def render_html(report: ReportModel) -> str:
    """The report as one HTML document; nothing is loaded from elsewhere."""
    head = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Session report '
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
            )
        )
    body.append(_progress(report.progress))
    if report.sources:
        body.append("<h2>Sources</h2><ul>" + "".join(f"<li>{_e(s)}</li>" for s in report.sources) + "</ul>")
    body.append(f"<footer>{_e(report.disclaimer)}</footer></body></html>")
    return head + "".join(body)
