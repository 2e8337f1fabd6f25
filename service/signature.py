"""A patient's motion signature per session, read from the stored assessments (clinic-scoped).

Features, distances and verdicts live in :mod:`kinematics.signature`; this module reads the
patient's rows (another clinic's patient is :class:`service.domain_errors.NotFound`) and shapes
the answer ``GET /v1/patients/{id}/signature`` sends. The FHIR export reads the same rows
(:func:`session_docs`, :func:`service.fhir.patient_fhir`).
"""

from __future__ import annotations

import math
from collections import defaultdict

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
from service.domain_errors import StoredDataError
from service.progress import patient_or_404
from service.schemas.signature import (
    ContributionOut,
    DistanceOut,
    FeatureOut,
    FeatureValueOut,
    PatientSignature,
    SessionSignature,
    VerdictOut,
)
from service.store.models import AssessmentRow, PatientSession
from service.store.models import SessionAssessment as LinkRow

__all__ = ["PatientSignature", "assessment_doc", "patient_signature", "session_docs"]


# -- from kinematics.signature and the stored rows ---------------------------------------------------------------------------------


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


def session_docs(session, principal: Principal, patient_id: str) -> list[tuple[PatientSession, list[AssessmentRow]]]:
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


def assessment_doc(a: AssessmentRow) -> dict:
    """The stored assessment document with the exercise the row was submitted with."""
    result = dict(a.result or {})
    result["exercise"] = a.exercise or result.get("exercise")
    return result


def patient_signature(session, principal: Principal, patient_id: str) -> PatientSignature:
    p = patient_or_404(session, principal, patient_id)
    out: list[SessionSignature] = []
    baseline: Signature | None = None
    baseline_id = None
    try:
        for s, assessments in session_docs(session, principal, p.id):
            sig = signature(assessment_doc(a) for a in assessments)
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
        raise StoredDataError("signature", f"a stored assessment cannot enter the signature: {exc}") from None
    return PatientSignature(
        patient_id=p.id,
        version=SIGNATURE_VERSION,
        min_shared_features=MIN_SHARED,
        baseline_session_id=baseline_id,
        feature_definitions=[_feature_out(f) for f in FEATURES],
        sessions=out,
    )
