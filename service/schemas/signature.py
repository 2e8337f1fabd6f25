"""The motion signature answer of ``GET /v1/patients/{id}/signature`` (:mod:`service.signature` fills it)."""

from __future__ import annotations

from datetime import date as Date
from typing import Literal

from pydantic import BaseModel, Field


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
