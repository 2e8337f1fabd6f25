"""``motionscript report``: write a session report from the local database, without the API."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kinematics.errors import InputError
from service.reports.html import render_html
from service.reports.model import build_session_report, load_session_data
from service.reports.pdf import render_pdf
from service.store.models import Clinic, Patient, PatientSession

__all__ = ["write_report"]


def _session(db: Session, patient: Patient, ref: str) -> PatientSession:
    q = select(PatientSession).where(PatientSession.patient_id == patient.id)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", ref):
        rows = list(db.scalars(q.where(PatientSession.session_date == date.fromisoformat(ref))))
        if len(rows) > 1:
            raise InputError(
                f"--session: {len(rows)} sessions of {patient.code} on {ref}; give the session id "
                f"instead ({', '.join(r.id for r in rows)})"
            )
    else:
        rows = list(db.scalars(q.where(PatientSession.id == ref)))
    if not rows:
        raise InputError(
            f"--session: no session {ref!r} for patient {patient.code!r}; expected a session id or its date YYYY-MM-DD"
        )
    return rows[0]


def write_report(db: Session, *, clinic: str, patient_code: str, session: str, out: Path) -> Path:
    """Render the report of ``patient_code``'s ``session`` (id or date) to ``out`` (.html or .pdf)."""
    kind = out.suffix.lower()
    if kind not in (".html", ".pdf"):
        raise InputError(f"--out: {out.name} must end in .html or .pdf")
    clinic_id = db.scalar(select(Clinic.id).where(Clinic.name == clinic))
    if clinic_id is None:
        raise InputError(f"--clinic: no clinic named {clinic!r}")
    patient = db.scalar(select(Patient).where(Patient.clinic_id == clinic_id, Patient.code == patient_code))
    if patient is None:
        raise InputError(f"--patient: no patient with code {patient_code!r} in clinic {clinic!r}")
    report = build_session_report(load_session_data(db, patient, _session(db, patient, session)))
    if kind == ".pdf":
        out.write_bytes(render_pdf(report))
    else:
        out.write_text(render_html(report), encoding="utf-8")
    return out
