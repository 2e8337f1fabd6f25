"""Walking, and the passes of a walk: stretches of steady progression between entering, turning and leaving.

Two cues, both read in the picture (never from depth alone):

* **Alternating feet.** The leading foot changes at every step. Side-on, the
  lead is the difference of the two ankles along image x; from the front (or
  back), along image y (the foot nearer the camera is lower in the picture,
  and the swing foot lifts). A change of lead is counted when the difference
  crosses zero with hysteresis: ``ALTERNATION_SIDE`` = 0.10 leg length side-on
  (the ankles pass each other by ~0.3-0.6 leg lengths in a walk, and
  BlazePose's jitter is ~0.01), ``ALTERNATION_FRONT`` = 0.05 from the front
  (about half the synthetic treadmill walk's 0.12-0.24 peak). Standing,
  jumping with both feet or moving the arms leaves the lead where it is.
* **Progression of the hips.** Side-on, the hip midpoint crosses the picture:
  at least ``MIN_SPEED`` = 0.3 leg lengths per second (about 0.27 m/s, slower
  than slow pathological gait, ~0.4 m/s) averaged over ``SPEED_WINDOW_S`` = 1 s
  (one stride, so the speed's rise and fall within a stride averages out).
  From the front, the body grows or shrinks in the picture by at least
  ``MIN_SCALE_RATE`` = 5 % per second (1 m/s seen from 20 m).

A **pass** is a run of samples progressing one way for at least
``MIN_PASS_S`` = 1 s; side-on it must also travel at least one leg length.
Samples that a side-on recording sees from the front or at an angle (per
sample, :attr:`kinematics.view.ViewEstimate.per_sample`) are a turn and end
the pass, as does a reversal of direction; entering and leaving the picture
end it too, since hips out of the picture are not measured. Feet alternating
with the hips in place (a treadmill) make one ``in_place`` pass over the whole
walking stretch, side-on only when the ankles pass each other by at least
``TREADMILL_RANGE`` = 0.4 leg lengths (0.2 each way, Zeni's minimum
excursion), so that marching on the spot is not taken for walking. Without
progression the evidence is weaker, so an in-place pass needs two more
changes of lead than ``MIN_ALTERNATIONS`` (six steps) at a steady rhythm
(stride times, every other change of lead, vary by at most ``MAX_STEP_CV`` = 30 %,
coefficient of variation; a limp may make left and right steps differ):
a lunge or a stumble changes the lead a few times at an uneven rhythm.

**Walking** is seen when a pass holds at least ``MIN_ALTERNATIONS`` = 3
changes of the leading foot (four steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinematics.filtering import contiguous_runs
from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.series import LandmarkSeries, Series

__all__ = [
    "ALTERNATION_FRONT",
    "ALTERNATION_SIDE",
    "MIN_ALTERNATIONS",
    "MIN_PASS_S",
    "MIN_SCALE_RATE",
    "MIN_SPEED",
    "SPEED_WINDOW_S",
    "TREADMILL_RANGE",
    "Pass",
    "Walking",
    "find_walking",
]

ALTERNATION_SIDE = 0.10
ALTERNATION_FRONT = 0.05
MIN_SPEED = 0.3
SPEED_WINDOW_S = 1.0
MIN_SCALE_RATE = 0.05
MIN_PASS_S = 1.0
TREADMILL_RANGE = 0.4
MIN_ALTERNATIONS = 3
IN_PLACE_EXTRA = 2
MAX_STEP_CV = 0.3
MAX_STEP_S = 1.5  # a change of lead later than this after the last one starts a new walking stretch

Direction = Literal["left_to_right", "right_to_left", "toward_camera", "away_from_camera", "in_place"]


@dataclass(frozen=True)
class Pass:
    """One stretch of walking one way.

    Attributes
    ----------
    start_s, end_s
        Its first and last sample's time.
    direction
        Across the picture (side-on), toward or away from the camera, or in place (treadmill).
    travel
        How far the hips moved across the picture, in leg lengths (0 in place or from the front).
    alternations
        Changes of the leading foot inside the pass.
    """

    start_s: float
    end_s: float
    direction: Direction
    travel: float
    alternations: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Walking:
    """The passes of a recording and whether walking was seen."""

    passes: list[Pass]
    alternation_s: np.ndarray  # times at which the leading foot changed
    axis: Literal["x", "y"]

    @property
    def detected(self) -> bool:
        return any(p.alternations >= MIN_ALTERNATIONS for p in self.passes)

    def describe(self) -> str:
        """Plain words: what walking was seen."""
        walks = [p for p in self.passes if p.alternations >= MIN_ALTERNATIONS]
        if not walks:
            n = len(self.alternation_s)
            return "no walking" + (f" ({n} change(s) of the leading foot, no steady walk)" if n else "")
        parts = [f"{p.direction.replace('_', ' ')} for {p.duration_s:.1f} s" for p in walks]
        return f"walking: {len(walks)} pass(es) ({'; '.join(parts)})"


def _alternations(lead: np.ndarray, t_s: np.ndarray, hysteresis: float) -> np.ndarray:
    """Times where ``lead`` changes sign with hysteresis (NaN samples are skipped)."""
    out, state = [], 0
    for x, t in zip(lead, t_s, strict=True):
        if not np.isfinite(x):
            continue
        if x > hysteresis and state <= 0:
            if state < 0:
                out.append(t)
            state = 1
        elif x < -hysteresis and state >= 0:
            if state > 0:
                out.append(t)
            state = -1
    return np.array(out, dtype=float)


def _mean_over(values: np.ndarray, t_s: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average over ``window_s`` of the measured samples.

    NaN at measured samples' ends of the window hold less than half of it: at the start and end of
    a recording (or of a stretch in view), the average narrows to the half window that exists.
    """
    ok = np.isfinite(values)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    good = np.concatenate([[0], np.cumsum(ok)])
    lo = np.searchsorted(t_s, t_s - window_s / 2, side="left")
    hi = np.searchsorted(t_s, t_s + window_s / 2, side="right")
    n = good[hi] - good[lo]
    dt = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c[hi] - c[lo]) / n
    return np.where(ok & (n * dt >= window_s / 2), mean, np.nan)


def find_walking(lm: LandmarkSeries, result: KinematicsResult) -> Walking:
    """The passes of a recording (see the module's rules).

    Parameters
    ----------
    lm
        Image or world landmarks; world landmarks have their origin at the hips, so
        they show no progression: only in-place passes are found in them.
    result
        The pipeline's result on ``lm`` (masking, filter settings, per-sample view).
    """
    t = result.t_s
    p = C.masked_points(lm, result)
    leg = C.leg_length(p, lm.space)
    view = result.view.view
    axis: Literal["x", "y"] = "y" if view == "frontal" else "x"
    k = 1 if axis == "y" else 0
    lead = C.smooth(result, p["left_ankle"][:, k] - p["right_ankle"][:, k]) / leg
    alternation_s = _alternations(lead, t, ALTERNATION_FRONT if axis == "y" else ALTERNATION_SIDE)
    if len(t) < 3 or not np.isfinite(leg):
        return Walking([], alternation_s, axis)
    passes = _progression_passes(lm, result, p, leg, alternation_s)
    if not passes:
        passes = _in_place(t, lead, alternation_s, axis)
    return Walking(passes, alternation_s, axis)


def _progression_passes(
    lm: LandmarkSeries, result: KinematicsResult, p: dict[str, np.ndarray], leg: float, alternation_s: np.ndarray
) -> list[Pass]:
    t = result.t_s
    if lm.space != "image_norm":
        return []  # world landmarks are centred on the hips: no progression to see
    frontal = result.view.view == "frontal"
    if frontal:
        # shoulder and hip widths: unlike heights, they do not change as the trunk leans or the knees bend
        size = np.linalg.norm((p["left_shoulder"] - p["right_shoulder"])[:, :2], axis=1) + np.linalg.norm(
            (p["left_hip"] - p["right_hip"])[:, :2], axis=1
        )
        position = C.smooth(result, np.log(np.where(size > 0, size, np.nan)))
        threshold = MIN_SCALE_RATE
    else:
        position = C.smooth(result, 0.5 * (p["left_hip"][:, 0] + p["right_hip"][:, 0])) / leg
        threshold = MIN_SPEED
    velocity = _mean_over(C.derivative(Series(t, position, "1", np.isfinite(position) * 1.0), 0.1), t, SPEED_WINDOW_S)
    same_view = result.view.per_sample == result.view.view  # side-on turns pass through frontal and oblique
    passes: list[Pass] = []
    for sign in (1.0, -1.0):
        moving = np.nan_to_num(velocity * sign, nan=0.0) >= threshold
        for a, b in contiguous_runs(moving & same_view):
            start, end = float(t[a]), float(t[b - 1])
            travel = 0.0 if frontal else float(abs(position[b - 1] - position[a]))
            if end - start < MIN_PASS_S or (not frontal and travel < 1.0):
                continue
            if frontal:
                direction: Direction = "toward_camera" if sign > 0 else "away_from_camera"
            else:
                direction = "left_to_right" if sign > 0 else "right_to_left"
            n = int(np.sum((alternation_s >= start) & (alternation_s <= end)))
            if n == 0:
                continue  # moving without stepping (leaning, squatting, the camera moving): not a walk
            passes.append(Pass(start, end, direction, round(travel, 2), n))
    return sorted(passes, key=lambda q: q.start_s)


def _in_place(t: np.ndarray, lead: np.ndarray, alternation_s: np.ndarray, axis: str) -> list[Pass]:
    """Feet alternating with the hips in place: one pass per stretch of steady alternation."""
    if len(alternation_s) < MIN_ALTERNATIONS + IN_PLACE_EXTRA:
        return []
    ok = np.isfinite(lead)
    if axis == "x" and float(np.ptp(np.percentile(lead[ok], [5, 95]))) < TREADMILL_RANGE:
        return []
    breaks = np.flatnonzero(np.diff(alternation_s) > MAX_STEP_S)
    out = []
    for chunk in np.split(alternation_s, breaks + 1):
        strides = chunk[2:] - chunk[:-2]  # every other change of lead: left and right steps may differ
        if len(chunk) < MIN_ALTERNATIONS + IN_PLACE_EXTRA or np.std(strides) > MAX_STEP_CV * np.mean(strides):
            continue
        # the stretch reaches half a step beyond its first and last change of lead, within the recording
        half = 0.5 * float(np.median(np.diff(chunk)))
        start, end = max(float(t[0]), chunk[0] - half), min(float(t[-1]), chunk[-1] + half)
        if start - float(t[0]) <= MAX_STEP_S:
            start = float(t[0])
        if float(t[-1]) - end <= MAX_STEP_S:
            end = float(t[-1])
        out.append(Pass(start, end, "in_place", 0.0, len(chunk)))
    return out
