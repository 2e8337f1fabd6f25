"""Clinician review of findings, exercise suggestions, the audit log and the clinic's settings.

Everything is clinic-scoped: another clinic's assessment is not found (404).
HTTP only: the logic lives in :mod:`service.review` and :mod:`service.clinic`; see docs/review.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from service import clinic, review
from service.assessments import get_row
from service.auth import Principal
from service.deps import SessionDep, require
from service.schemas import (
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

router = APIRouter(tags=["review"])

_NOT_DONE = {409: {"description": "the assessment is not done yet"}}


@router.get(
    "/v1/assessments/{assessment_id}/findings", response_model=FindingList, name="list_findings", responses=_NOT_DONE
)
def list_findings(
    assessment_id: str, session: SessionDep, principal: Annotated[Principal, require("findings:read")]
) -> FindingList:
    """The assessment's findings by index, each with its latest review (null when unreviewed)."""
    return FindingList(items=review.list_findings(session, get_row(session, principal, assessment_id)))


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
    row = get_row(session, principal, assessment_id)
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
    return review.list_suggestions(session, principal, get_row(session, principal, assessment_id))


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
    row = get_row(session, principal, assessment_id)
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
    return clinic.audit_page(
        session, principal, entity_type=entity_type, entity_id=entity_id, limit=limit, cursor=cursor
    )


@router.get("/v1/clinic", response_model=ClinicPublic, name="get_clinic")
def get_clinic(session: SessionDep, principal: Annotated[Principal, require("clinic:read")]) -> ClinicPublic:
    """The caller's clinic and its settings."""
    return clinic.get_clinic(session, principal)


@router.patch("/v1/clinic", response_model=ClinicPublic, name="update_clinic")
def update_clinic(
    body: ClinicUpdate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, require("clinic:update")],
) -> ClinicPublic:
    """Change ``patient_feedback`` (``all`` or ``signed_off_only``); audited."""
    return clinic.update_clinic(session, principal, body.patient_feedback)


@router.get("/v1/clinic/webhook-secret", response_model=WebhookSecret, name="get_webhook_secret")
def get_webhook_secret(
    response: Response, session: SessionDep, principal: Annotated[Principal, require("clinic:webhook_secret")]
) -> WebhookSecret:
    """The secret that signs this clinic's webhooks (``Motionscript-Signature``), to verify them; admin keys only."""
    response.headers["Cache-Control"] = "no-store"
    return clinic.webhook_secret(session, principal)


@router.post("/v1/clinic/webhook-secret", response_model=WebhookSecret, name="rotate_webhook_secret")
def rotate_webhook_secret(
    response: Response, session: SessionDep, principal: Annotated[Principal, require("clinic:webhook_secret")]
) -> WebhookSecret:
    """Replace the secret with a new random one, shown once here; every delivery from now on (retries
    included) is signed with it. Audited (the fingerprints, never the secrets)."""
    new = clinic.rotate_webhook_secret(session, principal)
    response.headers["Cache-Control"] = "no-store"
    return new
