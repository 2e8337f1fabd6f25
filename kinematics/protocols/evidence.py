"""What each protocol metric rests on: its confidence, coverage and events, derived in one place.

Every exercise protocol's ``assess`` is wrapped by :func:`with_evidence`, which passes the
result through :func:`attach`. For each metric, :data:`BASES` names the inputs it needs
(pipeline series, or landmarks measured by the pipeline's rule,
:func:`kinematics.protocols._common.masked_points`) and the events it rests on (steps,
strides, repetitions, holds, stance phases, passes). From those :func:`attach` states

``coverage``
    the fraction of the analysed window's frames in which every input was measured. The
    window is the gait passes for walking, the spans of the events the metric rests on
    for a per-event value (a repetition's peak, a hold's duration), and the whole
    recording for a count of repetitions, holds or stance phases (an event in an
    unmeasured stretch is missed, so a count is only as good as the recording's coverage);
``n_events`` and ``event_kind``
    how many events the value rests on, and what one is;
``confidence``
    ``coverage`` x the mean confidence of the inputs over the measured frames (a landmark's
    visibility, a series' sample confidence) x the mean confidence of those events: 1 when
    every frame of the window was measured with full confidence and every event was clear,
    lower with each unmeasured frame, doubtful landmark or unclear event. It is the same
    product as the series summaries' (:func:`kinematics.summary.summarise`), with the events'
    confidence as the third factor.

A measured value becomes *not measurable*, with the reason, when its coverage is below
:data:`MIN_COVERAGE` or it rests on fewer events than its basis needs (``min_events``);
findings that rest on it are withdrawn and a ``weak_protocol_evidence`` warning says so.
Metrics that a protocol already reports as not measurable keep their own reason.

The rule itself is :func:`judge` (with :func:`shortfall`, the reason); :func:`attach` gives it the
video's coverage, and :mod:`kinematics.fusion.evidence` a wearable sensor's (its valid samples), so a
value means the same and is withheld for the same evidence whatever measured it.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from kinematics.pipeline import KinematicsResult, QualityIssue
from kinematics.protocols import _common as C
from kinematics.protocols.base import Finding, ProtocolEvent, ProtocolMetric, ProtocolResult
from kinematics.series import LandmarkSeries

__all__ = [
    "BASES",
    "EVENT_KIND",
    "MIN_COVERAGE",
    "MIN_STEPS_FOR_RATE",
    "MIN_STEP_TIMES",
    "MIN_STRIDES",
    "Basis",
    "Measured",
    "attach",
    "judge",
    "shortfall",
    "with_evidence",
]

#: Below this fraction of the window's frames measured a value is withheld: the series summaries'
#: own rule (:func:`kinematics.summary.summarise`, ``min_coverage``): a value over less than half of
#: what it describes is not the value of the whole.
MIN_COVERAGE = 0.5
#: A step rate (cadence) needs two step intervals, three contacts: one interval is one step's
#: duration, with nothing to tell a hesitation from the pace.
MIN_STEPS_FOR_RATE = 3
#: A per-stride average (range, drop) needs two strides: with one, the 95 % interval has no
#: stride-to-stride spread in it, only the instrument's error, and reads narrower than it is.
MIN_STRIDES = 2
#: A step time per side needs three steps of that side: its 95 % interval is almost all step-to-step
#: spread (the instrument's part is one frame), and a spread from two steps has one degree of freedom,
#: for which the interval's 1.96 would have to be 12.7 (Student's t). On a fixture clip of two people
#: crossing, two "left steps" of 0.31 and 0.07 s gave a confident left-right asymmetry.
MIN_STEP_TIMES = 3

#: What one event of each kind is called in ``event_kind`` and in the reasons.
EVENT_KIND: dict[str, str] = {
    "initial_contact": "step",
    "stride": "stride",
    "rep": "repetition",
    "hold": "hold",
    "single_leg_stance": "stance phase",
    "pass": "pass",
    "walking_bout": "walking bout",  # a lower-back IMU's walking (kinematics.fusion.evidence)
    "burst": "burst",  # an EMG channel's activity (kinematics.fusion.evidence)
}

_HIPS = ("left_hip", "right_hip")
_SHOULDERS = ("left_shoulder", "right_shoulder")
_FEET = ("left_ankle", "right_ankle", *_HIPS)  # hip height above the ankles; the stance detector's lift


@dataclass(frozen=True)
class Basis:
    """What one protocol metric rests on.

    Parameters
    ----------
    inputs
        Each entry is needed in a frame for it to count as measured: a pipeline series name
        (``result.series``) or a landmark name; ``"a|b"`` means either. ``{side}`` is the
        metric's side, or both sides (each needed) when the metric has none.
    event
        The event type the value rests on (``ProtocolEvent.type``), or ``"stride"`` (consecutive
        contacts of one foot: the protocol states their number in ``n_events``); None for none.
    min_events
        Fewer events than this make the value not measurable (counts are never withheld for it:
        zero repetitions is an answer).
    count
        The metric counts events: its window is the whole analysed window, not its events' spans.
    same_side
        Only events of the metric's side count (a left repetition for a left range); False when
        the metric's side is not the events' side (the pelvis's low side, the free side).
    findings
        Code patterns (``fnmatch``; ``{side}`` is the metric's side, any side when it has none) of the
        findings that rest on this metric: withdrawn with it, and told what it rests on (``rests_on``
        in their evidence).
    gated
        False for a metric that is itself a coverage (never withheld for low coverage).
    """

    inputs: tuple[str, ...]
    event: str | None = None
    min_events: int = 1
    count: bool = False
    same_side: bool = True
    findings: tuple[str, ...] = ()
    gated: bool = True


def _stride_basis(series: str, findings: tuple[str, ...] = ()) -> Basis:
    return Basis((series,), "stride", MIN_STRIDES, same_side=False, findings=findings)


def _asym(code: str) -> tuple[str, ...]:
    """The codes :func:`kinematics.protocols._common.asymmetry_finding` gives a left-right comparison."""
    return (f"{code}_asymmetry", f"{code}_asymmetry_inconclusive", f"{code}_symmetric")


_CONTACTS = Basis(("{side}_ankle", *_HIPS), "initial_contact", count=True)
_HIP_FLEXION_EITHER = "hip_flexion_left_deg|hip_flexion_right_deg"
_BRIDGE = (*_SHOULDERS, *_HIPS, "left_knee", "right_knee")  # the supine hip angle of the joints' midpoints
_SUPINE_SIDE = (*_SHOULDERS, *_HIPS, "{side}_knee")  # the trunk line of the midpoints, one thigh

#: ``"protocol:metric"`` (or ``"protocol/qualifier:metric"``, the qualifier being the view or the
#: posture the protocol measured in) -> what the metric rests on. Looked up most specific first.
BASES: dict[str, Basis] = {
    # walking: the window is the passes; contacts are found on the ankles ahead of the hips
    "gait:rep_count": _CONTACTS,
    "gait:step_count": _CONTACTS,
    "gait:cadence_steps_per_min": Basis(
        ("left_ankle", "right_ankle", *_HIPS),
        "initial_contact",
        MIN_STEPS_FOR_RATE,
        same_side=False,
        findings=("cadence",),
    ),
    "gait:step_time_s": Basis(
        ("left_ankle", "right_ankle", *_HIPS), "initial_contact", MIN_STEP_TIMES, findings=_asym("step_time")
    ),
    "gait:pass_count": Basis((*_SHOULDERS, *_HIPS), "pass", count=True),
    "gait:hip_flexion_coverage_pct": Basis(("hip_flexion_{side}_deg",), gated=False),
    "gait:hip_flexion_range_deg": Basis(("hip_flexion_{side}_deg",), "stride", MIN_STRIDES),
    "gait:hip_flexion_range_per_stride_deg": Basis(
        ("hip_flexion_{side}_deg",), "stride", MIN_STRIDES, findings=_asym("hip_range")
    ),
    "gait/sagittal:stride_count": Basis(("hip_flexion_{side}_deg",), "stride", count=True),
    "gait/frontal:stride_count": Basis(("pelvic_obliquity_deg",), "stride", count=True),
    "gait:pelvic_obliquity_range_per_stride_deg": _stride_basis("pelvic_obliquity_deg", ("pelvic_drop_*",)),
    "gait:pelvic_drop_deg": _stride_basis("pelvic_obliquity_deg", ("pelvic_drop_*",)),
    # bridge: the supine hip angle
    "bridge:rep_count": Basis(_BRIDGE, "rep", count=True),
    "bridge:hip_extension_reached_deg": Basis(
        _BRIDGE, "rep", findings=("bridge_full", "bridge_short", "bridge_top_inconclusive", "hip_extension_reference")
    ),
    "bridge:hold_count": Basis(_BRIDGE, "hold", count=True),
    "bridge:hold_duration_s": Basis(_BRIDGE, "hold", findings=("bridge_holds",)),
    # single-leg stance: the stance detector's ankles and hips, the pelvis and trunk during the stance
    "single_leg_stance:rep_count": Basis(_FEET, "single_leg_stance", count=True),
    "single_leg_stance:stance_duration_s": Basis(_FEET, "single_leg_stance", findings=("hold_*_{side}",)),
    # the drop's side is the low side, not the standing leg's: its findings go for both legs
    "single_leg_stance:pelvic_drop_deg": Basis(
        ("pelvic_obliquity_deg",),
        "single_leg_stance",
        same_side=False,
        findings=("pelvic_drop_*_stance*", "pelvis_level*_stance"),
    ),
    "single_leg_stance:trunk_lean_toward_stance_deg": Basis(("trunk_lean_lateral_deg",), "single_leg_stance"),
    # sit-to-stand: repetitions of hip height above the ankles
    "sit_to_stand:rep_count": Basis(_FEET, "rep", count=True),
    "sit_to_stand:time_per_rep_s": Basis(_FEET, "rep", findings=("sit_to_stand_time",)),
    "sit_to_stand:total_time_s": Basis(_FEET, "rep"),
    "sit_to_stand:hip_flexion_range_deg": Basis((_HIP_FLEXION_EITHER,), "rep", findings=("hip_rom_reference",)),
    "sit_to_stand:peak_hip_extension_velocity_deg_s": Basis(
        (_HIP_FLEXION_EITHER,), "rep", findings=("hip_velocity_reference",)
    ),
    "sit_to_stand:pelvic_drop_deg": Basis(
        ("pelvic_obliquity_deg",), "rep", same_side=False, findings=("pelvic_tilt_standing*", "pelvis_level_standing")
    ),
    "sit_to_stand:trunk_lean_lateral_change_deg": Basis(("trunk_lean_lateral_deg",), "rep"),
    # squat: side-on, repetitions of hip flexion (either side); from the front, of hip height
    "squat/sagittal:rep_count": Basis((_HIP_FLEXION_EITHER,), "rep", count=True),
    "squat/frontal:rep_count": Basis(_FEET, "rep", count=True),
    "squat:squat_depth_hip_flexion_deg": Basis((_HIP_FLEXION_EITHER,), "rep", findings=("squat_depth",)),
    "squat:peak_hip_flexion_deg": Basis(("hip_flexion_{side}_deg",), "rep", findings=_asym("hip_flexion")),
    "squat:trunk_lean_forward_at_depth_deg": Basis(("trunk_lean_forward_deg",), "rep"),
    "squat:squat_descent_leg_lengths": Basis(_FEET, "rep"),
    "squat:pelvic_drop_deg": Basis(
        ("pelvic_obliquity_deg",), "rep", same_side=False, findings=("pelvic_tilt_at_depth*", "pelvis_level_at_depth")
    ),
    "squat:trunk_lean_lateral_change_deg": Basis(("trunk_lean_lateral_deg",), "rep"),
    "squat:knee_fppa_at_depth_deg": Basis(
        (*_HIPS, "{side}_knee", "{side}_ankle"), "rep", findings=("knee_fppa_{side}", *_asym("knee_fppa"))
    ),
    # leg lifts: each side's repetitions of that hip's angle
    "standing_hip_abduction:rep_count": Basis(("hip_abduction_{side}_deg",), "rep", count=True),
    "standing_hip_abduction:hip_abduction_range_deg": Basis(
        ("hip_abduction_{side}_deg",), "rep", findings=("hip_abduction_range_{side}",)
    ),
    "standing_hip_abduction:hold_count": Basis(("hip_abduction_{side}_deg",), "hold", count=True),
    "standing_hip_abduction:hold_duration_s": Basis(("hip_abduction_{side}_deg",), "hold"),
    "standing_hip_abduction:pelvic_hike_deg": Basis(
        ("pelvic_obliquity_deg",),
        "rep",
        findings=("pelvic_hike_{side}_abduction*", "pelvic_drop_{side}_abduction", "pelvis_level_{side}_abduction"),
    ),
    "standing_hip_abduction:trunk_lean_toward_stance_deg": Basis(
        ("trunk_lean_lateral_deg",), "rep", findings=("trunk_lean_{side}_abduction",)
    ),
    "standing_hip_flexion:rep_count": Basis(("hip_flexion_{side}_deg",), "rep", count=True),
    "standing_hip_flexion:peak_hip_flexion_deg": Basis(
        ("hip_flexion_{side}_deg",), "rep", findings=("peak_hip_flexion_{side}", *_asym("hip_flexion"))
    ),
    "standing_hip_flexion:hip_flexion_range_deg": Basis(("hip_flexion_{side}_deg",), "rep"),
    "standing_hip_flexion:hold_count": Basis(("hip_flexion_{side}_deg",), "hold", count=True),
    "standing_hip_flexion:hold_duration_s": Basis(("hip_flexion_{side}_deg",), "hold"),
    "standing_hip_flexion/lying:rep_count": Basis(_SUPINE_SIDE, "rep", count=True),
    "standing_hip_flexion/lying:peak_hip_flexion_deg": Basis(
        _SUPINE_SIDE, "rep", findings=("peak_hip_flexion_{side}", *_asym("hip_flexion"))
    ),
    "standing_hip_flexion/lying:hip_flexion_range_deg": Basis(_SUPINE_SIDE, "rep"),
    "standing_hip_flexion/lying:hold_count": Basis(_SUPINE_SIDE, "hold", count=True),
    "standing_hip_flexion/lying:hold_duration_s": Basis(_SUPINE_SIDE, "hold"),
}


def basis_of(protocol: ProtocolResult, metric: ProtocolMetric, view: str) -> Basis | None:
    """The most specific entry of :data:`BASES` for ``metric``; None when the table has none."""
    posture = protocol.detection.posture if protocol.detection is not None else None
    for qualifier in (posture, view):
        if qualifier and (b := BASES.get(f"{protocol.protocol}/{qualifier}:{metric.name}")) is not None:
            return b
    return BASES.get(f"{protocol.protocol}:{metric.name}")


T = TypeVar("T")
Assess = Callable[[T, KinematicsResult, LandmarkSeries], ProtocolResult]


def with_evidence(assess: Assess[T]) -> Assess[T]:
    """Decorate a protocol's ``assess``: its metrics leave with their evidence (:func:`attach`)."""

    @functools.wraps(assess)
    def wrapper(self: T, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        return attach(assess(self, result, landmarks), result, landmarks)

    return wrapper


class _Inputs:
    """Per-frame measured mask and confidence of the protocol's inputs, each computed once."""

    def __init__(self, result: KinematicsResult, lm: LandmarkSeries) -> None:
        self.result, self.lm = result, lm
        self._points: dict[str, np.ndarray] | None = None
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def one(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(n,)`` measured, ``(n,)`` confidence of one series or landmark."""
        if name not in self._cache:
            if name in self.result.series:
                s = self.result.series[name]
                ok = s.valid & ~name_unavailable(self.result, name)
                self._cache[name] = (ok, np.where(ok, s.confidence, 0.0))
            elif name in self.lm.schema.names:
                if self._points is None:
                    self._points = C.masked_points(self.lm, self.result)
                ok = np.isfinite(self._points[name]).all(axis=1)
                self._cache[name] = (ok, np.where(ok, self.lm.vis(name), 0.0))
            else:  # a skeleton without this joint: never measured (the synthetic tests catch a misspelt name)
                n = len(self.result.t_s)
                self._cache[name] = (np.zeros(n, dtype=bool), np.zeros(n))
        return self._cache[name]

    def frames(self, inputs: tuple[str, ...], side: str | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """``(n,)`` every input measured, ``(n,)`` the least confident input's confidence there, and each input's
        own ``(n,)`` measured mask by its plain name (``"right ankle"``, ``"hip flexion left deg"``)."""
        n = len(self.result.t_s)
        ok, conf = np.ones(n, dtype=bool), np.ones(n)
        parts: dict[str, np.ndarray] = {}
        for entry in inputs:
            sides = [side] if side is not None else ["left", "right"]
            for s in sides if "{side}" in entry else [None]:
                alternatives = entry.format(side=s).split("|") if s else entry.split("|")
                any_ok, best = np.zeros(n, dtype=bool), np.zeros(n)
                for name in alternatives:
                    a_ok, a_conf = self.one(name)
                    any_ok |= a_ok
                    best = np.maximum(best, a_conf)
                ok &= any_ok
                conf = np.minimum(conf, best)
                parts[" or ".join(alternatives).replace("_", " ")] = any_ok
        return ok, np.where(ok, conf, 0.0), parts


def name_unavailable(result: KinematicsResult, name: str) -> np.ndarray:
    """All True when the pipeline withheld series ``name`` (wrong view), else all False."""
    return np.full(len(result.t_s), name in result.unavailable)


def _events(protocol: ProtocolResult, metric: ProtocolMetric, basis: Basis) -> list[ProtocolEvent]:
    kind = "initial_contact" if basis.event == "stride" else basis.event
    out = [e for e in protocol.events if e.type == kind]
    if metric.pass_index is not None:
        out = [e for e in out if e.pass_index == metric.pass_index]
    if basis.same_side and metric.side is not None:
        out = [e for e in out if e.side is None or e.side == metric.side]
    return out


def _window(
    t: np.ndarray, protocol: ProtocolResult, metric: ProtocolMetric, basis: Basis, events: list[ProtocolEvent]
) -> np.ndarray:
    """``(n,)`` bool: the frames the metric describes."""
    passes = [e for e in protocol.events if e.type == "pass"]
    if metric.pass_index is not None:
        passes = [e for e in passes if e.pass_index == metric.pass_index]
    spans = [(e.start_s, e.end_s) for e in passes if e.end_s is not None]
    if not spans and not basis.count:
        spans = [(e.start_s, e.end_s) for e in events if e.end_s is not None]
    if not spans:
        return np.ones(len(t), dtype=bool)
    inside = np.zeros(len(t), dtype=bool)
    for a, b in spans:
        inside |= (t >= a) & (t <= b)
    return inside


def _short_of(parts: dict[str, np.ndarray], window: np.ndarray) -> str:
    """The inputs missing in ``window``, least measured first, each with its own share: what was not seen."""
    shares = sorted((float(np.mean(v[window])), name) for name, v in parts.items())
    missing = [f"{name} {share:.0%}" for share, name in shares if share < 0.995]
    return ", ".join(missing)


def _rests_on(code: str, basis: Basis, side: str | None) -> bool:
    return any(fnmatch.fnmatchcase(code, p.format(side=side or "*")) for p in basis.findings)


def _told(finding: Finding, m: ProtocolMetric) -> Finding:
    """``finding`` with what metric ``m`` rests on added to its evidence (``rests_on``, one entry per metric)."""
    entry = {
        "metric": m.name,
        "side": m.side,
        "n_events": m.n_events,
        "event_kind": m.event_kind,
        "coverage": m.coverage,
        "confidence": m.confidence,
    }
    previous = list(finding.evidence.get("rests_on", []))  # type: ignore[call-overload]
    return replace(finding, evidence={**finding.evidence, "rests_on": [*previous, entry]})


def attach(protocol: ProtocolResult, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
    """``protocol`` with every metric's ``confidence``, ``coverage``, ``n_events`` and ``event_kind``.

    Withholds (not measurable, with the reason) a measured value whose coverage is below
    :data:`MIN_COVERAGE` or that rests on fewer events than its :class:`Basis` needs, and
    withdraws the findings that rest on it (:func:`judge`).
    """
    if not protocol.metrics or len(result.t_s) == 0:
        return protocol
    inputs = _Inputs(result, landmarks)
    t = result.t_s

    def measure(m: ProtocolMetric, basis: Basis, events: list[ProtocolEvent]) -> Measured:
        window = _window(t, protocol, m, basis, events)
        ok, conf, parts = inputs.frames(basis.inputs, m.side)
        coverage = float(np.mean(ok[window])) if window.any() else 0.0
        input_conf = float(np.mean(conf[window & ok])) if (window & ok).any() else 0.0
        return Measured(
            coverage,
            input_conf,
            "the analysed frames had every input it needs measured",
            lambda: f"measured in: {_short_of(parts, window)}",
        )

    return judge(protocol, lambda m: basis_of(protocol, m, result.view.view), measure)


@dataclass(frozen=True)
class Measured:
    """How much of what a metric describes was measured, as the source of the samples tells it.

    Parameters
    ----------
    coverage
        Fraction of the window (video frames, sensor samples) in which every input was measured.
    input_confidence
        Mean confidence of the inputs over the measured part of the window (1 for a sensor's valid samples).
    of_what
        What ``coverage`` is a fraction of, for the reason: "the analysed frames had every input it needs
        measured", "the recording had valid samples".
    missing
        What was not measured, for the reason (called only when the value is withheld for it).
    """

    coverage: float
    input_confidence: float
    of_what: str
    missing: Callable[[], str]


def shortfall(measured: Measured, basis: Basis, n_events: int | None) -> str | None:
    """Why a value on this evidence is not measurable (coverage below :data:`MIN_COVERAGE`, or fewer events
    than ``basis.min_events``, which a count is never withheld for); None when it is measurable."""
    if measured.coverage < MIN_COVERAGE:
        return f"only {measured.coverage:.0%} of {measured.of_what} (need {MIN_COVERAGE:.0%}; {measured.missing()})"
    kind = EVENT_KIND.get(basis.event) if basis.event else None
    if not basis.count and kind and n_events is not None and n_events < basis.min_events:
        return f"rests on {n_events} {kind}(s); need at least {basis.min_events}"
    return None


def judge(
    protocol: ProtocolResult,
    basis_for: Callable[[ProtocolMetric], Basis | None],
    measure: Callable[[ProtocolMetric, Basis, list[ProtocolEvent]], Measured],
) -> ProtocolResult:
    """The rule every protocol metric's evidence follows, whatever measured it (camera or sensor).

    For each metric with a :class:`Basis` (``basis_for``): its events, ``measure``'s coverage and input
    confidence, then ``confidence`` = coverage x input confidence x the events' mean confidence; a measured
    value under :data:`MIN_COVERAGE` or on fewer events than ``min_events`` becomes not measurable with the
    reason, its findings are withdrawn and a ``weak_protocol_evidence`` warning lists it.
    """
    metrics: list[ProtocolMetric] = []
    withdrawn: list[str] = []
    findings = list(protocol.findings)
    for m in protocol.metrics:
        basis = basis_for(m)
        if basis is None:
            metrics.append(m)
            continue
        events = _events(protocol, m, basis)
        measured = measure(m, basis, events)
        coverage = measured.coverage
        event_conf = float(np.mean([e.confidence for e in events])) if events and basis.event else 1.0
        n_events = m.n_events
        if n_events is None and basis.event is not None and basis.event != "stride":
            n_events = len(events)
        kind = EVENT_KIND.get(basis.event) if basis.event else None
        m = replace(
            m,
            confidence=round(coverage * measured.input_confidence * event_conf, 3),
            coverage=round(coverage, 3),
            n_events=n_events,
            event_kind=kind,
        )
        if m.measurable and m.value is not None and basis.gated:
            why = shortfall(measured, basis, n_events)
            if why is not None:
                m = replace(m, value=None, ci95=None, measurable=False, reason=why)
                where = f" (pass_index {m.pass_index})" if m.pass_index is not None else ""
                withdrawn.append(f"{m.name}{f' ({m.side})' if m.side else ''}{where}: {why}")
                if m.pass_index is None:
                    findings = [f for f in findings if not _rests_on(f.code, basis, m.side)]
        if m.measurable and m.pass_index is None and basis.findings:
            findings = [_told(f, m) if _rests_on(f.code, basis, m.side) else f for f in findings]
        metrics.append(m)
    quality = list(protocol.quality)
    if withdrawn:
        quality.append(
            QualityIssue(
                "weak_protocol_evidence",
                "warning",
                "withheld for too little evidence, with the findings that rest on them: " + "; ".join(withdrawn),
            )
        )
    return replace(protocol, metrics=metrics, findings=findings, quality=quality)
