"""Pseudonymous patients, their sessions, questionnaires, progress and patient links (clinic-scoped).

Every row carries its clinic; another clinic's id is :class:`service.domain_errors.NotFound`.
Scoring and change judgement live in :mod:`kinematics.outcomes`; the route is ``service/api/patients.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinematics.outcomes import (
    NRS_RECOVERED_SOURCE,
    ODI_SOURCE,
    OutcomeError,
    score_nrs,
    score_odi,
)
from service import audit
from service.auth import Principal
from service.domain_errors import Conflict, Invalid, NotFound
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

_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def public(p: Patient) -> PatientPublic:
    return PatientPublic(id=p.id, code=p.code, birth_year=p.birth_year, sex=p.sex, created_at=p.created_at)  # type: ignore[arg-type]


def session_public(session, s: PatientSession) -> SessionPublic:
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


def outcome_public(o: OutcomeRow) -> OutcomePublic:
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


def create_patient(session: Session, principal: Principal, body: PatientCreate) -> PatientPublic:
    """Register a pseudonymous patient under the clinic's own ``code``."""
    conflict = Conflict("conflict", f"code: a patient with code {body.code!r} already exists in this clinic")
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
    return public(row)


def list_patients(
    session: Session, principal: Principal, *, code: str | None = None, limit: int = 20, cursor: str | None = None
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
        items=[public(r) for r in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None,
    )


def get_patient(session: Session, principal: Principal, patient_id: str) -> PatientDetail:
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
        **public(p).model_dump(),
        sessions=[session_public(session, s) for s in sessions],
        outcomes=[outcome_public(o) for o in outcomes],
    )


_PATIENT_FIELDS = ("code", "birth_year", "sex")


def update_patient(session: Session, principal: Principal, patient_id: str, body: PatientUpdate) -> PatientPublic:
    """Change ``code``, ``birth_year`` or ``sex``; a new code is carried over to the assessments sent under the old
    one. Audited (docs/review.md)."""
    from sqlalchemy import update

    from service import audit

    p = patient_or_404(session, principal, patient_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if "code" in changes and changes["code"] is None:
        raise Invalid("code: cannot be cleared; send a new pseudonymous code or leave it out")
    conflict = Conflict("conflict", f"code: a patient with code {changes.get('code')!r} already exists in this clinic")
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
    return public(p)


def delete_patient(session: Session, principal: Principal, patient_id: str) -> None:
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


def update_session(
    session: Session, principal: Principal, patient_id: str, session_id: str, body: SessionUpdate
) -> SessionPublic:
    """Change a session's ``date`` or ``notes``; audited (docs/review.md)."""
    from service import audit

    p = patient_or_404(session, principal, patient_id)
    target = session_or_404(session, p, session_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if "date" in changes and changes["date"] is None:
        raise Invalid("date: cannot be cleared; send a date (YYYY-MM-DD) or leave it out")
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
    return session_public(session, target)


def _link(session, principal: Principal, patient: Patient, target: PatientSession, assessment_ids: list[str]) -> None:
    for aid in dict.fromkeys(assessment_ids):
        row = get_by_id(session, AssessmentRow, aid)
        if row is None or row.clinic_id != principal.clinic_id:
            raise NotFound(f"assessment_ids: no assessment {aid}")
        if row.patient_id is not None and row.patient_id != patient.code:
            raise Conflict(
                "conflict",
                f"assessment_ids: assessment {aid} was submitted for patient_id "
                f"{row.patient_id!r}, not this patient's code {patient.code!r}",
            )
        link = session.get(SessionAssessment, aid)
        if link is not None and link.session_id != target.id:
            raise Conflict("conflict", f"assessment_ids: assessment {aid} already belongs to session {link.session_id}")
        if link is None:
            session.add(SessionAssessment(assessment_id=aid, session_id=target.id, clinic_id=principal.clinic_id))


def _commit(session) -> None:
    try:
        session.commit()
    except IntegrityError:  # a concurrent request linked the same assessment
        session.rollback()
        raise Conflict("conflict", "assessment_ids: an assessment was linked to another session meanwhile") from None


def create_session(session: Session, principal: Principal, patient_id: str, body: SessionCreate) -> SessionPublic:
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
    return session_public(session, row)


def link_assessments(
    session: Session, principal: Principal, patient_id: str, session_id: str, body: AssessmentLinks
) -> SessionPublic:
    """Add assessments to a session; linking one already in this session changes nothing."""
    p = patient_or_404(session, principal, patient_id)
    target = session_or_404(session, p, session_id)
    _link(session, principal, p, target, body.assessment_ids)
    _commit(session)
    return session_public(session, target)


def _recorded_at(value: datetime | None) -> datetime:
    """When the questionnaire was answered: UTC (naive times are taken as UTC), not before 1900 nor in the future."""
    if value is None:
        return now()
    try:
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        at = _EARLIEST - timedelta(days=1)
    if not (_EARLIEST <= at <= now() + timedelta(days=1)):
        raise Invalid(
            f"recorded_at: {value.isoformat()} is not a plausible time; "
            "expected a time after 1900-01-01 and not in the future",
        )
    return at


def create_outcome(session: Session, principal: Principal, patient_id: str, body: OutcomeCreate) -> OutcomePublic:
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
        raise Invalid(str(exc)) from None
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
    return outcome_public(row)


# -- progress ------------------------------------------------------------------------------


def get_progress(session: Session, principal: Principal, patient_id: str) -> Progress:
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


def create_patient_link(
    session: Session,
    principal: Principal,
    patient_id: str,
    body: PatientLinkCreate | None,
    *,
    base_url: str,
    default_days: float,
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
        raise Invalid(f"exercise: {body.exercise!r} is not one of {', '.join(PROTOCOL_NAMES)}")
    days = body.expires_in_days if body.expires_in_days is not None else default_days
    expires_at = now() + timedelta(days=days)
    clinic = session.get(Clinic, principal.clinic_id)
    assert clinic is not None
    token = patient_link_token(session, clinic, p, expires_at)
    base = base_url.rstrip("/")
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
    return PatientLinkPublic(url=f"{base}/app/patient#{fragment}", token=token, patient_id=p.id, expires_at=expires_at)
