"""The offline pipeline and protocol, re-run over the last ``window_s`` of a landmark stream."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kinematics.errors import NoPersonError
from kinematics.pipeline import ANGLE_SERIES, KinematicsPipeline, KinematicsResult, QualityIssue
from kinematics.protocols import PROTOCOLS, ExerciseProtocol, ProtocolEvent, ProtocolResult, quality_issues
from kinematics.series import BLAZEPOSE33, LandmarkSchema, LandmarkSeries, Space
from kinematics.withheld import Withheld

__all__ = ["COUNTED_EVENT", "HOLDING", "EventTally", "SlidingAssessment", "WindowUpdate"]

# The event whose number is each protocol's overall ``rep_count`` (kinematics/protocols/*.py).
COUNTED_EVENT: dict[str, str] = {
    "bridge": "rep",
    "gait": "initial_contact",
    "single_leg_stance": "single_leg_stance",
    "sit_to_stand": "rep",
    "squat": "rep",
    "standing_hip_abduction": "rep",
    "standing_hip_flexion": "rep",
}
# Events during which the patient holds a position; ``hold_s`` runs while one reaches the newest sample.
_HOLDS = ("hold", "single_leg_stance")
HOLDING = ("bridge", "single_leg_stance", "standing_hip_abduction", "standing_hip_flexion")  # protocols with holds


def _end(e: ProtocolEvent) -> float:
    return e.start_s if e.end_s is None else e.end_s


@dataclass
class EventTally:
    """Counted events merged across overlapping windows, each counted once.

    An event is *settled* by the last run that still sees it whole: when its start would fall
    out of the next window (``horizon_s``), it is counted for good and later windows only add
    events that start after it ended. Until then, the newest run's events are the count, so a
    stream shorter than the window counts exactly what the offline protocol counts over it.
    """

    settled: int = 0
    settled_until_s: float = -math.inf

    def update(self, events: list[ProtocolEvent], *, horizon_s: float) -> int:
        """The running count after one window's counted ``events``."""
        fresh = sorted((e for e in events if e.start_s > self.settled_until_s), key=lambda e: e.start_s)
        for e in fresh:
            if e.start_s >= horizon_s:
                break
            self.settled += 1
            self.settled_until_s = max(self.settled_until_s, _end(e))
        return self.settled + sum(e.start_s > self.settled_until_s for e in fresh)


@dataclass(frozen=True, eq=False)
class WindowUpdate:
    """What one run over the window publishes.

    Attributes
    ----------
    t_s
        ``(m,)`` the samples first published by this run (those after the previous run's).
    angles
        Every angle series (:data:`kinematics.pipeline.ANGLE_SERIES`) at ``t_s``; NaN where
        the pipeline withheld or could not measure it.
    latest
        Every angle at the newest sample, None where not measured.
    result, protocol
        The whole run (None when no pose was found in the window); the protocol is None
        without an exercise or when it has no protocol.
    count
        Counted events so far (:class:`EventTally`), None without a counting protocol.
    in_rep
        A counted event reaches the newest sample.
    hold_s
        How long a hold or single-leg stance reaching the newest sample has lasted, 0 when
        none does; None for protocols without holds.
    not_measured
        Every angle series -> the :mod:`kinematics.withheld` code of each sample at ``t_s``, None
        where it is measured: the run's own codes (:attr:`KinematicsResult.withheld`).
    latest_not_measured
        Every angle not measured at the newest sample -> ``(code, reason in words)``.
    quality
        What limited the run (:func:`kinematics.protocols.quality_issues`: the pipeline's issues,
        then the protocol's), as the offline assessment's ``quality`` lists them.
    """

    t_s: np.ndarray
    angles: dict[str, np.ndarray]
    latest: dict[str, float | None]
    result: KinematicsResult | None
    protocol: ProtocolResult | None
    count: int | None
    in_rep: bool
    hold_s: float | None
    not_measured: dict[str, list[str | None]] = field(default_factory=dict)
    latest_not_measured: dict[str, tuple[str, str]] = field(default_factory=dict)
    quality: list[QualityIssue] = field(default_factory=list)


@dataclass(kw_only=True)
class SlidingAssessment:
    """Feed landmarks one sample at a time; every ``interval_s`` the offline code runs over the window.

    Parameters
    ----------
    exercise
        A name in :data:`kinematics.protocols.PROTOCOLS`, or None for kinematics only.
    schema, space, image_size_wh
        As in :class:`kinematics.series.LandmarkSeries`.
    window_s
        How much of the past each run sees. The zero-phase filter and the yaw model's
        smoothing need a few seconds of context; the protocols' percentile rest levels need
        several repetitions.
    interval_s
        Stream time between runs: the latency of the published angles, and the CPU cost.
    pipeline
        The same :class:`KinematicsPipeline` the offline assessment uses.
    """

    exercise: str | None = None
    schema: LandmarkSchema = BLAZEPOSE33
    space: Space = "image_norm"
    image_size_wh: tuple[int, int] | None = None
    window_s: float = 20.0
    interval_s: float = 1.0
    pipeline: KinematicsPipeline = field(default_factory=KinematicsPipeline)
    _buffer: deque = field(default_factory=deque, init=False, repr=False)
    _last_run_s: float = field(default=-math.inf, init=False, repr=False)
    _published_s: float = field(default=-math.inf, init=False, repr=False)
    _tally: EventTally = field(default_factory=EventTally, init=False, repr=False)
    _pending: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.interval_s < self.window_s:
            raise ValueError(f"need 0 < interval_s < window_s, got {self.interval_s}, {self.window_s}")
        self.protocol: ExerciseProtocol | None = PROTOCOLS.get(self.exercise or "")

    @property
    def counts(self) -> bool:
        return self.protocol is not None and self.exercise in COUNTED_EVENT

    @property
    def newest_s(self) -> float | None:
        return self._buffer[-1][0] if self._buffer else None

    def push(
        self, t_s: float, xyz: np.ndarray | None, visibility: np.ndarray | None, *, run: bool | None = None
    ) -> WindowUpdate | None:
        """Add one sample (``xyz`` None: nobody found); returns the run's update when one ran.

        ``t_s`` must increase; an older or repeated time is ignored. ``run`` forces (True) or
        skips (False) a run; by default one runs when ``interval_s`` has passed since the last.
        """
        if self._buffer and t_s <= self._buffer[-1][0]:
            return None
        k = len(self.schema)
        if xyz is None or visibility is None:
            xyz, visibility = np.full((k, 3), np.nan), np.zeros(k)
        self._buffer.append((float(t_s), np.asarray(xyz, dtype=float), np.asarray(visibility, dtype=float)))
        while self._buffer[0][0] < t_s - self.window_s:
            self._buffer.popleft()
        self._pending = True
        due = t_s - self._last_run_s >= self.interval_s - 1e-9 if run is None else run
        return self.run() if due else None

    def flush(self) -> WindowUpdate | None:
        """Run over what has arrived since the last run (the end of a stream)."""
        return self.run() if self._pending else None

    def landmarks(self) -> LandmarkSeries | None:
        """The window as a landmark series."""
        if not self._buffer:
            return None
        t = np.array([b[0] for b in self._buffer])
        xyz = np.stack([b[1] for b in self._buffer])
        vis = np.stack([b[2] for b in self._buffer])
        return LandmarkSeries(t, xyz, vis, self.schema, self.space, self.image_size_wh)

    def run(self) -> WindowUpdate:
        """One run of the pipeline and the protocol over the window, now."""
        lm = self.landmarks()
        if lm is None:
            raise ValueError("nothing to run on: no sample has been pushed")
        now = float(lm.t_s[-1])
        new = lm.t_s > self._published_s
        self._last_run_s, self._published_s, self._pending = now, now, False
        try:
            result = self.pipeline.run(lm)
        except NoPersonError as exc:
            empty = {spec.name: np.full(int(new.sum()), np.nan) for spec in ANGLE_SERIES}
            count = self._tally.update([], horizon_s=self._horizon(now)) or None if self.counts else None
            # as offline: nobody in any frame is the one reason, said as the offline analysis says it
            nobody = [QualityIssue("frames_without_pose", "error", str(exc))]
            codes = {name: np.full(len(lm), "frames_without_pose", dtype=object) for name in empty}
            not_measured, latest_not = self._not_measured(Withheld.of(codes, nobody, {}), new)
            return WindowUpdate(
                lm.t_s[new],
                empty,
                dict.fromkeys(empty),
                None,
                None,
                count,
                False,
                self._hold(None, now),
                not_measured,
                latest_not,
                nobody,
            )
        protocol = self.protocol.assess(result, lm) if self.protocol is not None else None
        angles = {name: np.array(s.values[new]) for name, s in result.series.items()}
        latest = {name: None if math.isnan(v[-1]) else float(v[-1]) for name, v in angles.items()}
        not_measured, latest_not = self._not_measured(result.withheld, new) if result.withheld else ({}, {})
        count, in_rep = None, False
        if self.counts:
            counted = self._counted(protocol)
            count = self._tally.update(counted or [], horizon_s=self._horizon(now))
            if counted is None and not self._tally.settled:
                count = None  # as the report: not measurable (not detected, wrong view, ...), not zero
            in_rep = any(e.end_s is not None and e.end_s >= now - self._step(lm) for e in counted or [])
        return WindowUpdate(
            lm.t_s[new],
            angles,
            latest,
            result,
            protocol,
            count,
            in_rep,
            self._hold(protocol, now),
            not_measured,
            latest_not,
            quality_issues(result, protocol),
        )

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _not_measured(
        withheld: Withheld, new: np.ndarray
    ) -> tuple[dict[str, list[str | None]], dict[str, tuple[str, str]]]:
        """The codes of the published samples, and the code and reason of each angle at the newest one."""
        codes = {name: list(c[new]) for name, c in withheld.codes.items()}
        last = len(new) - 1
        latest = {name: why for name in withheld.codes if (why := withheld.at(name, last)) is not None}
        return codes, latest

    def _horizon(self, now: float) -> float:
        """Events starting before this would be cut by the next run's window: settle them now."""
        return now + 2 * self.interval_s - self.window_s

    def _counted(self, protocol: ProtocolResult | None) -> list[ProtocolEvent] | None:
        """The counted events, None when the protocol's ``rep_count`` is not measurable in the window."""
        if protocol is None or self.exercise is None:
            return None
        total = next((m for m in protocol.metrics if m.name == "rep_count" and m.side is None), None)
        if total is None or total.value is None:  # not detected, wrong view, ...: nothing counted
            return None
        kind = COUNTED_EVENT[self.exercise]
        return [e for e in protocol.events if e.type == kind]

    def _hold(self, protocol: ProtocolResult | None, now: float) -> float | None:
        if self.exercise not in HOLDING:
            return None
        if protocol is None:
            return 0.0
        step = self._step(None)
        ongoing = [e for e in protocol.events if e.type in _HOLDS and e.end_s is not None and e.end_s >= now - step]
        return round(now - min(e.start_s for e in ongoing), 3) if ongoing else 0.0

    def _step(self, lm: LandmarkSeries | None) -> float:
        """A little more than one sample interval: "reaches the newest sample" allows for it."""
        t = np.array([b[0] for b in self._buffer]) if lm is None else lm.t_s
        return 1.5 * float(np.median(np.diff(t))) if t.size > 1 else 0.0
