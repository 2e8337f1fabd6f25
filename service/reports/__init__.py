"""Session reports: one HTML file or one A4 PDF per session (docs/reports.md).

``load_session_data`` reads a session's rows, ``build_session_report`` gathers what the
report shows, ``render_html`` / ``render_pdf`` draw it. Findings support a clinician's
judgement; they never diagnose.
"""

from service.reports.html import render_html
from service.reports.model import ReportModel, SessionData, build_session_report, load_session_data
from service.reports.pdf import render_pdf

__all__ = ["ReportModel", "SessionData", "build_session_report", "load_session_data", "render_html", "render_pdf"]
