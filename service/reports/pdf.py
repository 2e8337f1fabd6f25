"""The report as an A4 PDF (fpdf2): text stays text (selectable, searchable), plots are 150 dpi images.

The font is DejaVu Sans from matplotlib's own data directory, so degree signs, arrows and
any Latin, Greek or Cyrillic note print without a system font.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from service.reports._plots import HEIGHT_IN, WIDTH_IN, progress_figure, series_figure, to_png
from service.reports.model import AssessmentSection, ReportModel

__all__ = ["render_pdf"]

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_MARGIN_MM = 15.0
_PLOT_W_MM = 180.0
_PLOT_H_MM = _PLOT_W_MM * HEIGHT_IN / WIDTH_IN


class _Doc(FPDF):
    def __init__(self, report: ReportModel) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
        self.set_auto_page_break(True, margin=18)
        self.set_title(f"Session report {report.patient_code} {report.session_date.isoformat()}")
        self.set_creator("Motionscript")
        self.set_creation_date(report.generated_at)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(90, 90, 90)
        self.multi_cell(
            0,
            3.2,
            f"{self.report.disclaimer}  Patient {self.report.patient_code}, session "
            f"{self.report.session_date.isoformat()}. Page {self.page_no()}/{{nb}}",
            align="C",
        )
        self.set_text_color(0, 0, 0)

    # -- helpers --

    def heading(self, text: str, size: float = 12) -> None:
        if self.get_y() > self.page_break_trigger - 25:
            self.add_page()
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self.set_font("DejaVu", "", 9)

    def para(self, text: str, size: float = 9, fill: tuple[int, int, int] | None = None) -> None:
        self.set_font("DejaVu", "", size)
        if fill:
            self.set_fill_color(*fill)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, fill=fill is not None)
        self.set_fill_color(255, 255, 255)  # tables take the current fill colour for their rows
        self.ln(1)

    def figure(self, png: bytes) -> None:
        if self.get_y() + _PLOT_H_MM > self.page_break_trigger:
            self.add_page()
        self.image(io.BytesIO(png), x=_MARGIN_MM, y=self.get_y(), w=_PLOT_W_MM, h=_PLOT_H_MM)
        self.set_y(self.get_y() + _PLOT_H_MM + 1)

    def grid(self, head: list[str], rows: list[list[str]], widths: tuple[float, ...], size: float = 7.5) -> None:
        self.set_font("DejaVu", "", size)
        with self.table(
            col_widths=widths, text_align="LEFT", line_height=size * 0.48, headings_style=_bold(size)
        ) as table:
            table.row(head)
            for r in rows:
                table.row(r)
        self.ln(2)


def _bold(size: float):
    from fpdf.fonts import FontFace

    return FontFace(family="DejaVu", emphasis="BOLD", size_pt=size, fill_color=(240, 240, 240))


_NOTE = (255, 244, 229)


def _assessment(pdf: _Doc, a: AssessmentSection, n: int) -> None:
    pdf.heading(f"Assessment {n}: {a.exercise or 'no exercise protocol'}", 11)
    pdf.para(f"id {a.id}; recorded {a.created_at.strftime('%Y-%m-%d %H:%M UTC')}; camera view {a.view or 'unknown'}", 8)
    if a.status != "done":
        pdf.para(f"Not analysed: status {a.status}" + (f", {a.reason}" if a.reason else ""), fill=_NOTE)
        return
    for c in a.coaching:
        pdf.para(f"Cannot answer the exercise's question from this recording: {c}", fill=_NOTE)
    for q in a.quality:
        pdf.para(f"Recording quality: {q}", fill=_NOTE)
    for ks in a.series:
        if ks.values is None:
            pdf.para(f"{ks.name} [{ks.unit}]: not measurable: {ks.reason}", fill=_NOTE)
            continue
        pdf.figure(to_png(series_figure(ks, a.events)))
        caption = f"{ks.name} [{ks.unit}]; sign: {ks.convention}. Shaded: detected events."
        caption += "".join(f" Dashed: {t.label} ({t.source})." for t in ks.thresholds)
        pdf.para(caption, 7)
    if a.metrics:
        pdf.heading("Measurements", 9.5)
        pdf.grid(["metric", "side", "value"], [[m.name, m.side or "", m.value] for m in a.metrics], (55, 15, 110))
    pdf.heading("Findings", 9.5)
    if a.findings:
        pdf.grid(
            ["severity", "finding", "evidence", "threshold", "source", "review"],
            [
                [f.severity, f.message, f.evidence, f.threshold or "none", f.source or "", f.review or "not reviewed"]
                for f in a.findings
            ],
            (22, 52, 30, 31, 30, 15),
        )
    else:
        pdf.para("No findings for this recording.")


def render_pdf(report: ReportModel) -> bytes:
    """The report as A4 PDF bytes."""
    pdf = _Doc(report)
    pdf.add_page()
    pdf.heading("Motionscript session report", 15)
    pdf.para(
        f"Patient code: {report.patient_code}    Clinic: {report.clinic or ''}\n"
        f"Session: {report.session_date.isoformat()} (session {report.session_number})    "
        f"Generated: {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}"
    )
    if report.session_notes:
        pdf.para(f"Notes: {report.session_notes}", 8.5, fill=(245, 245, 245))
    if not report.assessments:
        pdf.para("No assessment is linked to this session.")
    for i, a in enumerate(report.assessments):
        _assessment(pdf, a, i + 1)
    if report.outcomes:
        pdf.heading("Questionnaires in this session", 11)
        pdf.grid(
            ["questionnaire", "score", "unit", "detail"],
            [[o.label, f"{o.score:g}", o.unit, o.detail] for o in report.outcomes],
            (55, 20, 30, 75),
        )
    pdf.heading("Progress across sessions", 11)
    if not report.progress:
        pdf.para("No questionnaire or protocol measurement recorded yet.")
    else:
        pdf.para(
            "Each change is judged against the first value (baseline): outcomes against the minimal clinically "
            "important difference (MCID), movement measures against the minimal detectable change (MDC). "
            "The circled point is this session.",
            8,
        )
        for c in report.progress:
            if c.threshold_points is not None or c.kind == "outcome":
                pdf.figure(to_png(progress_figure(c)))
        pdf.grid(
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
                for c in report.progress
            ],
            (42, 14, 30, 64, 30),
        )
    if report.sources:
        pdf.heading("Sources", 10)
        for s in report.sources:
            pdf.para(f"• {s}", 7.5)
    return bytes(pdf.output())
