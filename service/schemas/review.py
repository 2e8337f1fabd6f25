"""Clinician review of findings and exercise suggestions (docs/review.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from kinematics.exercises import OVERRIDE_LIMITS as _LIMITS
from service.schemas._base import UtcDatetime, _RowPublic, _Text

Severity = Literal["normal", "attention", "inconclusive", "info"]


class FindingCorrection(BaseModel):
    """What the clinician changes in a finding; at least one of the two."""

    model_config = ConfigDict(extra="forbid")
    severity: Severity | None = None
    message: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")] | None = None


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["sign_off", "correct", "reject"]
    note: _Text | None = Field(None, description="required for correct and reject; no names or identifiers")
    correction: FindingCorrection | None = Field(None, description="required for correct, refused otherwise")


class ReviewPublic(_RowPublic):
    id: str
    assessment_id: str
    finding_index: int
    finding_code: str
    status: Literal["signed_off", "corrected", "rejected"]
    note: str | None
    correction: dict[str, str] | None
    reviewer_key_id: str = Field(description="the API key's id, or the person's user id")
    reviewer_name: str | None = Field(
        description="who reviewed: 'Name <email>' or \"API key 'label'\"; null before 0.2"
    )
    reviewed_at: UtcDatetime


class FindingItem(BaseModel):
    """A stored finding (as the analysis wrote it) and its latest review."""

    index: int = Field(description="position in the assessment's findings list; identifies the finding")
    code: str
    severity: Severity
    message: str
    evidence: dict[str, object]
    threshold: dict[str, object] | None
    source: str | None
    review: ReviewPublic | None


class FindingList(BaseModel):
    items: list[FindingItem]


class ExerciseOverrides(BaseModel):
    """A clinician's changes to a suggested exercise's dose; omitted fields keep the catalogue's value."""

    model_config = ConfigDict(extra="forbid")
    sets: Annotated[StrictInt, Field(ge=_LIMITS["sets"][0], le=_LIMITS["sets"][1])] | None = None
    reps: Annotated[StrictInt, Field(ge=_LIMITS["reps"][0], le=_LIMITS["reps"][1])] | None = None
    hold_s: Annotated[StrictInt, Field(ge=_LIMITS["hold_s"][0], le=_LIMITS["hold_s"][1])] | None = None
    tempo: (
        Annotated[
            str,
            Field(
                pattern=r"^\d{1,3}-\d{1,3}-\d{1,3}$",
                max_length=11,
                description="'A-B-C' s into, held at, back from the working position",
            ),
        ]
        | None
    ) = None
    rest_s: Annotated[StrictInt, Field(ge=_LIMITS["rest_s"][0], le=_LIMITS["rest_s"][1])] | None = None


class SuggestionDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["approve", "reject"]
    note: _Text | None = Field(None, description="required for reject")
    overrides: ExerciseOverrides | None = Field(None, description="approve only: the dose as prescribed")


class SuggestionDecisionPublic(BaseModel):
    id: str
    assessment_id: str
    n: int
    finding_index: int
    exercise_key: str
    status: Literal["approved", "rejected"]
    note: str | None
    overrides: dict[str, object] | None
    decided_by_key_id: str
    decided_by_name: str | None = Field(description="who decided, as reviewer_name")
    decided_at: UtcDatetime


class ExercisePublic(BaseModel):
    key: str
    name: str
    sets: int
    reps: int
    hold_s: float | None = Field(description="s held at the working position per repetition")
    tempo: str = Field(description="'A-B-C': s moving into, held at, returning from the working position")
    rest_s: float = Field(description="s between sets")
    cues: list[str]
    progression: str
    stop_rule: str


class SuggestionPublic(BaseModel):
    """A proposed exercise, never applied without a clinician's approval."""

    n: int = Field(description="position in this list; identifies the suggestion for a decision")
    finding_index: int
    finding_code: str
    side: Literal["left", "right"] | None = Field(description="the side the exercise works; null for both")
    status: Literal["proposed", "approved", "rejected"]
    exercise: ExercisePublic = Field(description="with the approved overrides applied")
    proposed: dict[str, object] = Field(description="the catalogue's dose before any override")
    rationale: str
    source: str
    decision: SuggestionDecisionPublic | None
    finding_review: Literal["signed_off", "corrected", "rejected"] | None


class SuggestionNoteOut(BaseModel):
    finding_index: int
    finding_code: str
    reason: str


class SuggestionList(BaseModel):
    items: list[SuggestionPublic]
    notes: list[SuggestionNoteOut] = Field(description="findings that produced no suggestion, and why")
    filtered: bool = Field(description="true for an app key: only approved suggestions are listed")
