"""The assessment document: what ``motionscript analyze`` writes and the API returns.

Every number carries its unit; every series that could not be measured is
``null`` with a reason; the ``conventions`` block states each sign convention.
``SCHEMA_VERSION`` changes whenever a field changes meaning or is removed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as Date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, create_model

from kinematics.exercises import OVERRIDE_LIMITS as _LIMITS
from kinematics.outcomes import ODI_SECTIONS
from service.wearables import WearablesOut

__all__ = [
    "SCHEMA_VERSION",
    "Assessment",
    "Convention",
    "DetectedOut",
    "InputInfo",
    "MetricOut",
    "QualityIssueOut",
    "ViewOut",
]

SCHEMA_VERSION = "1.4"  # 1.1: findings, coaching, ci95; 1.2: sensor-only, IMU gait bouts; 1.3: detected, gait passes; 1.4: landmark_schema, camera space


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputInfo(_Model):
    """What was analysed."""

    kind: Literal["video", "image", "landmarks", "sensors"] = Field(
        description="'sensors': IMU and/or EMG files only, no camera (frames_read 0; see wearables)"
    )
    filename: str | None = None
    sha256: str | None = Field(None, description="sha256 of the input file")
    bytes: int | None = None
    container: str | None = None
    codec: str | None = None
    width: int | None = Field(None, description="upright width in pixels")
    height: int | None = Field(None, description="upright height in pixels")
    rotation_deg: int | None = Field(None, description="rotation applied from the container's display matrix")
    fps_nominal: float | None = Field(
        None, description="frame rate the container declares; timestamps come from the container, not from this"
    )
    duration_s: float | None = None
    frames_read: int
    frames_with_pose: int
    variable_frame_rate: bool | None = None
    truncated: bool = Field(False, description="the file ended early; frames up to the damage were analysed")
    sharpness: float | None = Field(
        None,
        description="median focus measure of the subject (variance of the Laplacian at 256 px height); below 50 the video is treated as blurred",
    )
    landmark_space: Literal["image", "world", "camera"] | None = Field(
        description="null for a sensor-only assessment; 'camera': a depth camera's 3D skeleton, metres"
    )
    landmark_schema: str | None = Field(
        None,
        description="skeleton of the landmarks (blazepose33, coco17, openpose18, apple_vision19, kinect_v2_25, "
        "azure_kinect_32; docs/landmarks.md); null for a sensor-only assessment",
    )


class ViewOut(_Model):
    view: Literal["frontal", "sagittal", "oblique", "unknown", "none"] = Field(
        description="'none': no camera (a sensor-only assessment)"
    )
    yaw_deg: float | None = Field(
        None,
        description="mean body rotation about the vertical over the frames in the recording's view; 0 facing "
        "the camera, +-180 back to it; null when those frames point several ways",
    )
    off_frontal_deg: float | None = Field(None, description="0 = frontal .. 90 = side-on")
    yaw_sd_deg: float | None = Field(None, description="median per-frame uncertainty (1 SD) of the body yaw")
    view_prob: float | None = Field(
        None,
        description="probability that the view is right, from the median off-frontal angle and the yaw's "
        "uncertainty; below 0.8 a frontal or side view carries the quality issue 'view_uncertain'",
    )
    facing: Literal["front", "back", "unknown"] = Field(
        "unknown", description="which of the subject's sides faces the camera in most measured frames"
    )
    confidence: float
    share: dict[str, float] = Field(default_factory=dict, description="fraction of measured frames in each view")
    measurable_planes: list[Literal["frontal", "sagittal"]]


class QualityIssueOut(_Model):
    code: str
    severity: Literal["info", "warning", "error"]
    message: str


class MetricOut(_Model):
    name: str
    value: float | None
    unit: str
    series: str | None = None
    side: Literal["left", "right"] | None = None
    ci95: tuple[float, float] | None = Field(None, description="95 % interval, including the instrument's own error")
    measurable: bool
    reason: str | None = None
    confidence: float | None = Field(None, description="mean sample confidence x coverage, 0..1 (series summaries)")
    coverage: float | None = Field(None, description="fraction of samples measured (series summaries)")
    n_samples: int | None = None
    source: Literal["series", "protocol"] = "series"
    pass_index: int | None = Field(None, description="gait: the pass of the walk this value belongs to (0, 1, ...)")


class ThresholdOut(_Model):
    name: str
    value: float
    unit: str
    source: str
    note: str = ""


class FindingOut(_Model):
    """Supports a clinician's judgement; never a diagnosis."""

    code: str
    severity: Literal["normal", "attention", "inconclusive", "info"]
    message: str
    evidence: dict[str, object]
    threshold: ThresholdOut | None
    source: str | None


class CoachingOut(_Model):
    """Why this recording cannot answer the exercise's question, and how to film it instead."""

    code: str
    message: str


class Convention(_Model):
    unit: str
    plane: Literal["frontal", "sagittal", "image"] | None
    convention: str
    reference: str
    validation: str


class SubjectOut(_Model):
    rule: str
    first_seen_s: float | None
    initial_bbox_norm: list[float] | None
    max_people_in_frame: int
    frames_with_other_people: int
    frames_subject_not_found: int
    rejected_jumps: int


class EventOut(_Model):
    type: str
    start_s: float
    end_s: float | None = None
    peak_s: float | None = None
    side: Literal["left", "right"] | None = None
    confidence: float = 1.0
    pass_index: int | None = Field(None, description="gait: the pass of the walk this event belongs to")
    label: str | None = Field(None, description="gait passes: direction (left_to_right, right_to_left, ...)")


class DetectedOut(_Model):
    """Whether the exercise's movement was seen before anything was measured (docs/assessment.md)."""

    movement: str = Field(description="what was looked for, in plain words")
    detected: bool
    rule: str = Field(description="the rule it was judged by, with its thresholds")
    confidence: float = Field(description="0..1; 0 when not detected")
    seen: str = Field(description="what the subject was seen doing")
    posture: Literal["standing", "sitting", "lying", "other", "unknown"]


class Assessment(_Model):
    """A movement assessment. Supports a clinician's judgement; never a diagnosis."""

    schema_version: Literal["1.4"] = SCHEMA_VERSION
    exercise: str | None
    input: InputInfo
    model: dict[str, object] | None = Field(description="pose model provenance; null for client-side landmarks")
    subject: SubjectOut | None
    view: ViewOut
    quality: list[QualityIssueOut]
    series: dict[str, list[float | None] | None] = Field(
        description="t_s (seconds from the first frame) and one array per series, sampled at t_s; null where not measurable"
    )
    confidence: dict[str, list[float] | None] = Field(description="per-sample confidence 0..1 of each series")
    unavailable: dict[str, str] = Field(description="series that could not be measured at all, with the reason")
    metrics: list[MetricOut]
    events: list[EventOut]
    findings: list[FindingOut] = Field(
        default_factory=list,
        description="the exercise protocol's findings; empty without an exercise or when coaching is given",
    )
    coaching: list[CoachingOut] = Field(
        default_factory=list, description="re-recording advice when the video cannot answer the exercise's question"
    )
    detected: DetectedOut | None = Field(
        None,
        description="whether the exercise's movement was seen (null without an exercise, or when the recording "
        "could not be looked at: wrong view, body out of frame, ...); when not, no metric, finding or suggestion",
    )
    conventions: dict[str, Convention]
    processing: dict[str, object]
    wearables: WearablesOut | None = Field(
        None, description="IMU / EMG recorded with the assessment (docs/wearables.md); null when none were given"
    )


# -- API models ------------------------------------------------------------------------


Status = Literal["queued", "running", "done", "failed"]


class AssessmentAccepted(BaseModel):
    id: str
    status: Status
    url: str


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class AssessmentSummary(BaseModel):
    id: str
    status: Status
    reason: str | None = Field(None, description="why it failed, in words a user can act on")
    exercise: str | None
    patient_id: str | None
    input_kind: str
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    attempts: int


# When done, the document fields sit at the top level, exactly as `motionscript analyze` writes them.
AssessmentPublic = create_model(
    "AssessmentPublic",
    __base__=AssessmentSummary,
    **{
        name: (f.annotation | None, None)  # type: ignore[operator]
        for name, f in Assessment.model_fields.items()
        if name not in AssessmentSummary.model_fields and name != "schema_version"
    },
    # documents stored under an earlier schema version are returned as stored
    schema_version=(str | None, None),
    findings_filter=(
        Literal["signed_off_only"] | None,
        Field(
            None,
            description="set for an app key when the clinic shows patients only signed-off findings: unreviewed "
            "and rejected findings are left out, corrected ones carry the correction (docs/review.md)",
        ),
    ),
)


class AssessmentList(BaseModel):
    items: list[AssessmentSummary]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")


class FrameResult(BaseModel):
    """One image analysed synchronously: landmarks and instantaneous angles."""

    image_size: tuple[int, int]
    person_found: bool
    landmarks: list[list[float]] | None = Field(
        None, description="33 rows [x, y, z, visibility], image-normalised, y down"
    )
    world_landmarks: list[list[float]] | None = Field(
        None, description="33 rows [x, y, z] metres, origin between the hips"
    )
    view: ViewOut
    angles: dict[str, float | None]
    unavailable: dict[str, str]
    quality: list[QualityIssueOut]
    conventions: dict[str, Convention]


# -- Patients, sessions, patient-reported outcomes, progress (docs/outcomes.md) --------

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


# -- Clinician review, exercise suggestions, audit log, clinic settings (docs/review.md) -----


Severity = Literal["normal", "attention", "inconclusive", "info"]
_Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]


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


class ReviewPublic(BaseModel):
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


class AuditEventPublic(BaseModel):
    id: str
    at: UtcDatetime
    actor_key_id: str = Field(description="the API key's id, the person's user id, or the patient's id (patient link)")
    actor_role: str
    actor_type: Literal["key", "user", "patient_link", "cli", "system"] | None = Field(
        description="what acted; null for events written before 0.2"
    )
    actor_name: str | None = Field(
        description="who acted: 'Name <email>', \"API key 'label'\", 'patient link for CODE'"
    )
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None


class AuditList(BaseModel):
    items: list[AuditEventPublic]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")


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


class ClinicPublic(BaseModel):
    id: str
    name: str
    patient_feedback: Literal["all", "signed_off_only"] = Field(
        description="what app keys see of findings: all, or only signed-off (and corrected) ones"
    )


class WebhookSecret(BaseModel):
    """The clinic's webhook signing secret (docs/sdk.md#webhooks); shown to admin keys only."""

    secret: str = Field(description="HMAC-SHA256 key; a receiver recomputes the signature with it")
    header: Literal["Motionscript-Signature"] = "Motionscript-Signature"
    scheme: str = Field(description="how the header is made")
    fingerprint: str = Field(description="sha256 of the secret, first 12 hex digits: tells which secret is in use")


class ClinicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_feedback: Literal["all", "signed_off_only"]


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


# -- People, logins and patient links (docs/web.md) ---------------------------------------------


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class LoginLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200, description="the one-time token of a CLI login link")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str | None = Field(None, max_length=1000, description="required when a password is set")
    new_password: str = Field(min_length=10, max_length=1000)


class Me(BaseModel):
    """Who the caller is: a person logged in, an API key, or a patient link."""

    kind: Literal["user", "key", "patient_link", "cli"]
    role: Literal["admin", "clinician", "app"]
    clinic_id: str
    clinic_name: str
    name: str | None = Field(description="the person's display name, the key's label, or the patient link's")
    email: str | None = Field(None, description="a person's login email")
    user_id: str | None = None
    patient_id: str | None = Field(None, description="a patient link's patient")
    patient_code: str | None = None
    has_password: bool | None = Field(None, description="a person: false when they log in by link only")
    csrf_token: str | None = Field(
        None, description="a logged-in person: send it as X-CSRF-Token with every request that changes data"
    )
    expires_at: UtcDatetime | None = Field(None, description="when the login (or the patient link) ends")


class PatientLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires_in_days: Annotated[float, Field(gt=0, le=365)] | None = Field(
        None, description="default: the service's patient_link_days (14)"
    )
    exercise: Annotated[str, Field(pattern=r"^[a-z_]{1,50}$")] | None = Field(
        None, description="open the page on this exercise"
    )


class PatientLinkPublic(BaseModel):
    url: str = Field(description="send this to the patient; the token sits in the fragment (#), never in logs")
    token: str
    patient_id: str
    expires_at: UtcDatetime
