"""Repetitions, holds and single-leg stance phases, found in angle and landmark series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.filtering import GapFiller, contiguous_runs
from kinematics.protocols.base import ProtocolEvent
from kinematics.series import LandmarkSeries, Series, Side

__all__ = ["HoldDetector", "RepetitionDetector", "StanceDetector"]


@dataclass(frozen=True, kw_only=True)
class RepetitionDetector:
    """Repetitions as excursions of a series away from its resting level.

    Parameters
    ----------
    min_amplitude
        Smallest excursion (in the series' unit) counted as a repetition.
    min_duration_s
        Shorter excursions are ignored (a twitch, a tracking glitch).
    enter, leave
        Hysteresis, as fractions of the recording's excursion range above
        rest: a repetition starts when the series rises above ``enter`` and
        ends when it falls below ``leave``, so noise near one level cannot
        split or merge repetitions.
    direction
        ``+1``: excursions upward (flexion, abduction); ``-1``: downward.

    Notes
    -----
    Rest is the 10th percentile of the measured values (for ``direction=+1``)
    and the range is measured to the 90th percentile, so a recording that
    starts mid-movement still has a sensible rest level. Start and end are
    where the series crosses 10 % of the range around the excursion.
    """

    min_amplitude: float = 10.0
    min_duration_s: float = 0.4
    enter: float = 0.4
    leave: float = 0.25
    direction: int = 1

    def detect(self, series: Series, *, side: Side | None = None) -> list[ProtocolEvent]:
        if not 0 < self.leave < self.enter < 1:
            raise ValueError(f"need 0 < leave < enter < 1, got {self.leave}, {self.enter}")
        v = series.values * self.direction
        ok = ~np.isnan(v)
        if ok.sum() < 3:
            return []
        rest, top = np.percentile(v[ok], [10, 90])
        span = top - rest
        if span < self.min_amplitude:
            return []
        t = series.t_s
        x = np.where(ok, v, -np.inf)
        events: list[ProtocolEvent] = []
        i, n = 0, len(v)
        while i < n:
            if x[i] <= rest + self.enter * span:
                i += 1
                continue
            j = i
            while j < n and (x[j] >= rest + self.leave * span or not ok[j]):
                j += 1
            a = i
            while a > 0 and ok[a - 1] and x[a - 1] > rest + 0.1 * span:
                a -= 1
            b = min(j, n - 1)
            while b < n - 1 and ok[b + 1] and x[b] > rest + 0.1 * span:
                b += 1
            seg = slice(a, b + 1)
            k = a + int(np.nanargmax(np.where(ok[seg], v[seg], np.nan)))
            if t[b] - t[a] >= self.min_duration_s and v[k] - rest >= self.min_amplitude:
                conf = float(np.mean(series.confidence[seg]))
                events.append(ProtocolEvent("rep", float(t[a]), float(t[b]), float(t[k]), side, round(conf, 3)))
            i = j + 1
        return events


@dataclass(frozen=True, kw_only=True)
class HoldDetector:
    """Sustained holds near the peak of each repetition.

    Parameters
    ----------
    min_duration_s
        A hold lasts at least this long (1 s: the protocols' definition).
    tolerance, tolerance_fraction
        Samples within ``tolerance`` of the hold's level count as holding, in
        the series' unit; at least ``tolerance_fraction`` of the repetition's
        excursion is allowed too, for noise on large movements.
    edge_tolerance
        The hold's first and last samples are within this distance of its
        level: the ends of a run inside ``tolerance`` are trimmed while they
        are still on the way up or down. 1.0 (deg) is about one standard
        deviation of a low-passed thigh angle at BlazePose's measured jitter
        (0.7-0.9 deg, tests/protocols); without the trim a hold would include
        the last and first ~20 % of a smooth lift and lowering.
    direction
        ``+1``: the peak is a maximum; ``-1``: a minimum.

    Notes
    -----
    The hold's level is the median of the samples within ``tolerance`` of the
    repetition's extreme, so one noisy sample cannot set it (the extreme of a
    noisy plateau lies ~2 standard deviations above the plateau).
    """

    min_duration_s: float = 1.0
    tolerance: float = 3.0
    tolerance_fraction: float = 0.1
    edge_tolerance: float = 1.0
    direction: int = 1

    def detect(self, series: Series, reps: list[ProtocolEvent]) -> list[ProtocolEvent]:
        holds: list[ProtocolEvent] = []
        t, v = series.t_s, series.values * self.direction
        for rep in reps:
            inside = (t >= rep.start_s) & (t <= (rep.end_s if rep.end_s is not None else t[-1])) & ~np.isnan(v)
            if not inside.any():
                continue
            peak = float(np.max(v[inside]))
            low = float(np.min(v[inside]))
            tol = max(self.tolerance, self.tolerance_fraction * (peak - low))
            level = float(np.median(v[inside & (v >= peak - tol)]))
            near = inside & (v >= level - tol)
            for a, b in contiguous_runs(near):
                core = np.flatnonzero(v[a:b] >= level - self.edge_tolerance)
                if core.size == 0:
                    continue
                a, b = a + int(core[0]), a + int(core[-1]) + 1
                if t[b - 1] - t[a] >= self.min_duration_s:
                    holds.append(
                        ProtocolEvent(
                            "hold",
                            float(t[a]),
                            float(t[b - 1]),
                            None,
                            rep.side,
                            round(float(np.mean(series.confidence[a:b])), 3),
                        )
                    )
        return holds


@dataclass(frozen=True, kw_only=True)
class StanceDetector:
    """Single-leg stance phases: one foot clearly off the ground for a while.

    Parameters
    ----------
    lift_on, lift_off
        Hysteresis on the height difference of the two ankles, as a fraction
        of the leg length (hip to ankle): a foot is lifted above ``lift_on``
        and put down below ``lift_off``. 0.10 of an adult's leg is ~9 cm.
    min_duration_s
        Shorter lifts (a step, a stumble) are not a stance phase.
    max_gap_s
        Gaps in the ankles' visibility up to this long are bridged (the
        pipeline's :class:`~kinematics.filtering.GapFiller` default): a lifted
        foot hidden for a moment behind the standing leg does not end the
        stance. Longer gaps end it.
    edge
        Both ends of a phase are timed where the lift crosses this height:
        back from the ``lift_on`` crossing and on from the ``lift_off`` one.
        0.03 of a leg (~2.6 cm) is four standard deviations of the two ankles'
        height difference at BlazePose's measured jitter (2 px on a ~370 px
        leg, tests/kinematics/conftest.py); timing at ``lift_on`` instead would
        start a brisk 20 cm lift ~0.25 s late, since the ankle rises slowly at first.

    Notes
    -----
    Heights come from the image (or world) y axis, y down, so they do not
    depend on the view. The stance leg is the lower foot.
    """

    lift_on: float = 0.10
    lift_off: float = 0.05
    min_duration_s: float = 1.0
    max_gap_s: float = 0.25
    edge: float = 0.03

    def lift(self, lm: LandmarkSeries) -> np.ndarray:
        """``(n,)`` signed lift: > 0 when the LEFT ankle is higher, in leg lengths."""
        xyz = lm.metric_xyz()
        idx = lm.schema.index
        la, ra = xyz[:, idx("left_ankle")], xyz[:, idx("right_ankle")]
        lh, rh = xyz[:, idx("left_hip")], xyz[:, idx("right_hip")]
        leg = np.nanmedian(np.concatenate([np.linalg.norm(la - lh, axis=1), np.linalg.norm(ra - rh, axis=1)]))
        seen = (lm.vis("left_ankle") >= 0.5) & (lm.vis("right_ankle") >= 0.5)
        return np.where(seen, (ra[:, 1] - la[:, 1]) / leg, np.nan)

    def detect(self, lm: LandmarkSeries) -> list[ProtocolEvent]:
        t = lm.t_s
        d = GapFiller(max_gap_s=self.max_gap_s).fill(t, self.lift(lm))[0] if len(t) > 1 else self.lift(lm)
        d = np.nan_to_num(d)
        events: list[ProtocolEvent] = []
        state = 0  # +1 left foot up (stance right), -1 right foot up (stance left)
        start = 0
        for i, x in enumerate(d):
            if state == 0 and abs(x) > self.lift_on:
                state, start = (1 if x > 0 else -1), i
                while start > 0 and state * d[start - 1] >= self.edge:
                    start -= 1  # back to where the foot left the ground
            elif state != 0 and (state * x < self.lift_off or i == len(d) - 1):
                end = i
                while end < len(d) - 1 and state * d[end] >= self.edge:
                    end += 1  # on to where it is down again
                if t[end] - t[start] >= self.min_duration_s:
                    side: Side = "right" if state > 0 else "left"
                    events.append(ProtocolEvent("single_leg_stance", float(t[start]), float(t[end]), None, side))
                state = 0
        return events
