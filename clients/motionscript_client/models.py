"""Typed answers of the Motionscript REST API, mirrored here so that the SDK needs nothing from ``service/``.

``tests/clients/test_sdk.py`` checks every model's fields against the service's live ``/openapi.json``
(:data:`MIRRORS` names the server's schema each one mirrors). Unknown fields are kept
(``extra="allow"``) and categories are plain strings, so a newer server does not break an older client.
Request bodies are plain keyword arguments of :class:`~motionscript_client.Client`'s methods; the
server validates them (422 -> :class:`~motionscript_client.InvalidInput`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DOCUMENT_FIELDS",
    "MIRRORS",
    "AssessmentAccepted",
    "AssessmentList",
    "AssessmentPublic",
    "AssessmentSummary",
    "AuditEvent",
    "AuditList",
    "Change",
    "ChangeThreshold",
    "Clinic",
    "Coaching",
    "Convention",
    "Detected",
    "Event",
    "Exercise",
    "Finding",
    "FindingItem",
    "FindingList",
    "FrameResult",
    "InputInfo",
    "LiveFrame",
    "LiveRecordingStopped",
    "Metric",
    "NotMeasured",
    "Outcome",
    "Patient",
    "PatientDetail",
    "PatientList",
    "Progress",
    "ProgressPoint",
    "ProgressSeries",
    "QualityIssue",
    "Review",
    "Session",
    "Status",
    "Subject",
    "Suggestion",
    "SuggestionDecision",
    "SuggestionList",
    "SuggestionNote",
    "Threshold",
    "View",
    "WebhookSecret",
]

Status = Literal["queued", "running", "done", "failed"]
Side = Literal["left", "right"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


# -- the assessment document ----------------------------------------------------------------------------------------


class InputInfo(_Model):
    """What was analysed: ``kind`` video / image / landmarks / sensors, and what the file said about itself."""

    kind: str
    filename: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    container: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    rotation_deg: int | None = None
    fps_nominal: float | None = None
    duration_s: float | None = None
    frames_read: int
    frames_with_pose: int
    variable_frame_rate: bool | None = None
    truncated: bool = False
    sharpness: float | None = None
    landmark_space: str | None = None  # image | world | camera
    landmark_schema: str | None = None  # blazepose33, coco17, ... (docs/landmarks.md)


class View(_Model):
    """The camera view: ``frontal``, ``sagittal``, ``oblique``, ``unknown`` or ``none`` (no camera)."""

    view: str
    yaw_deg: float | None = None
    off_frontal_deg: float | None = None
    yaw_sd_deg: float | None = None
    view_prob: float | None = None
    facing: str = "unknown"
    confidence: float
    share: dict[str, float] = Field(default_factory=dict)
    measurable_planes: list[str]


class QualityIssue(_Model):
    code: str
    severity: str  # info | warning | error
    message: str


class Metric(_Model):
    """One number with its unit, 95 % interval and whether it could be measured (and why not)."""

    name: str
    value: float | None
    unit: str
    series: str | None = None
    side: Side | None = None
    ci95: tuple[float, float] | None = None
    measurable: bool
    reason: str | None = None
    confidence: float | None = None
    coverage: float | None = None
    n_samples: int | None = None
    n_events: int | None = None  # protocol metrics: the steps, strides, repetitions, ... the value rests on
    event_kind: str | None = None  # what one of those events is: step | stride | repetition | hold | ...
    source: str = "series"  # series | protocol
    pass_index: int | None = None


class Threshold(_Model):
    name: str
    value: float
    unit: str
    source: str
    note: str = ""


class Finding(_Model):
    """A protocol's observation in plain words; supports a clinician's judgement, never a diagnosis."""

    code: str
    severity: str  # normal | attention | inconclusive | info
    message: str
    evidence: dict[str, Any]
    threshold: Threshold | None
    source: str | None


class Coaching(_Model):
    code: str
    message: str


class Convention(_Model):
    unit: str
    plane: str | None
    convention: str
    reference: str
    validation: str


class Subject(_Model):
    rule: str
    first_seen_s: float | None
    initial_bbox_norm: list[float] | None
    max_people_in_frame: int
    frames_with_other_people: int
    frames_subject_not_found: int
    rejected_jumps: int


class Event(_Model):
    """A repetition, hold, stance phase, foot contact or gait pass, in seconds from the first frame."""

    type: str
    start_s: float
    end_s: float | None = None
    peak_s: float | None = None
    side: Side | None = None
    confidence: float = 1.0
    pass_index: int | None = None
    label: str | None = None


class Detected(_Model):
    movement: str
    detected: bool
    rule: str
    confidence: float
    seen: str
    posture: str


# -- assessments ----------------------------------------------------------------------------------------------------


class AssessmentAccepted(_Model):
    """``202`` answer to a submission: where to follow the job."""

    id: str
    status: Status
    url: str


class AssessmentSummary(_Model):
    id: str
    status: Status
    reason: str | None = None
    exercise: str | None = None
    patient_id: str | None = None
    input_kind: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int


# The assessment document's fields, in the order `motionscript analyze` writes them.
DOCUMENT_FIELDS: tuple[str, ...] = (
    "schema_version",
    "exercise",
    "input",
    "model",
    "subject",
    "view",
    "quality",
    "series",
    "confidence",
    "unavailable",
    "metrics",
    "events",
    "findings",
    "coaching",
    "detected",
    "conventions",
    "processing",
    "wearables",
)


class AssessmentPublic(AssessmentSummary):
    """An assessment; when ``status`` is ``done`` the document's fields are filled in."""

    schema_version: str | None = None
    input: InputInfo | None = None
    model: dict[str, Any] | None = None
    subject: Subject | None = None
    view: View | None = None
    quality: list[QualityIssue] | None = None
    series: dict[str, list[float | None] | None] | None = None
    confidence: dict[str, list[float] | None] | None = None
    unavailable: dict[str, str] | None = None
    metrics: list[Metric] | None = None
    events: list[Event] | None = None
    findings: list[Finding] | None = None
    coaching: list[Coaching] | None = None
    detected: Detected | None = None
    conventions: dict[str, Convention] | None = None
    processing: dict[str, Any] | None = None
    wearables: dict[str, Any] | None = None  # docs/wearables.md; left untyped here
    findings_filter: str | None = None  # "signed_off_only": an app key sees only reviewed findings (docs/review.md)

    def document(self) -> dict[str, Any]:
        """The assessment document alone, as ``motionscript analyze`` writes it (field order included)."""
        data = self.model_dump(mode="json", exclude_unset=True)  # nested: exactly the fields the server sent
        return {name: data.get(name) for name in DOCUMENT_FIELDS}

    def metric(self, name: str, side: str | None = None, pass_index: int | None = None) -> Metric | None:
        """The first metric called ``name`` (of that side / gait pass when given), or None."""
        for m in self.metrics or []:
            if (
                m.name == name
                and (side is None or m.side == side)
                and (pass_index is None or m.pass_index == pass_index)
            ):
                return m
        return None


class AssessmentList(_Model):
    items: list[AssessmentSummary]
    next_cursor: str | None = None


class FrameResult(_Model):
    """One image analysed synchronously: landmarks and instantaneous angles."""

    image_size: tuple[int, int]
    person_found: bool
    landmarks: list[list[float]] | None = None
    world_landmarks: list[list[float]] | None = None
    view: View
    angles: dict[str, float | None]
    unavailable: dict[str, str]
    quality: list[QualityIssue]
    conventions: dict[str, Convention]


# -- live feedback (WS /v1/live, docs/sdk.md): the server's messages, which /openapi.json does not describe ---------
# (tests/service/test_live_landmarks.py and test_live_record.py check their fields against real answers)


class NotMeasured(_Model):
    """Why a live angle is null: a code of the offline pipeline (``kinematics.withheld``) and its reason in words."""

    code: str  # "pose_settling", "implausible_angle", "plane_not_in_view", "frames_without_pose", ...
    reason: str


class LiveFrame(_Model):
    """The answer to one live frame (``"type": "frame"``): a null angle is never a zero, ``not_measured`` says why."""

    type: str
    seq: int
    dropped: int
    t_s: float
    person_found: bool
    landmarks: list[list[float]] | None = None  # the pose model's, for a video frame; None for landmarks sent
    analysed_t_s: float | None = None
    view: str
    angles: dict[str, float | None]
    confidence: dict[str, float] = Field(default_factory=dict)  # 0-1, of each angle with a value, as the assessment's
    not_measured: dict[str, NotMeasured] = Field(default_factory=dict)  # every null angle of ``angles``
    quality: list[QualityIssue] = Field(default_factory=list)  # what limited the newest run
    series: dict[str, list[float | None]] | None = None  # the samples this run published
    series_not_measured: dict[str, list[str | None]] | None = None  # the code of each null sample of ``series``
    reps: int | None = None
    in_rep: bool | None = None
    hold_s: float | None = None
    hold_source: str | None = None
    cues: list[str] = Field(default_factory=list)
    analysis_ms: float
    waited_ms: float


class LiveRecordingStopped(_Model):
    """``"type": "recording_stopped"``: a ``?record=1`` connection keeps no more frames (its limit, the server's
    disk budget or a full disk); the ``frames`` recorded are kept and can be saved, live feedback goes on."""

    type: str
    detail: str
    frames: int


# -- patients, sessions, outcomes, progress (docs/outcomes.md) ------------------------------------------------------


class Session(_Model):
    id: str
    patient_id: str
    date: date
    notes: str | None
    assessment_ids: list[str]
    created_at: datetime


class Patient(_Model):
    """A pseudonymous patient: the clinic's own ``code``, never a name."""

    id: str
    code: str
    birth_year: int | None
    sex: str | None
    created_at: datetime


class PatientList(_Model):
    items: list[Patient]
    next_cursor: str | None = None


class Outcome(_Model):
    """An Oswestry questionnaire (``odi``, score in %) or a pain rating (``nrs``, 0-10)."""

    id: str
    patient_id: str
    session_id: str | None
    instrument: str
    site: str | None
    answers: dict[str, int | None]
    score: float
    unit: str
    band: str | None = None
    missing_sections: list[str] = Field(default_factory=list)
    recovered: bool | None = None
    recorded_at: datetime
    created_at: datetime


class PatientDetail(Patient):
    sessions: list[Session]
    outcomes: list[Outcome]


class ChangeThreshold(_Model):
    name: str
    kind: str  # mcid | mdc
    points: float
    percent: float | None
    unit: str
    lower_is_better: bool
    source: str


class Change(_Model):
    delta: float
    delta_percent: float | None
    ci95: tuple[float, float] | None = None
    judgement: str | None  # improved | unchanged | worse | inconclusive; null without a published threshold
    reason: str


class ProgressPoint(_Model):
    at: datetime
    session_id: str | None
    source_id: str
    value: float
    ci95: tuple[float, float] | None = None
    band: str | None = None
    change: Change | None


class ProgressSeries(_Model):
    measure: str
    kind: str  # outcome | motion
    exercise: str | None = None
    metric: str | None = None
    side: Side | None = None
    unit: str
    threshold: ChangeThreshold | None
    points: list[ProgressPoint]


class Progress(_Model):
    patient_id: str
    series: list[ProgressSeries]
    sources: list[str]


# -- clinician review, exercise suggestions, audit log, clinic (docs/review.md) ------------------------------------


class Review(_Model):
    id: str
    assessment_id: str
    finding_index: int
    finding_code: str
    status: str  # signed_off | corrected | rejected
    note: str | None
    correction: dict[str, str] | None
    reviewer_key_id: str
    reviewer_name: str | None = None  # "Name <email>" or "API key 'label'"
    reviewed_at: datetime


class FindingItem(_Model):
    """A stored finding and its latest review; ``index`` identifies it for :meth:`Client.review_finding`."""

    index: int
    code: str
    severity: str
    message: str
    evidence: dict[str, Any]
    threshold: dict[str, Any] | None
    source: str | None
    review: Review | None


class FindingList(_Model):
    items: list[FindingItem]


class Exercise(_Model):
    key: str
    name: str
    sets: int
    reps: int
    hold_s: float | None
    tempo: str
    rest_s: float
    cues: list[str]
    progression: str
    stop_rule: str


class SuggestionDecision(_Model):
    id: str
    assessment_id: str
    n: int
    finding_index: int
    exercise_key: str
    status: str  # approved | rejected
    note: str | None
    overrides: dict[str, Any] | None
    decided_by_key_id: str
    decided_by_name: str | None = None
    decided_at: datetime


class Suggestion(_Model):
    """A proposed exercise, never applied without a clinician's approval; ``n`` identifies it."""

    n: int
    finding_index: int
    finding_code: str
    side: Side | None
    status: str  # proposed | approved | rejected
    exercise: Exercise
    proposed: dict[str, Any]
    rationale: str
    source: str
    decision: SuggestionDecision | None
    finding_review: str | None


class SuggestionNote(_Model):
    finding_index: int
    finding_code: str
    reason: str


class SuggestionList(_Model):
    items: list[Suggestion]
    notes: list[SuggestionNote]
    filtered: bool


class AuditEvent(_Model):
    id: str
    at: datetime
    actor_key_id: str
    actor_type: str | None = None  # key | user | patient_link | cli
    actor_name: str | None = None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditList(_Model):
    items: list[AuditEvent]
    next_cursor: str | None = None


class Clinic(_Model):
    id: str
    name: str
    patient_feedback: str  # all | signed_off_only


class WebhookSecret(_Model):
    """The secret that signs webhooks (``Motionscript-Signature``); admin keys only."""

    secret: str
    header: str = "Motionscript-Signature"
    scheme: str
    fingerprint: str


#: Each model and the schema of the server's OpenAPI document it mirrors (checked by a test).
MIRRORS: dict[str, type[BaseModel]] = {
    "InputInfo": InputInfo,
    "ViewOut": View,
    "QualityIssueOut": QualityIssue,
    "MetricOut": Metric,
    "ThresholdOut": Threshold,
    "FindingOut": Finding,
    "CoachingOut": Coaching,
    "Convention": Convention,
    "SubjectOut": Subject,
    "EventOut": Event,
    "DetectedOut": Detected,
    "AssessmentAccepted": AssessmentAccepted,
    "AssessmentSummary": AssessmentSummary,
    "AssessmentPublic": AssessmentPublic,
    "AssessmentList": AssessmentList,
    "FrameResult": FrameResult,
    "SessionPublic": Session,
    "PatientPublic": Patient,
    "PatientList": PatientList,
    "OutcomePublic": Outcome,
    "PatientDetail": PatientDetail,
    "ChangeThresholdOut": ChangeThreshold,
    "ChangeOut": Change,
    "ProgressPoint": ProgressPoint,
    "ProgressSeries": ProgressSeries,
    "Progress": Progress,
    "ReviewPublic": Review,
    "FindingItem": FindingItem,
    "FindingList": FindingList,
    "ExercisePublic": Exercise,
    "SuggestionDecisionPublic": SuggestionDecision,
    "SuggestionPublic": Suggestion,
    "SuggestionNoteOut": SuggestionNote,
    "SuggestionList": SuggestionList,
    "AuditEventPublic": AuditEvent,
    "AuditList": AuditList,
    "ClinicPublic": Clinic,
    "WebhookSecret": WebhookSecret,
}
