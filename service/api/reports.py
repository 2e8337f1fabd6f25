"""``GET /v1/patients/{pid}/sessions/{sid}/report.html`` and ``.pdf``: one session's report (docs/reports.md)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Response

from service.auth import Principal
from service.deps import SessionDep, require
from service.progress import patient_or_404, session_or_404
from service.reports import build_session_report, load_session_data, render_html, render_pdf

router = APIRouter(prefix="/v1/patients", tags=["reports"])

# The HTML is self-contained: no script, no request to anywhere, styles and images inline.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_RESPONSES = {404: {"description": "no such patient or session in this clinic"}}


def _report(db, principal: Principal, patient_id: str, session_id: str):
    patient = patient_or_404(db, principal, patient_id)
    target = session_or_404(db, patient, session_id)
    return build_session_report(load_session_data(db, patient, target))


def _headers(report, ext: str, disposition: str) -> dict[str, str]:
    code = re.sub(r"[^A-Za-z0-9._-]", "_", report.patient_code)
    name = f"motionscript-report-{code}-{report.session_date.isoformat()}.{ext}"
    return {
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


@router.get(
    "/{patient_id}/sessions/{session_id}/report.html",
    name="get_session_report_html",
    responses={
        200: {"content": {"text/html": {}}, "description": "the report as one self-contained HTML file"},
        **_RESPONSES,
    },
)
def get_session_report_html(
    patient_id: str, session_id: str, db: SessionDep, principal: Annotated[Principal, require("reports:read")]
) -> Response:
    """The session's plots, events, findings, questionnaires and progress as one HTML file."""
    report = _report(db, principal, patient_id, session_id)
    return Response(
        render_html(report),
        media_type="text/html; charset=utf-8",
        headers={**_headers(report, "html", "inline"), "Content-Security-Policy": _CSP},
    )


@router.get(
    "/{patient_id}/sessions/{session_id}/report.pdf",
    name="get_session_report_pdf",
    responses={200: {"content": {"application/pdf": {}}, "description": "the report as an A4 PDF"}, **_RESPONSES},
)
def get_session_report_pdf(
    patient_id: str, session_id: str, db: SessionDep, principal: Annotated[Principal, require("reports:read")]
) -> Response:
    """The same report as an A4 PDF with selectable text."""
    report = _report(db, principal, patient_id, session_id)
    return Response(render_pdf(report), media_type="application/pdf", headers=_headers(report, "pdf", "attachment"))
