"""``/v1/patients/{id}/signature`` (motion signature per session) and ``/v1/patients/{id}/fhir`` (FHIR R4 export).

Features, distances and verdicts live in :mod:`kinematics.signature`; FHIR
resources in :mod:`service.fhir`. This module reads the patient's stored rows
(clinic-scoped: another clinic's patient is a 404) and shapes the answer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date as Date
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from kinematics.signature import (
    FEATURES,
    MIN_SHARED,
    SIGNATURE_VERSION,
    Distance,
    FeatureVerdict,
    Signature,
    SignatureError,
    distance,
    distance_to_reference,
    signature,
    verdicts,
)
from service.auth import Principal
from service.deps import SessionDep, require
from service.errors import Problem
from service.fhir import FhirExportError, SessionAssessment, bundle_json, patient_bundle
from service.progress import patient_or_404
from service.store.models import AssessmentRow, OutcomeRow, PatientSession
from service.store.models import SessionAssessment as LinkRow

router = APIRouter(prefix="/v1/patients", tags=["patients"])


# -- API models ------------------------------------------------------------------------------


class FeatureOut(BaseModel):
    name: str
    unit: str
    description: str
    exercise: str | None
    metric: str | None
    side: Literal["left", "right"] | None
    derived_from: list[str] | None
    noise_scale: float | None = Field(
        description="the change that counts as real, in `unit`; null: reported, not judged"
    )
    noise_kind: Literal["mdc", "instrument_error", "propagated", "convention"] | None
    noise_source: str | None
    reference_low: float | None
    reference_high: float | None
    reference_source: str | None


class FeatureValueOut(BaseModel):
    name: str
    value: float | None = Field(description="mean over the session's assessments; null when not measured")
    unit: str
    n_sources: int = Field(description="assessments it was measured in (derived: the smaller of its two parts)")


class ContributionOut(BaseModel):
    name: str
    difference: float
    z: float = Field(description="difference / noise scale")
    share: float = Field(description="part of the squared distance, 0..1")


class DistanceOut(BaseModel):
    value: float | None = Field(description="RMS of standardised differences; null when not comparable")
    n_used: int
    comparable: bool
    reason: str
    contributions: list[ContributionOut]


class VerdictOut(BaseModel):
    name: str
    baseline: float | None
    current: float | None
    difference: float | None
    verdict: Literal["changed", "within noise", "not comparable", "not judged"]
    reason: str


class SessionSignature(BaseModel):
    session_id: str
    date: Date
    assessment_ids: list[str]
    n_features: int
    features: list[FeatureValueOut]
    is_baseline: bool
    distance_to_baseline: DistanceOut | None = Field(description="null for the baseline and sessions before it")
    distance_to_reference: DistanceOut
    verdicts: list[VerdictOut] = Field(description="per feature against the baseline; empty for the baseline")


class PatientSignature(BaseModel):
    """Supports a clinician's judgement; never a diagnosis."""

    patient_id: str
    version: str
    min_shared_features: int
    baseline_session_id: str | None = Field(description="the first session with any feature")
    feature_definitions: list[FeatureOut]
    sessions: list[SessionSignature]


# -- adapter ---------------------------------------------------------------------------------


def _distance_out(d: Distance) -> DistanceOut:
    return DistanceOut(
        value=d.value,
        n_used=d.n_used,
        comparable=d.comparable,
        reason=d.reason,
        contributions=[ContributionOut(**c.__dict__) for c in d.contributions],
    )


def _verdict_out(v: FeatureVerdict) -> VerdictOut:
    return VerdictOut(**v.__dict__)


def _feature_out(f) -> FeatureOut:
    return FeatureOut(
        name=f.name,
        unit=f.unit,
        description=f.description,
        exercise=f.exercise,
        metric=f.metric,
        side=f.side,
        derived_from=None if f.derived_from is None else list(f.derived_from),
        noise_scale=f.noise_scale,
        noise_kind=f.noise_kind,
        noise_source=f.noise_source,
        reference_low=f.reference_low,
        reference_high=f.reference_high,
        reference_source=f.reference_source,
    )


def _values(sig: Signature) -> list[FeatureValueOut]:
    return [
        FeatureValueOut(
            name=f.name,
            unit=f.unit,
            n_sources=int(sig.n_sources[i]),
            value=None if math.isnan(sig.values[i]) else round(float(sig.values[i]), 3),
        )
        for i, f in enumerate(FEATURES)
    ]


def _session_docs(session, principal: Principal, patient_id: str) -> list[tuple[PatientSession, list[AssessmentRow]]]:
    sessions = list(
        session.scalars(
            select(PatientSession)
            .where(PatientSession.patient_id == patient_id)
            .order_by(PatientSession.session_date, PatientSession.created_at, PatientSession.id)
        )
    )
    rows = session.execute(
        select(AssessmentRow, LinkRow.session_id)
        .join(LinkRow, LinkRow.assessment_id == AssessmentRow.id)
        .join(PatientSession, PatientSession.id == LinkRow.session_id)
        .where(
            PatientSession.patient_id == patient_id,
            AssessmentRow.clinic_id == principal.clinic_id,
            AssessmentRow.status == "done",
        )
        .order_by(AssessmentRow.created_at, AssessmentRow.id)
    ).all()
    by_session: dict[str, list[AssessmentRow]] = defaultdict(list)
    for a, sid in rows:
        by_session[sid].append(a)
    return [(s, by_session.get(s.id, [])) for s in sessions]


def _doc(a: AssessmentRow) -> dict:
    result = dict(a.result or {})
    result["exercise"] = a.exercise or result.get("exercise")
    return result


def patient_signature(session, principal: Principal, patient_id: str) -> PatientSignature:
    p = patient_or_404(session, principal, patient_id)
    out: list[SessionSignature] = []
    baseline: Signature | None = None
    baseline_id = None
    try:
        for s, assessments in _session_docs(session, principal, p.id):
            sig = signature(_doc(a) for a in assessments)
            is_baseline = baseline is None and sig.n_features > 0
            if is_baseline:
                baseline, baseline_id = sig, s.id
            compare = baseline is not None and not is_baseline
            out.append(
                SessionSignature(
                    session_id=s.id,
                    date=s.session_date,
                    assessment_ids=[a.id for a in assessments],
                    n_features=sig.n_features,
                    features=_values(sig),
                    is_baseline=is_baseline,
                    distance_to_baseline=_distance_out(distance(baseline, sig)) if compare else None,  # type: ignore[arg-type]
                    distance_to_reference=_distance_out(distance_to_reference(sig)),
                    verdicts=[_verdict_out(v) for v in verdicts(baseline, sig)] if compare else [],  # type: ignore[arg-type]
                )
            )
    except SignatureError as exc:
        raise Problem(500, "signature", f"a stored assessment cannot enter the signature: {exc}") from None
    return PatientSignature(
        patient_id=p.id,
        version=SIGNATURE_VERSION,
        min_shared_features=MIN_SHARED,
        baseline_session_id=baseline_id,
        feature_definitions=[_feature_out(f) for f in FEATURES],
        sessions=out,
    )


def patient_fhir(session, principal: Principal, patient_id: str) -> str:
    p = patient_or_404(session, principal, patient_id)
    outcomes = list(
        session.scalars(
            select(OutcomeRow).where(OutcomeRow.patient_id == p.id).order_by(OutcomeRow.recorded_at, OutcomeRow.id)
        )
    )
    assessments = [
        SessionAssessment(id=a.id, created_at=a.created_at, result=_doc(a), session_date=s.session_date)
        for s, rows in _session_docs(session, principal, p.id)
        for a in rows
    ]
    assessments.sort(key=lambda a: (a.created_at, a.id))
    try:
        return bundle_json(patient_bundle(p, outcomes, assessments))
    except FhirExportError as exc:
        raise Problem(500, "fhir-export", f"the patient's data cannot be exported as FHIR: {exc}") from None


# -- routes ----------------------------------------------------------------------------------


@router.get("/{patient_id}/signature", response_model=PatientSignature, name="get_signature")
def get_signature(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> PatientSignature:
    """Per session (date order): the motion signature, its distance to the first session and to typical values."""
    return patient_signature(session, principal, patient_id)


@router.get(
    "/{patient_id}/fhir",
    name="get_fhir_bundle",
    response_class=Response,
    responses={200: {"content": {"application/fhir+json": {}}, "description": "a FHIR R4 Bundle (type collection)"}},
)
def get_fhir(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> Response:
    """The patient as a FHIR R4 Bundle: Patient, ODI QuestionnaireResponses and scores, NRS and motion Observations."""
    return Response(patient_fhir(session, principal, patient_id), media_type="application/fhir+json; fhirVersion=4.0")


def fhir_for_code(session, *, clinic: str, patient_code: str) -> str:
    """The FHIR bundle of a patient named by clinic name and code (the CLI's ``motionscript fhir``)."""
    from kinematics.errors import InputError
    from service.store.models import Clinic, Patient

    clinic_id = session.scalar(select(Clinic.id).where(Clinic.name == clinic))
    if clinic_id is None:
        raise InputError(f"--clinic: no clinic named {clinic!r}")
    pid = session.scalar(select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.code == patient_code))
    if pid is None:
        raise InputError(f"--patient: no patient with code {patient_code!r} in clinic {clinic!r}")
    try:
        return patient_fhir(session, Principal(clinic_id=clinic_id, key_id="cli", role="admin"), pid)
    except Problem as exc:
        raise InputError(exc.detail) from None
