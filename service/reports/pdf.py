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

from service.catalogue import QUALITY_INTRO, QualityNote, unit_text
from service.reports._plots import HEIGHT_IN, WIDTH_IN, progress_figure, series_figure, to_png
from service.reports.html import PROGRESS_INTRO, _plot_caption, progress_rows, unmeasured
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
_QUALITY = (240, 242, 245)  # neutral: a quality issue is about the recording, never a finding


def _quality(pdf: _Doc, notes: tuple[QualityNote, ...]) -> None:
    """What limits the recording's measurements, titled and set apart from the findings; notes last and smaller."""
    pdf.heading("Recording quality", 9.5)
    pdf.para(QUALITY_INTRO, 7.5)
    for q in notes:
        size = 7.5 if q.is_note else 8.5
        pdf.set_font("DejaVu", "", size)
        pdf.set_fill_color(*_QUALITY)
        title = q.title.replace("*", "")  # markdown: the title is bold, nothing else may be
        pdf.multi_cell(
            0,
            size * 0.5,
            f"**{title}.** {_plain(q.text)}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            fill=True,
            markdown=True,
        )
        pdf.set_fill_color(255, 255, 255)
        pdf.ln(0.6)
    pdf.ln(0.6)


def _plain(text: str) -> str:
    """``text`` with the characters fpdf2's markdown reads (``**``, ``__``, ``--``, ``~~``) broken up."""
    for mark in ("**", "__", "--", "~~"):
        text = text.replace(mark, mark[0] + "\u200b" + mark[1])
    return text


def _assessment(pdf: _Doc, a: AssessmentSection, n: int) -> None:
    pdf.heading(f"Assessment {n}: {a.title}", 11)
    pdf.para(f"id {a.id}; recorded {a.created_at.strftime('%Y-%m-%d %H:%M UTC')}; camera view {a.view or 'unknown'}", 8)
    if a.status != "done":
        pdf.para(f"Not analysed: status {a.status}" + (f", {a.reason}" if a.reason else ""), fill=_NOTE)
        return
    for c in a.not_scored:
        pdf.para(c, fill=_NOTE)
    if a.quality:
        _quality(pdf, a.quality)
    numbered = sum(e.end_s is not None for e in a.events) > 4
    for missing, reason in unmeasured(a.plots):
        names = ", ".join(ks.label for ks in missing)
        pdf.para(f"{names} ({unit_text(missing[0].unit)}): not measurable: {reason}", fill=_NOTE)
    for g in a.plots:
        if not g.lines:
            continue
        pdf.figure(to_png(series_figure(g, a.events)))
        pdf.para(_plot_caption(g, numbered), 7)
    if a.metrics:
        pdf.heading("Measurements", 9.5)
        pdf.grid(["measure", "side", "value"], [[m.name, m.side or "", m.value] for m in a.metrics], (70, 15, 95))
    pdf.heading("Findings", 9.5)
    if a.findings:
        pdf.grid(
            ["severity", "finding", "evidence", "threshold", "clinician review"],
            [
                [
                    f.severity_text,
                    f.message + (f" Source: {f.source}." if f.source else ""),
                    f.evidence,
                    f.threshold or "none",
                    f.review_text,
                ]
                for f in a.findings
            ],
            (20, 58, 36, 26, 40),
        )
        for title, meaning in a.severity_key:
            pdf.para(f"{title}: {meaning}", 7.5)
    else:
        pdf.para("No findings for this recording.")
    if a.exercises:
        pdf.heading("Exercises", 9.5)
        pdf.grid(
            ["exercise", "dose", "for", "decision"],
            [[x.name, x.dose, x.because, x.text] for x in a.exercises],
            (40, 35, 55, 50),
        )


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
            (60, 20, 30, 70),
        )
    pdf.heading("Progress across sessions", 11)
    if not report.progress:
        pdf.para("No questionnaire or protocol measurement recorded yet.")
    else:
        pdf.para(PROGRESS_INTRO, 8)
        for c in report.progress:
            if c.drawn and (c.threshold_points is not None or c.kind == "outcome"):
                pdf.figure(to_png(progress_figure(c)))
        pdf.grid(
            ["measure", "unit", "values (oldest first)", "change", "threshold"],
            progress_rows(report.progress),
            (48, 16, 26, 62, 28),
        )
    if report.sources:
        pdf.heading("Sources", 10)
        for s in report.sources:
            pdf.para(f"• {s}", 7.5)
    return bytes(pdf.output())
