"""``/v1/patients``: pseudonymous patients, their sessions, questionnaires and progress.

Every row carries its clinic; another clinic's id is simply not found (404).
Scoring and change judgement live in :mod:`kinematics.outcomes`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from kinematics.outcomes import (
    NRS_RECOVERED_SOURCE,
    ODI_SOURCE,
    OutcomeError,
    score_nrs,
    score_odi,
)
from service import audit
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, require
from service.errors import Problem
from service.pagination import decode_cursor, encode_cursor
from service.progress import get_by_id, motion_series, outcome_series, patient_or_404, session_or_404
from service.schemas import (
    AssessmentLinks,
    OdiCreate,
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
from service.store.db import now
from service.store.models import AssessmentRow, Clinic, OutcomeRow, Patient, PatientSession, SessionAssessment

router = APIRouter(prefix="/v1/patients", tags=["patients"])

_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def _public(p: Patient) -> PatientPublic:
    return PatientPublic(id=p.id, code=p.code, birth_year=p.birth_year, sex=p.sex, created_at=p.created_at)  # type: ignore[arg-type]


def _session_public(session, s: PatientSession) -> SessionPublic:
    ids = list(
        session.scalars(
            select(SessionAssessment.assessment_id)
            .where(SessionAssessment.session_id == s.id)
            .order_by(SessionAssessment.assessment_id)
        )
    )
    return SessionPublic(
        id=s.id,
        patient_id=s.patient_id,
        date=s.session_date,
        notes=s.notes,
        assessment_ids=ids,
        created_at=s.created_at,
    )


def _outcome_public(o: OutcomeRow) -> OutcomePublic:
    extra: dict = {}
    if o.instrument == "odi":
        scored = score_odi(o.answers)
        extra = {"unit": "%", "band": scored.band, "missing_sections": list(scored.missing)}
    else:
        extra = {"unit": "points", "recovered": o.score == 0}
    return OutcomePublic(
        id=o.id,
        patient_id=o.patient_id,
        session_id=o.session_id,
        instrument=o.instrument,  # type: ignore[arg-type]
        site=o.site,
        answers=o.answers,
        score=o.score,
        recorded_at=o.recorded_at,  # type: ignore[arg-type]
        created_at=o.created_at,
        **extra,
    )


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
    conflict = Problem(409, "conflict", f"code: a patient with code {body.code!r} already exists in this clinic")
    if session.scalar(select(Patient.id).where(Patient.clinic_id == principal.clinic_id, Patient.code == body.code)):
        raise conflict
    row = Patient(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        code=body.code,
        birth_year=body.birth_year,
        sex=body.sex,
        created_at=now(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same code raced us
        session.rollback()
        raise conflict from None
    response.headers["Location"] = f"/v1/patients/{row.id}"
    return _public(row)


@router.get("", response_model=PatientList, name="list_patients")
def list_patients(
    session: SessionDep,
    principal: Annotated[Principal, require("patients:list")],
    code: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9._:-]{1,100}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PatientList:
    """Newest first, ``limit`` per page; ``code`` finds one patient by the clinic's code."""
    q = select(Patient).where(Patient.clinic_id == principal.clinic_id)
    if code:
        q = q.where(Patient.code == code)
    if cursor:
        created, rid = decode_cursor(cursor)
        q = q.where(or_(Patient.created_at < created, and_(Patient.created_at == created, Patient.id < rid)))
    rows = list(session.scalars(q.order_by(Patient.created_at.desc(), Patient.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return PatientList(
        items=[_public(r) for r in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None,
    )


@router.get("/{patient_id}", response_model=PatientDetail, name="get_patient")
def get_patient(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> PatientDetail:
    """The patient with every session and questionnaire, oldest first."""
    p = patient_or_404(session, principal, patient_id)
    sessions = session.scalars(
        select(PatientSession)
        .where(PatientSession.patient_id == p.id)
        .order_by(PatientSession.session_date, PatientSession.created_at)
    )
    outcomes = session.scalars(
        select(OutcomeRow).where(OutcomeRow.patient_id == p.id).order_by(OutcomeRow.recorded_at, OutcomeRow.id)
    )
    return PatientDetail(
        **_public(p).model_dump(),
        sessions=[_session_public(session, s) for s in sessions],
        outcomes=[_outcome_public(o) for o in outcomes],
    )


_PATIENT_FIELDS = ("code", "birth_year", "sex")


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
    from sqlalchemy import update

    from service import audit

    p = patient_or_404(session, principal, patient_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if "code" in changes and changes["code"] is None:
        raise Problem(422, "validation", "code: cannot be cleared; send a new pseudonymous code or leave it out")
    conflict = Problem(
        409, "conflict", f"code: a patient with code {changes.get('code')!r} already exists in this clinic"
    )
    if changes.get("code") not in (None, p.code) and session.scalar(
        select(Patient.id).where(Patient.clinic_id == principal.clinic_id, Patient.code == changes["code"])
    ):
        raise conflict
    before = audit.snapshot(p, _PATIENT_FIELDS)
    for k, v in changes.items():
        setattr(p, k, v)
    after = audit.snapshot(p, _PATIENT_FIELDS)
    if after != before:
        if after["code"] != before["code"]:
            moved = session.execute(
                update(AssessmentRow)
                .where(AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.patient_id == before["code"])
                .values(patient_id=after["code"])
            ).rowcount
            after = {**after, "assessments_recoded": moved}
        audit.record(session, principal, "patient.update", "patient", p.id, before=before, after=after)
        try:
            session.commit()
        except IntegrityError:  # the same code raced us
            session.rollback()
            raise conflict from None
    return _public(p)


@router.delete("/{patient_id}", status_code=204, name="delete_patient")
def delete_patient(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:delete")]
) -> Response:
    """Delete the patient with its sessions and questionnaires. Assessments are kept but unlinked: they leave their
    sessions and lose the patient's code (delete them with ``DELETE /v1/assessments/{id}``). Audited."""
    from sqlalchemy import func, update

    from service import audit

    p = patient_or_404(session, principal, patient_id)
    session_ids = list(session.scalars(select(PatientSession.id).where(PatientSession.patient_id == p.id)))
    linked = (
        list(
            session.scalars(
                select(SessionAssessment.assessment_id).where(SessionAssessment.session_id.in_(session_ids))
            )
        )
        if session_ids
        else []
    )
    outcomes = session.scalar(select(func.count()).select_from(OutcomeRow).where(OutcomeRow.patient_id == p.id))
    unlinked = session.execute(
        update(AssessmentRow)
        .where(AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.patient_id == p.code)
        .values(patient_id=None)
    ).rowcount
    audit.record(
        session,
        principal,
        "patient.delete",
        "patient",
        p.id,
        before={
            **audit.snapshot(p, _PATIENT_FIELDS),
            "sessions": len(session_ids),
            "outcomes": outcomes,
            "linked_assessment_ids": sorted(linked),
        },
        after={"deleted": True, "assessments_unlinked": sorted(linked), "assessments_code_cleared": unlinked},
    )
    # The database cascades sessions, their assessment links and the outcomes (ON DELETE CASCADE).
    session.delete(p)
    session.commit()
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
    from service import audit

    p = patient_or_404(session, principal, patient_id)
    target = session_or_404(session, p, session_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if "date" in changes and changes["date"] is None:
        raise Problem(422, "validation", "date: cannot be cleared; send a date (YYYY-MM-DD) or leave it out")
    before = audit.snapshot(target, ("session_date", "notes"))
    if "date" in changes:
        target.session_date = changes["date"]
    if "notes" in changes:
        target.notes = changes["notes"]
    after = audit.snapshot(target, ("session_date", "notes"))
    if after != before:
        audit.record(
            session,
            principal,
            "session.update",
            "session",
            target.id,
            before={"patient_id": p.id, **before},
            after={"patient_id": p.id, **after},
        )
        session.commit()
    return _session_public(session, target)


def _link(session, principal: Principal, patient: Patient, target: PatientSession, assessment_ids: list[str]) -> None:
    for aid in dict.fromkeys(assessment_ids):
        row = get_by_id(session, AssessmentRow, aid)
        if row is None or row.clinic_id != principal.clinic_id:
            raise Problem(404, "not-found", f"assessment_ids: no assessment {aid}")
        if row.patient_id is not None and row.patient_id != patient.code:
            raise Problem(
                409,
                "conflict",
                f"assessment_ids: assessment {aid} was submitted for patient_id "
                f"{row.patient_id!r}, not this patient's code {patient.code!r}",
            )
        link = session.get(SessionAssessment, aid)
        if link is not None and link.session_id != target.id:
            raise Problem(
                409, "conflict", f"assessment_ids: assessment {aid} already belongs to session {link.session_id}"
            )
        if link is None:
            session.add(SessionAssessment(assessment_id=aid, session_id=target.id, clinic_id=principal.clinic_id))


def _commit(session) -> None:
    try:
        session.commit()
    except IntegrityError:  # a concurrent request linked the same assessment
        session.rollback()
        raise Problem(
            409, "conflict", "assessment_ids: an assessment was linked to another session meanwhile"
        ) from None


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
    p = patient_or_404(session, principal, patient_id)
    row = PatientSession(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        patient_id=p.id,
        session_date=body.date or now().date(),
        notes=body.notes,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    _link(session, principal, p, row, body.assessment_ids)
    _commit(session)
    response.headers["Location"] = f"/v1/patients/{p.id}/sessions/{row.id}"
    return _session_public(session, row)


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
    p = patient_or_404(session, principal, patient_id)
    target = session_or_404(session, p, session_id)
    _link(session, principal, p, target, body.assessment_ids)
    _commit(session)
    return _session_public(session, target)


def _recorded_at(value: datetime | None) -> datetime:
    """When the questionnaire was answered: UTC (naive times are taken as UTC), not before 1900 nor in the future."""
    if value is None:
        return now()
    try:
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        at = _EARLIEST - timedelta(days=1)
    if not (_EARLIEST <= at <= now() + timedelta(days=1)):
        raise Problem(
            422,
            "validation",
            f"recorded_at: {value.isoformat()} is not a plausible time; "
            "expected a time after 1900-01-01 and not in the future",
        )
    return at


@router.post("/{patient_id}/outcomes", status_code=201, response_model=OutcomePublic, name="create_outcome")
def create_outcome(
    patient_id: str,
    body: OutcomeCreate,
    session: SessionDep,
    principal: Annotated[Principal, require("outcomes:create")],
) -> OutcomePublic:
    """Record an Oswestry questionnaire (``instrument: odi``) or a pain rating (``instrument: nrs``)."""
    p = patient_or_404(session, principal, patient_id)
    if body.session_id is not None:
        session_or_404(session, p, body.session_id)
    try:
        if isinstance(body, OdiCreate):
            answers = body.answers.model_dump()
            score, site = score_odi(answers).percent, None
        else:
            answers = {"value": body.value}
            score, site = float(score_nrs(body.value)), body.site
    except OutcomeError as exc:
        raise Problem(422, "validation", str(exc)) from None
    row = OutcomeRow(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        patient_id=p.id,
        session_id=body.session_id,
        instrument=body.instrument,
        site=site,
        answers=answers,
        score=score,
        recorded_at=_recorded_at(body.recorded_at),
        created_at=now(),
    )
    session.add(row)
    session.commit()
    return _outcome_public(row)


# -- progress ------------------------------------------------------------------------------


@router.get("/{patient_id}/progress", response_model=Progress, name="get_progress")
def get_progress(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> Progress:
    """Every outcome and protocol metric over time, each change judged against its cited threshold."""
    p = patient_or_404(session, principal, patient_id)
    outcomes = list(
        session.scalars(
            select(OutcomeRow).where(OutcomeRow.patient_id == p.id).order_by(OutcomeRow.recorded_at, OutcomeRow.id)
        )
    )
    assessments = list(
        session.execute(
            select(AssessmentRow, SessionAssessment.session_id)
            .join(SessionAssessment, SessionAssessment.assessment_id == AssessmentRow.id)
            .join(PatientSession, PatientSession.id == SessionAssessment.session_id)
            .where(
                PatientSession.patient_id == p.id,
                AssessmentRow.clinic_id == principal.clinic_id,
                AssessmentRow.status == "done",
            )
            .order_by(AssessmentRow.created_at, AssessmentRow.id)
        ).all()
    )
    series = outcome_series(outcomes) + motion_series(assessments)
    sources = [s.threshold.source for s in series if s.threshold is not None]
    if any(s.measure == "odi" for s in series):
        sources.append(ODI_SOURCE + " (scoring and bands)")
    if any(s.measure.startswith("nrs") for s in series):
        sources.append(NRS_RECOVERED_SOURCE)
    return Progress(patient_id=p.id, series=series, sources=list(dict.fromkeys(sources)))


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
    from kinematics.protocols import PROTOCOL_NAMES
    from service.accounts import patient_link_token

    p = patient_or_404(session, principal, patient_id)
    body = body or PatientLinkCreate()
    if body.exercise is not None and body.exercise not in PROTOCOL_NAMES:
        raise Problem(422, "validation", f"exercise: {body.exercise!r} is not one of {', '.join(PROTOCOL_NAMES)}")
    days = body.expires_in_days if body.expires_in_days is not None else settings.patient_link_days
    expires_at = now() + timedelta(days=days)
    clinic = session.get(Clinic, principal.clinic_id)
    assert clinic is not None
    token = patient_link_token(session, clinic, p, expires_at)
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    fragment = f"link={token}" + (f"&exercise={body.exercise}" if body.exercise else "")
    audit.record(
        session,
        principal,
        "patient.link",
        "patient",
        p.id,
        after={"expires_at": expires_at, "exercise": body.exercise},
    )
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return PatientLinkPublic(url=f"{base}/app/patient#{fragment}", token=token, patient_id=p.id, expires_at=expires_at)
