"""What an exercise protocol produces: events, metrics, findings, or coaching instead.

A protocol answers a clinical question about one exercise. When the recording
cannot answer it (wrong view, body out of frame, too few pixels across the
pelvis) the protocol returns *coaching*, specific advice for re-recording,
and no clinical finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kinematics.pipeline import KinematicsResult, QualityIssue
from kinematics.series import LandmarkSeries, Side

__all__ = [
    "Coaching",
    "Detection",
    "ExerciseProtocol",
    "Finding",
    "ProtocolEvent",
    "ProtocolMetric",
    "ProtocolResult",
    "Threshold",
    "judge",
    "quality_issues",
]

Verdict = Literal["above", "below", "inconclusive"]


@dataclass(frozen=True)
class Threshold:
    """A decision limit with its published source. Clinics may override ``value``."""

    name: str
    value: float
    unit: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class ProtocolEvent:
    type: str  # rep | hold | single_leg_stance | initial_contact
    start_s: float
    end_s: float | None = None
    peak_s: float | None = None
    side: Side | None = None
    confidence: float = 1.0
    pass_index: int | None = None  # gait: which pass of the walk (0, 1, ...)
    label: str | None = None  # gait passes: their direction ("left_to_right", ...)


@dataclass(frozen=True)
class ProtocolMetric:
    name: str
    value: float | None
    unit: str
    side: Side | None = None
    ci95: tuple[float, float] | None = None
    measurable: bool = True
    reason: str | None = None
    pass_index: int | None = None  # gait: the pass this value belongs to; None for the whole recording
    # what the value rests on, stated by kinematics.protocols.evidence.attach for every protocol:
    confidence: float | None = None  # 0-1: coverage x the inputs' mean confidence x the events' mean confidence
    coverage: float | None = None  # 0-1: share of the analysed window's frames with every input measured
    n_events: int | None = None  # how many events (steps, strides, repetitions, ...) the value rests on
    event_kind: str | None = None  # what one of those events is: step | stride | repetition | hold | ...


@dataclass(frozen=True)
class Finding:
    """A plain-language observation a clinician can act on; never a diagnosis."""

    code: str
    severity: Literal["normal", "attention", "inconclusive", "info"]
    message: str
    evidence: Mapping[str, object] = field(default_factory=dict)
    threshold: Threshold | None = None
    source: str | None = None


@dataclass(frozen=True)
class Coaching:
    """Advice for recording again, when the video cannot answer the protocol's question."""

    code: str
    message: str


@dataclass(frozen=True)
class Detection:
    """Whether the protocol's movement was seen in the recording (:mod:`kinematics.protocols.presence`)."""

    movement: str  # what was looked for, in plain words
    detected: bool
    rule: str  # the rule it was judged by, with its thresholds
    confidence: float  # 0-1; 0 when not detected
    seen: str  # what the subject was seen doing
    posture: str  # standing | sitting | lying | other | unknown


@dataclass(frozen=True)
class ProtocolResult:
    protocol: str
    events: list[ProtocolEvent]
    metrics: list[ProtocolMetric]
    findings: list[Finding]
    coaching: list[Coaching]
    parameters: dict[str, object]
    detection: Detection | None = None  # None when the recording was not fit to look (capture coaching)
    # what limited the protocol's own measurement (samples of its angles withheld as implausible, ...);
    # the assessment document lists them under ``quality`` after the pipeline's
    quality: list[QualityIssue] = field(default_factory=list)

    @property
    def scored(self) -> bool:
        return not self.coaching


def quality_issues(result: KinematicsResult, protocol: ProtocolResult | None) -> list[QualityIssue]:
    """What limited one run's measurement: the pipeline's issues, then the protocol's own.

    The assessment document's ``quality`` (after the input's issues) and every live answer's
    ``quality`` are this list, so the two say the same of the same samples.
    """
    return [*result.issues, *(protocol.quality if protocol is not None else [])]


def judge(value: float, ci95: tuple[float, float] | None, threshold: float) -> Verdict:
    """Above or below ``threshold``, or inconclusive when the 95 % interval reaches it.

    Examples
    --------
    >>> judge(5.0, (4.5, 5.5), 4.0), judge(4.5, (3.0, 6.0), 4.0), judge(2.0, None, 4.0)
    ('above', 'inconclusive', 'below')
    """
    low, high = ci95 if ci95 is not None else (value, value)
    if low > threshold:
        return "above"
    if high < threshold:
        return "below"
    return "inconclusive"


class ExerciseProtocol(Protocol):
    """One exercise: ``assess`` turns kinematics into events, metrics and findings."""

    @property
    def name(self) -> str: ...

    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult: ...
