"""Clinician review of findings, exercise suggestions, the audit log and the clinic's settings.

Everything is clinic-scoped: another clinic's assessment is not found (404).
The logic lives in :mod:`service.review` and :mod:`service.audit`; see docs/review.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from service import audit, review
from service.auth import Principal, pinned_to
from service.deps import SessionDep, require
from service.errors import Problem
from service.pagination import decode_cursor, encode_cursor, valid_id
from service.schemas import (
    AuditEventPublic,
    AuditList,
    ClinicPublic,
    ClinicUpdate,
    FindingList,
    ReviewCreate,
    ReviewPublic,
    SuggestionDecisionCreate,
    SuggestionDecisionPublic,
    SuggestionList,
    WebhookSecret,
)
from service.store.models import AssessmentRow, Clinic, Patient, PatientSession, User

router = APIRouter(tags=["review"])

_NOT_DONE = {409: {"description": "the assessment is not done yet"}}


def _assessment(session, principal: Principal, assessment_id: str) -> AssessmentRow:
    row = session.get(AssessmentRow, assessment_id) if valid_id(assessment_id) else None
    if row is None or row.clinic_id != principal.clinic_id or not pinned_to(principal, row.patient_id):
        raise Problem(404, "not-found", f"no assessment {assessment_id}")  # another clinic's, another patient's
    return row


@router.get(
    "/v1/assessments/{assessment_id}/findings", response_model=FindingList, name="list_findings", responses=_NOT_DONE
)
def list_findings(
    assessment_id: str, session: SessionDep, principal: Annotated[Principal, require("findings:read")]
) -> FindingList:
    """The assessment's findings by index, each with its latest review (null when unreviewed)."""
    return FindingList(items=review.list_findings(session, _assessment(session, principal, assessment_id)))


@router.post(
    "/v1/assessments/{assessment_id}/findings/{index}/review",
    status_code=201,
    response_model=ReviewPublic,
    name="review_finding",
    responses=_NOT_DONE,
)
def review_finding(
    assessment_id: str,
    index: int,
    body: ReviewCreate,
    session: SessionDep,
    principal: Annotated[Principal, require("findings:review")],
) -> ReviewPublic:
    """Sign off, correct (with a note and the correction) or reject (with a note) one finding; audited."""
    row = _assessment(session, principal, assessment_id)
    created = review.add_review(session, principal, row, index, body)
    session.commit()
    return review.review_public(created)


@router.get(
    "/v1/assessments/{assessment_id}/suggestions",
    response_model=SuggestionList,
    name="list_suggestions",
    responses=_NOT_DONE,
)
def list_suggestions(
    assessment_id: str, session: SessionDep, principal: Annotated[Principal, require("suggestions:read")]
) -> SuggestionList:
    """Exercises proposed from the findings, each tied to its finding; an app key sees approved ones only."""
    return review.list_suggestions(session, principal, _assessment(session, principal, assessment_id))


@router.post(
    "/v1/assessments/{assessment_id}/suggestions/{n}/decision",
    status_code=201,
    response_model=SuggestionDecisionPublic,
    name="decide_suggestion",
    responses={**_NOT_DONE, 409: {"description": "not done, or the finding was rejected"}},
)
def decide_suggestion(
    assessment_id: str,
    n: int,
    body: SuggestionDecisionCreate,
    session: SessionDep,
    principal: Annotated[Principal, require("suggestions:decide")],
) -> SuggestionDecisionPublic:
    """Approve (optionally changing the dose) or reject (with a note) suggestion ``n``; audited."""
    row = _assessment(session, principal, assessment_id)
    decision = review.add_decision(session, principal, row, n, body)
    session.commit()
    return review.decision_public(decision, n)


@router.get("/v1/audit", response_model=AuditList, name="list_audit_events")
def list_audit_events(
    session: SessionDep,
    principal: Annotated[Principal, require("audit:read")],
    entity_type: Literal["assessment", "clinic", "patient", "session", "user"] | None = None,
    entity_id: Annotated[str | None, Query(max_length=80, pattern=r"^[0-9A-Za-z-]{1,80}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AuditList:
    """The clinic's audit events, newest first: who (the person or key by name, id and role), when, what, before and after."""
    rows = audit.list_events(
        session,
        principal.clinic_id,
        entity_type=entity_type,
        entity_id=entity_id,
        limit=limit,
        after=decode_cursor(cursor) if cursor else None,
    )
    page = rows[:limit]
    if entity_id and not page and not cursor and not _exists(session, principal, entity_type, entity_id):
        # the same answer for another clinic's id and for one that never existed
        raise Problem(404, "not-found", f"no {entity_type or 'entity'} {entity_id} with audit events in this clinic")
    return AuditList(
        items=[
            AuditEventPublic(
                id=e.id,
                at=e.at,
                actor_key_id=e.actor_key_id,
                actor_role=e.actor_role,
                actor_type=e.actor_type,  # type: ignore[arg-type]
                actor_name=e.actor_name,
                action=e.action,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
                before=e.before,
                after=e.after,
            )
            for e in page
        ],
        next_cursor=encode_cursor(page[-1].at, page[-1].id) if len(rows) > limit else None,
    )


def _exists(session, principal: Principal, entity_type: str | None, entity_id: str) -> bool:
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


def _clinic_public(c: Clinic) -> ClinicPublic:
    return ClinicPublic(id=c.id, name=c.name, patient_feedback=c.patient_feedback)  # type: ignore[arg-type]


@router.get("/v1/clinic", response_model=ClinicPublic, name="get_clinic")
def get_clinic(session: SessionDep, principal: Annotated[Principal, require("clinic:read")]) -> ClinicPublic:
    """The caller's clinic and its settings."""
    return _clinic_public(session.get(Clinic, principal.clinic_id))  # type: ignore[arg-type]


@router.patch("/v1/clinic", response_model=ClinicPublic, name="update_clinic")
def update_clinic(
    body: ClinicUpdate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, require("clinic:update")],
) -> ClinicPublic:
    """Change ``patient_feedback`` (``all`` or ``signed_off_only``); audited."""
    clinic = session.get(Clinic, principal.clinic_id)
    before = audit.snapshot(clinic, ("patient_feedback",))
    if before["patient_feedback"] != body.patient_feedback:
        clinic.patient_feedback = body.patient_feedback  # type: ignore[union-attr]
        audit.record(
            session,
            principal,
            "clinic.update",
            "clinic",
            principal.clinic_id,
            before=before,
            after={"patient_feedback": body.patient_feedback},
        )
        session.commit()
    return _clinic_public(clinic)  # type: ignore[arg-type]


def _webhook_secret(secret: str) -> WebhookSecret:
    import hashlib

    return WebhookSecret(
        secret=secret,
        scheme="t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<raw body>')>",
        fingerprint=hashlib.sha256(secret.encode()).hexdigest()[:12],
    )


@router.get("/v1/clinic/webhook-secret", response_model=WebhookSecret, name="get_webhook_secret")
def get_webhook_secret(
    response: Response, session: SessionDep, principal: Annotated[Principal, require("clinic:webhook_secret")]
) -> WebhookSecret:
    """The secret that signs this clinic's webhooks (``Motionscript-Signature``), to verify them; admin keys only."""
    response.headers["Cache-Control"] = "no-store"
    return _webhook_secret(session.get(Clinic, principal.clinic_id).webhook_secret)  # type: ignore[union-attr]


@router.post("/v1/clinic/webhook-secret", response_model=WebhookSecret, name="rotate_webhook_secret")
def rotate_webhook_secret(
    response: Response, session: SessionDep, principal: Annotated[Principal, require("clinic:webhook_secret")]
) -> WebhookSecret:
    """Replace the secret with a new random one, shown once here; every delivery from now on (retries
    included) is signed with it. Audited (the fingerprints, never the secrets)."""
    import secrets

    clinic = session.get(Clinic, principal.clinic_id)
    old = _webhook_secret(clinic.webhook_secret)  # type: ignore[union-attr]
    clinic.webhook_secret = secrets.token_hex(32)  # type: ignore[union-attr]
    new = _webhook_secret(clinic.webhook_secret)  # type: ignore[union-attr]
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
    response.headers["Cache-Control"] = "no-store"
    return new
