"""The assessment document: what ``motionscript analyze`` writes and the API returns.

Every number carries its unit; every series that could not be measured is
``null`` with a reason; the ``conventions`` block states each sign convention.
``SCHEMA_VERSION`` changes whenever a field changes meaning or is removed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.wearables import WearablesOut

__all__ = [
    "SCHEMA_VERSION",
    "Assessment",
    "Convention",
    "InputInfo",
    "MetricOut",
    "QualityIssueOut",
    "ViewOut",
]

SCHEMA_VERSION = "1.1"  # 1.1: protocol findings, coaching, metric ci95


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputInfo(_Model):
    """What was analysed."""

    kind: Literal["video", "image", "landmarks"]
    filename: str | None = None
    sha256: str | None = Field(None, description="sha256 of the input file")
    bytes: int | None = None
    container: str | None = None
    codec: str | None = None
    width: int | None = Field(None, description="upright width in pixels")
    height: int | None = Field(None, description="upright height in pixels")
    rotation_deg: int | None = Field(None, description="rotation applied from the container's display matrix")
    fps_nominal: float | None = Field(None, description="frame rate the container declares; timestamps come from the container, not from this")
    duration_s: float | None = None
    frames_read: int
    frames_with_pose: int
    variable_frame_rate: bool | None = None
    truncated: bool = Field(False, description="the file ended early; frames up to the damage were analysed")
    sharpness: float | None = Field(None, description="median focus measure of the subject (variance of the Laplacian at 256 px height); below 50 the video is treated as blurred")
    landmark_space: Literal["image", "world"]


class ViewOut(_Model):
    view: Literal["frontal", "sagittal", "oblique", "unknown"]
    yaw_deg: float | None = Field(None, description="median body rotation about the vertical; 0 facing the camera, +-180 back to it")
    off_frontal_deg: float | None = Field(None, description="0 = frontal .. 90 = side-on")
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


class Assessment(_Model):
    """A movement assessment. Supports a clinician's judgement; never a diagnosis."""

    schema_version: Literal["1.1"] = SCHEMA_VERSION
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
    findings: list[FindingOut] = Field(default_factory=list, description="the exercise protocol's findings; empty without an exercise or when coaching is given")
    coaching: list[CoachingOut] = Field(default_factory=list, description="re-recording advice when the video cannot answer the exercise's question")
    conventions: dict[str, Convention]
    processing: dict[str, object]
    wearables: WearablesOut | None = Field(
        None, description="IMU / EMG recorded with the assessment (docs/wearables.md); null when none were given")


# -- API models ------------------------------------------------------------------------

from datetime import UTC, datetime  # noqa: E402
from typing import Annotated  # noqa: E402

from pydantic import AfterValidator, create_model  # noqa: E402

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
        if name not in AssessmentSummary.model_fields
    },
)


class AssessmentList(BaseModel):
    items: list[AssessmentSummary]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")


class FrameResult(BaseModel):
    """One image analysed synchronously: landmarks and instantaneous angles."""

    image_size: tuple[int, int]
    person_found: bool
    landmarks: list[list[float]] | None = Field(None, description="33 rows [x, y, z, visibility], image-normalised, y down")
    world_landmarks: list[list[float]] | None = Field(None, description="33 rows [x, y, z] metres, origin between the hips")
    view: ViewOut
    angles: dict[str, float | None]
    unavailable: dict[str, str]
    quality: list[QualityIssueOut]
    conventions: dict[str, Convention]
