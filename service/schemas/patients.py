"""Patients, sessions, patient-reported outcomes and progress (docs/outcomes.md)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, create_model

from kinematics.outcomes import ODI_SECTIONS
from service.schemas._base import UtcDatetime

Sex = Literal["female", "male", "other"]
PatientCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]{1,100}$",
        description="the clinic's pseudonymous code; never a name",
    ),
]


class PatientCreate(BaseModel):
    """A pseudonymous patient. Nothing else personal is stored."""

    model_config = ConfigDict(extra="forbid")
    code: PatientCode
    birth_year: Annotated[StrictInt, Field(ge=1900, le=2100)] | None = None
    sex: Sex | None = None


class SessionPublic(BaseModel):
    id: str
    patient_id: str
    date: Date
    notes: str | None
    assessment_ids: list[str]
    created_at: UtcDatetime


class PatientPublic(BaseModel):
    id: str
    code: str
    birth_year: int | None
    sex: Sex | None
    created_at: UtcDatetime


class PatientList(BaseModel):
    items: list[PatientPublic]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: Date | None = Field(None, description="the day of the visit; today (UTC) when omitted")
    notes: str | None = Field(
        None, max_length=4000, pattern=r"^[^\x00]*$", description="the clinician's note; no names or identifiers"
    )
    assessment_ids: list[Annotated[str, Field(max_length=36)]] = Field(default_factory=list, max_length=100)


class AssessmentLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assessment_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=100)


_Section = Annotated[StrictInt, Field(ge=0, le=5)] | None
OdiAnswers = create_model(
    "OdiAnswers",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Each Oswestry section scored 0-5, or null when unanswered. Every section must be sent.",
    **{name: (_Section, ...) for name in ODI_SECTIONS},
)


class _OutcomeBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str | None = Field(None, max_length=36, description="the session this was recorded in")
    recorded_at: datetime | None = Field(None, description="when the patient answered; now when omitted")


class OdiCreate(_OutcomeBase):
    instrument: Literal["odi"]
    answers: OdiAnswers  # type: ignore[valid-type]


class NrsCreate(_OutcomeBase):
    instrument: Literal["nrs"]
    value: Annotated[StrictInt, Field(ge=0, le=10, description="0 no pain - 10 worst imaginable")]
    site: Literal["leg", "back"] | None = Field(None, description="where the pain is rated; sciatica: leg or back")


OutcomeCreate = Annotated[OdiCreate | NrsCreate, Field(discriminator="instrument")]


class OutcomePublic(BaseModel):
    id: str
    patient_id: str
    session_id: str | None
    instrument: Literal["odi", "nrs"]
    site: Literal["leg", "back"] | None
    answers: dict[str, int | None]
    score: float = Field(description="ODI: % (0-100); NRS: 0-10")
    unit: str
    band: str | None = Field(None, description="ODI band (Fairbank & Pynsent 2000)")
    missing_sections: list[str] = Field(default_factory=list)
    recovered: bool | None = Field(None, description="NRS 0 (Kamper 2010); null for the ODI")
    recorded_at: UtcDatetime
    created_at: UtcDatetime


class PatientDetail(PatientPublic):
    sessions: list[SessionPublic]
    outcomes: list[OutcomePublic]


class ChangeThresholdOut(BaseModel):
    name: str
    kind: Literal["mcid", "mdc"]
    points: float
    percent: float | None
    unit: str
    lower_is_better: bool
    source: str


class ChangeOut(BaseModel):
    delta: float = Field(description="current - baseline")
    delta_percent: float | None = Field(description="relative to baseline; null when the baseline is 0")
    ci95: tuple[float, float] | None = Field(None, description="interval of the change, when both values carry one")
    judgement: Literal["improved", "unchanged", "worse", "inconclusive"] | None = Field(
        description="null when no published threshold exists for this measure"
    )
    reason: str


class ProgressPoint(BaseModel):
    at: UtcDatetime
    session_id: str | None
    source_id: str = Field(description="the outcome's or the assessment's id")
    value: float
    ci95: tuple[float, float] | None = None
    band: str | None = None
    change: ChangeOut | None = Field(description="against the first point (baseline); null for the baseline")


class ProgressSeries(BaseModel):
    measure: str = Field(description="odi | nrs | nrs_leg | nrs_back | <exercise>/<metric>[/<side>]")
    kind: Literal["outcome", "motion"]
    exercise: str | None = None
    metric: str | None = None
    side: Literal["left", "right"] | None = None
    unit: str
    threshold: ChangeThresholdOut | None
    points: list[ProgressPoint]


class Progress(BaseModel):
    """Change from the first value of every measure. Supports a clinician's judgement; never a diagnosis."""

    patient_id: str
    series: list[ProgressSeries]
    sources: list[str] = Field(description="every threshold's source, cited once")


class PatientUpdate(BaseModel):
    """Fields to change; omitted fields stay, ``null`` clears ``birth_year``/``sex``."""

    model_config = ConfigDict(extra="forbid")
    code: PatientCode | None = None
    birth_year: Annotated[StrictInt, Field(ge=1900, le=2100)] | None = None
    sex: Sex | None = None


class SessionUpdate(BaseModel):
    """Fields to change; omitted fields stay, ``null`` clears ``notes``."""

    model_config = ConfigDict(extra="forbid")
    date: Date | None = Field(None, description="the day of the visit")
    notes: str | None = Field(
        None, max_length=4000, pattern=r"^[^\x00]*$", description="the clinician's note; no names or identifiers"
    )
