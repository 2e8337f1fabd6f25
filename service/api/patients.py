"""``/v1/patients``: pseudonymous patients, their sessions, questionnaires and progress.

HTTP only; the work is :mod:`service.patients`. Another clinic's id is simply not found (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service import patients
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, require
from service.schemas import (
    AssessmentLinks,
    OutcomeCreate,
    OutcomePublic,
    PatientCreate,
    PatientDetail,
    PatientLinkCreate,
    PatientLinkPublic,
    PatientList,
    PatientPublic,
    PatientUpdate,
    Progress,
    SessionCreate,
    SessionPublic,
    SessionUpdate,
)

router = APIRouter(prefix="/v1/patients", tags=["patients"])


@router.post(
    "",
    status_code=201,
    response_model=PatientPublic,
    name="create_patient",
    responses={409: {"description": "the code is already used in this clinic"}},
)
def create_patient(
    body: PatientCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, require("patients:create")],
) -> PatientPublic:
    """Register a pseudonymous patient under the clinic's own ``code``."""
    out = patients.create_patient(session, principal, body)
    response.headers["Location"] = f"/v1/patients/{out.id}"
    return out


@router.get("", response_model=PatientList, name="list_patients")
def list_patients(
    session: SessionDep,
    principal: Annotated[Principal, require("patients:list")],
    code: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9._:-]{1,100}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PatientList:
    """Newest first, ``limit`` per page; ``code`` finds one patient by the clinic's code."""
    return patients.list_patients(session, principal, code=code, limit=limit, cursor=cursor)


@router.get("/{patient_id}", response_model=PatientDetail, name="get_patient")
def get_patient(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> PatientDetail:
    """The patient with every session and questionnaire, oldest first."""
    return patients.get_patient(session, principal, patient_id)


@router.patch(
    "/{patient_id}",
    response_model=PatientPublic,
    name="update_patient",
    responses={409: {"description": "the code is already used in this clinic"}},
)
def update_patient(
    patient_id: str,
    body: PatientUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require("patients:update")],
) -> PatientPublic:
    """Change ``code``, ``birth_year`` or ``sex``; a new code is carried over to the assessments sent under the old
    one. Audited (docs/review.md)."""
    return patients.update_patient(session, principal, patient_id, body)


@router.delete("/{patient_id}", status_code=204, name="delete_patient")
def delete_patient(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:delete")]
) -> Response:
    """Delete the patient with its sessions and questionnaires. Assessments are kept but unlinked: they leave their
    sessions and lose the patient's code (delete them with ``DELETE /v1/assessments/{id}``). Audited."""
    patients.delete_patient(session, principal, patient_id)
    return Response(status_code=204)


@router.patch("/{patient_id}/sessions/{session_id}", response_model=SessionPublic, name="update_session")
def update_session(
    patient_id: str,
    session_id: str,
    body: SessionUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require("sessions:write")],
) -> SessionPublic:
    """Change a session's ``date`` or ``notes``; audited (docs/review.md)."""
    return patients.update_session(session, principal, patient_id, session_id, body)


@router.post(
    "/{patient_id}/sessions",
    status_code=201,
    response_model=SessionPublic,
    name="create_session",
    responses={409: {"description": "an assessment belongs to another session or patient"}},
)
def create_session(
    patient_id: str,
    body: SessionCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, require("sessions:write")],
) -> SessionPublic:
    """Open a session (a visit or day) and optionally link assessments to it by id."""
    out = patients.create_session(session, principal, patient_id, body)
    response.headers["Location"] = f"/v1/patients/{out.patient_id}/sessions/{out.id}"
    return out


@router.post(
    "/{patient_id}/sessions/{session_id}/assessments",
    response_model=SessionPublic,
    name="link_assessments",
    responses={409: {"description": "an assessment belongs to another session or patient"}},
)
def link_assessments(
    patient_id: str,
    session_id: str,
    body: AssessmentLinks,
    session: SessionDep,
    principal: Annotated[Principal, require("sessions:write")],
) -> SessionPublic:
    """Add assessments to a session; linking one already in this session changes nothing."""
    return patients.link_assessments(session, principal, patient_id, session_id, body)


@router.post("/{patient_id}/outcomes", status_code=201, response_model=OutcomePublic, name="create_outcome")
def create_outcome(
    patient_id: str,
    body: OutcomeCreate,
    session: SessionDep,
    principal: Annotated[Principal, require("outcomes:create")],
) -> OutcomePublic:
    """Record an Oswestry questionnaire (``instrument: odi``) or a pain rating (``instrument: nrs``)."""
    return patients.create_outcome(session, principal, patient_id, body)


@router.get("/{patient_id}/progress", response_model=Progress, name="get_progress")
def get_progress(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> Progress:
    """Every outcome and protocol metric over time, each change judged against its cited threshold."""
    return patients.get_progress(session, principal, patient_id)


@router.post("/{patient_id}/link", status_code=201, response_model=PatientLinkPublic, name="create_patient_link")
def create_patient_link(
    patient_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require("patients:link")],
    body: PatientLinkCreate | None = None,
) -> PatientLinkPublic:
    """A signed, expiring link to the patient page for this patient: the page records for them, nothing typed.

    The token is HMAC-signed with the clinic's link secret and carries the patient and its expiry; it
    lets the page record and read this patient's assessments only (an ``app`` role pinned to the patient).
    """
    out = patients.create_patient_link(
        session,
        principal,
        patient_id,
        body,
        base_url=settings.public_url or str(request.base_url),
        default_days=settings.patient_link_days,
    )
    response.headers["Cache-Control"] = "no-store"
    return out
