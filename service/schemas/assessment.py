"""The assessment document: what ``motionscript analyze`` writes and the API returns.

Every number carries its unit; every series that could not be measured is
``null`` with a reason; the ``conventions`` block states each sign convention.
``SCHEMA_VERSION`` changes whenever a field changes meaning or is removed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, create_model

from service.schemas._base import UtcDatetime, _Model
from service.schemas.wearables import WearablesOut

SCHEMA_VERSION = "1.5"  # 1.1: findings, coaching, ci95; 1.2: sensor-only, IMU gait bouts; 1.3: detected, gait passes; 1.4: landmark_schema, camera space; 1.5: protocol metrics' confidence, coverage, n_events, event_kind


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
    confidence: float | None = Field(
        None,
        description="0..1, how much of the evidence the value needs was measured and how surely. Series summaries: "
        "mean sample confidence x coverage. Protocol metrics: coverage x the inputs' mean confidence (landmark "
        "visibility, series sample confidence) over the measured frames x the mean confidence of the events it rests on "
        "(n_events). 1 = every frame measured with full confidence and every event clear; not a probability that the "
        "value is right (the ci95 gives its uncertainty)",
    )
    coverage: float | None = Field(
        None,
        description="0..1. Series summaries: fraction of samples measured. Protocol metrics: fraction of the analysed "
        "window's frames (gait: the passes; a per-repetition value: its repetitions; a count: the recording) in which "
        "every input the value needs was measured; below 0.5 the value is not measurable",
    )
    n_samples: int | None = None
    n_events: int | None = Field(
        None,
        description="protocol metrics: how many events (event_kind) the value rests on; below the metric's minimum "
        "(3 steps for a cadence, 2 strides for a per-stride value, 3 steps per side for a step time) it is not measurable",
    )
    event_kind: str | None = Field(
        None,
        description="protocol metrics: what one of those events is: step, stride, repetition, hold, stance phase, pass, "
        "walking bout (IMU)",
    )
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

    schema_version: Literal["1.5"] = SCHEMA_VERSION
    exercise: str | None
    input: InputInfo
    model: dict[str, object] | None = Field(description="pose model provenance; null for client-side landmarks")
    subject: SubjectOut | None
    view: ViewOut
    quality: list[QualityIssueOut] = Field(
        description="what limits the measurement: the recording's issues, the kinematics pipeline's, then the "
        "exercise protocol's (e.g. implausible_protocol_angle: samples of its own angles withheld); "
        "docs/assessment.md lists the codes"
    )
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
