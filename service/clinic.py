"""The caller's clinic: its settings, its webhook signing secret, and its audit log as pages (docs/review.md).

Changes are audited (:mod:`service.audit`); the webhook secret's audit entries hold fingerprints, never secrets.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from service import audit
from service.auth import Principal
from service.domain_errors import NotFound
from service.pagination import decode_cursor, encode_cursor, valid_id
from service.schemas import AuditEventPublic, AuditList, ClinicPublic, WebhookSecret
from service.store.models import AssessmentRow, Clinic, Patient, PatientSession, User

__all__ = ["audit_page", "clinic_public", "get_clinic", "rotate_webhook_secret", "update_clinic", "webhook_secret"]


def _clinic(session: Session, principal: Principal) -> Clinic:
    clinic = session.get(Clinic, principal.clinic_id)
    assert clinic is not None  # a principal's clinic exists while its keys and logins do
    return clinic


def clinic_public(c: Clinic) -> ClinicPublic:
    return ClinicPublic(id=c.id, name=c.name, patient_feedback=c.patient_feedback)  # type: ignore[arg-type]


def get_clinic(session: Session, principal: Principal) -> ClinicPublic:
    return clinic_public(_clinic(session, principal))


def update_clinic(session: Session, principal: Principal, patient_feedback: str) -> ClinicPublic:
    """Change ``patient_feedback`` (``all`` or ``signed_off_only``); audited."""
    clinic = _clinic(session, principal)
    before = audit.snapshot(clinic, ("patient_feedback",))
    if before["patient_feedback"] != patient_feedback:
        clinic.patient_feedback = patient_feedback
        audit.record(
            session,
            principal,
            "clinic.update",
            "clinic",
            principal.clinic_id,
            before=before,
            after={"patient_feedback": patient_feedback},
        )
        session.commit()
    return clinic_public(clinic)


def _secret_out(secret: str) -> WebhookSecret:
    return WebhookSecret(
        secret=secret,
        scheme="t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<raw body>')>",
        fingerprint=hashlib.sha256(secret.encode()).hexdigest()[:12],
    )


def webhook_secret(session: Session, principal: Principal) -> WebhookSecret:
    """The secret that signs this clinic's webhooks (``Motionscript-Signature``)."""
    return _secret_out(_clinic(session, principal).webhook_secret)


def rotate_webhook_secret(session: Session, principal: Principal) -> WebhookSecret:
    """Replace the secret with a new random one; audited (the fingerprints, never the secrets)."""
    clinic = _clinic(session, principal)
    old = _secret_out(clinic.webhook_secret)
    clinic.webhook_secret = secrets.token_hex(32)
    new = _secret_out(clinic.webhook_secret)
    audit.record(
        session,
        principal,
        "clinic.webhook_secret_rotated",
        "clinic",
        principal.clinic_id,
        before={"fingerprint": old.fingerprint},
        after={"fingerprint": new.fingerprint},
    )
    session.commit()
    return new


def audit_page(
    session: Session,
    principal: Principal,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AuditList:
    """The clinic's audit events, newest first, ``limit`` per page."""
    after: tuple[datetime, str] | None = decode_cursor(cursor) if cursor else None
    rows = audit.list_events(
        session, principal.clinic_id, entity_type=entity_type, entity_id=entity_id, limit=limit, after=after
    )
    page = rows[:limit]
    if entity_id and not page and not cursor and not _exists(session, principal, entity_type, entity_id):
        # the same answer for another clinic's id and for one that never existed
        raise NotFound(f"no {entity_type or 'entity'} {entity_id} with audit events in this clinic")
    return AuditList(
        items=[AuditEventPublic.model_validate(e) for e in page],
        next_cursor=encode_cursor(page[-1].at, page[-1].id) if len(rows) > limit else None,
    )


def _exists(session: Session, principal: Principal, entity_type: str | None, entity_id: str) -> bool:
    """Whether ``entity_id`` names a live entity of the caller's clinic (of ``entity_type``, or of any type)."""
    models = {"assessment": AssessmentRow, "patient": Patient, "session": PatientSession, "user": User}
    if entity_type in (None, "clinic") and entity_id == principal.clinic_id:
        return True
    for name, model in models.items():
        if entity_type in (None, name):
            row = session.get(model, entity_id) if valid_id(entity_id) else None
            if row is not None and row.clinic_id == principal.clinic_id:
                return True
    return False
