"""Is the named exercise happening? One gate every protocol passes before it measures anything.

A protocol that measures a movement which is not there gives a confident wrong
answer: a man standing still reported as walking at 110 steps per minute, a
standing man as lying on his back. So before scoring, every protocol calls
:func:`gate` with what its exercise needs, and :func:`rep_rule` on the
repetitions it found. When the movement is not there the protocol answers
"not detected", says what was seen instead, and gives no metric, finding or
suggestion (:func:`not_detected`).

What is seen (:func:`observe`) comes from the image plane (segment
orientations and positions, never depth alone), with every threshold stated:

* posture per sample: :mod:`kinematics.protocols.posture`;
* walking and its passes: :mod:`kinematics.protocols.passes`;
* single-leg stance: one foot at least 0.10 leg length above the other for at
  least 1 s (:class:`~kinematics.protocols.events.StanceDetector`), looked for
  from the front only (side-on, perspective raises the far foot in the picture);
* legs moving: an ankle's position relative to the hips spans at least
  ``LEG_MOVE`` = 0.2 leg length (5th to 95th percentile); arms moving: a wrist
  relative to the shoulders, ``ARM_MOVE`` = 0.3 leg length.

What each exercise needs (:data:`Need`):

=====================  ===========================================================
``walking``            walking seen (a pass with at least 3 changes of the leading foot)
``single_leg_stance``  standing, not walking, and one foot off the floor for >= 1 s
``standing_in_place``  mostly standing, not walking
``standing_or_lying``  as above, or mostly lying (a straight-leg raise)
``sit_to_stand``       seated for at least ``MIN_SEATED_S`` = 0.5 s and standing for at
                       least 0.5 s, not walking
``lying``              mostly lying
=====================  ===========================================================

Jumps are not looked for: the feet's height in the picture is their height
above the floor only for a level camera, and on the fixture clips a camera
looking down made steps away from it, and BlazePose's ankle jitter behind a
standing subject, read as jumps. A jump is instead caught by the repetition
rules (both legs move at once: :func:`rep_rule`).

"Mostly" is at least ``MIN_POSTURE_SHARE`` = 50 % of the samples whose posture
is known. The confidence of a detection is the share of samples in the needed
posture, times how far the movement's own count exceeds its minimum (capped at 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.protocols.base import Coaching, Detection, ProtocolEvent, ProtocolMetric, ProtocolResult
from kinematics.protocols.events import StanceDetector
from kinematics.protocols.passes import MIN_ALTERNATIONS, Walking, find_walking
from kinematics.protocols.posture import PostureEstimate, classify_posture
from kinematics.series import SIDES, LandmarkSeries, Series

__all__ = [
    "ARM_MOVE",
    "LEG_MOVE",
    "MIN_POSTURE_SHARE",
    "MIN_SEATED_S",
    "Activity",
    "FOOT_RISE",
    "Need",
    "feet_down",
    "foot_rises",
    "from_rest",
    "gate",
    "missing",
    "not_detected",
    "observe",
    "rep_rule",
    "whole",
]

Need = Literal["walking", "single_leg_stance", "standing_in_place", "standing_or_lying", "sit_to_stand", "lying"]

LEG_MOVE = 0.2
ARM_MOVE = 0.3
MIN_POSTURE_SHARE = 0.5
MIN_SEATED_S = 0.5
FOOT_RISE = 0.03
_STANCE = StanceDetector()


@dataclass(frozen=True, eq=False)
class Activity:
    """What the subject was seen doing in a recording (see the module's rules)."""

    posture: PostureEstimate
    walking: Walking
    stance: list[ProtocolEvent]
    legs_moved: bool
    arms_moved: bool
    t_s: np.ndarray

    def seen(self) -> str:
        """Plain words for what was seen, e.g. ``"standing still, moving the arms; no walking"``."""
        where = {"standing": "standing", "sitting": "sitting", "lying": "lying down"}.get(
            self.posture.posture, "in a posture that could not be told (bent over or partly out of view)"
        )
        if self.walking.detected:
            return self.walking.describe()
        if self.stance:
            longest = max((e.end_s or e.start_s) - e.start_s for e in self.stance)
            what = f"{where}, on one leg for up to {longest:.1f} s"
        elif self.posture.posture == "standing" and self.posture.seconds("sitting", self.t_s) >= MIN_SEATED_S:
            what = "standing and sitting"
        elif self.legs_moved:
            what = f"{where}, moving the legs in place"
        elif self.arms_moved:
            what = f"{where} still, moving the arms"
        else:
            what = f"{where} still"
        return f"{what}; {self.walking.describe()}"


def _span(x: np.ndarray) -> float:
    ok = x[np.isfinite(x).all(axis=1)]
    if len(ok) < 3:
        return 0.0
    lo, hi = np.percentile(ok, [5, 95], axis=0)
    return float(np.linalg.norm(hi - lo))


def observe(lm: LandmarkSeries, result: KinematicsResult) -> Activity:
    """What the subject did: posture, walking, one-leg stance, legs and arms moving."""
    p = C.masked_points(lm, result)
    leg = C.leg_length(p, lm.space)
    hip = 0.5 * (p["left_hip"] + p["right_hip"])[:, :2]
    shoulder = 0.5 * (p["left_shoulder"] + p["right_shoulder"])[:, :2]
    legs = max(_span(p[f"{s}_ankle"][:, :2] - hip) for s in SIDES) / leg if np.isfinite(leg) else 0.0
    arms = max(_span(p[f"{s}_wrist"][:, :2] - shoulder) for s in SIDES) / leg if np.isfinite(leg) else 0.0
    return Activity(
        posture=classify_posture(lm, result),
        walking=find_walking(lm, result),
        # ankle heights compare fairly only when both feet are as far from the camera: from the front
        stance=_STANCE.detect(lm) if len(lm) > 1 and result.view.view == "frontal" else [],
        legs_moved=legs >= LEG_MOVE,
        arms_moved=arms >= ARM_MOVE,
        t_s=result.t_s,
    )


_MOVEMENT: dict[Need, str] = {
    "walking": "walking",
    "single_leg_stance": "standing on one leg",
    "standing_in_place": "the exercise, standing in place",
    "standing_or_lying": "the exercise, standing in place or lying down",
    "sit_to_stand": "standing up from sitting",
    "lying": "lying down",
}

_RULE: dict[Need, str] = {
    "walking": f"the leading foot changes at least {MIN_ALTERNATIONS} times during steady walking "
    "(the hips progressing at least 0.3 leg lengths per second across the picture, or growing or "
    "shrinking 5 % per second toward or away from the camera, or a steady treadmill rhythm)",
    "single_leg_stance": "standing, not walking, one foot at least 0.10 leg length above the other for at least 1 s",
    "standing_in_place": "standing in at least half of the recording, not walking",
    "standing_or_lying": "standing or lying in at least half of the recording, not walking",
    "sit_to_stand": f"seated (hips at knee height) for at least {MIN_SEATED_S:g} s and standing for at least "
    f"{MIN_SEATED_S:g} s, not walking",
    "lying": "lying (body and trunk closer to horizontal than 60 and 50 deg from vertical) in at least half of "
    "the recording",
}


def gate(need: Need, lm: LandmarkSeries, result: KinematicsResult) -> Detection:
    """Whether what ``need`` names is in the recording, with the rule, a confidence and what was seen."""
    a = observe(lm, result)
    share = a.posture.share
    standing, lying = share.get("standing", 0.0), share.get("lying", 0.0)
    walking = a.walking.detected
    still = not walking
    strength = 1.0
    if need == "walking":
        best = max((q.alternations for q in a.walking.passes), default=0)
        ok, posture_share, strength = walking, standing, min(1.0, best / (2 * MIN_ALTERNATIONS))
    elif need == "single_leg_stance":
        ok, posture_share = (bool(a.stance) and not walking and standing >= MIN_POSTURE_SHARE), standing
    elif need == "standing_in_place":
        ok, posture_share = still and standing >= MIN_POSTURE_SHARE, standing
    elif need == "standing_or_lying":
        posture_share = max(standing, lying)
        ok = still and posture_share >= MIN_POSTURE_SHARE
    elif need == "sit_to_stand":
        seated = a.posture.seconds("sitting", result.t_s)
        up = a.posture.seconds("standing", result.t_s)
        ok = still and seated >= MIN_SEATED_S and up >= MIN_SEATED_S
        posture_share = share.get("sitting", 0.0) + standing
    else:
        ok, posture_share = lying >= MIN_POSTURE_SHARE, lying
    return Detection(
        movement=_MOVEMENT[need],
        detected=bool(ok),
        rule=_RULE[need],
        confidence=round(float(posture_share * strength) if ok else 0.0, 3),
        seen=a.seen(),
        posture=a.posture.posture,
    )


def rep_rule(
    reps: list[ProtocolEvent],
    by_side: dict[str, Series],
    *,
    together: bool,
    ratio: float = 0.5,
    floor: float = 8.0,
) -> list[ProtocolEvent]:
    """Repetitions that move the legs the way the exercise does.

    ``together=False`` (a leg lift): during a repetition of one side the other
    side's series moves by at most ``max(floor, ratio x`` the repetition's own
    excursion), in either direction. A jump, a lunge or a step moves both legs.
    ``together=True`` (a squat seen side-on): both sides move by at least
    ``ratio`` of the larger excursion, in the same direction. ``floor`` is in the
    series' unit (8 deg: about twice the hip angle's 5 deg instrument SD
    once low-passed over a repetition).
    """

    def excursion(s: Series, rep: ProtocolEvent) -> float:
        w = C.window(s, rep.start_s, rep.end_s or rep.start_s)
        if w.size < 2:
            return float("nan")
        rest = w[0]
        return float(w[np.argmax(np.abs(w - rest))] - rest)

    kept = []
    for rep in reps:
        if together:
            moves = [excursion(s, rep) for s in by_side.values()]
            big = max(abs(m) for m in moves if np.isfinite(m)) if any(np.isfinite(moves)) else 0.0
            if all(np.isfinite(m) and np.sign(m) == np.sign(moves[0]) and abs(m) >= ratio * big for m in moves):
                kept.append(rep)
        else:
            other = [s for side, s in by_side.items() if side != rep.side]
            own = abs(excursion(by_side[rep.side], rep)) if rep.side in by_side else float("nan")
            moved = [abs(excursion(s, rep)) for s in other]
            limit = max(floor, ratio * own) if np.isfinite(own) else floor
            if all(not np.isfinite(m) or m <= limit for m in moved):
                kept.append(rep)
    return kept


def not_detected(
    name: str, params: dict[str, object], detection: Detection, how: str, events: list[ProtocolEvent] | None = None
) -> ProtocolResult:
    """The answer when the exercise is not in the recording: what was looked for, what was seen, how to film it.

    No metric but ``rep_count`` (not measurable, with this reason), no finding, so no suggestion.
    """
    message = f"Not detected: {detection.movement}. Seen instead: {detection.seen}. {how}"
    return ProtocolResult(
        name,
        list(events or []),
        [ProtocolMetric("rep_count", None, "1", measurable=False, reason=message)],
        [],
        [Coaching("not_detected", message)],
        params,
        detection,
    )


def missing(detection: Detection, movement: str) -> Detection:
    """``detection`` with the protocol's own movement (its repetitions) not found in it."""
    return Detection(movement, False, detection.rule, 0.0, detection.seen, detection.posture)


def feet_down(lm: LandmarkSeries, reps: list[ProtocolEvent]) -> list[ProtocolEvent]:
    """Repetitions during which neither foot was lifted (``StanceDetector.lift_on``, 0.10 leg length).

    A two-leg exercise (squat, sit-to-stand) keeps both feet on the floor; a lunge or a
    step lifts one. The height difference of the ankles is taken against its value at the
    repetition's start: side-on, perspective puts the far foot higher in the picture.
    """
    lift = _STANCE.lift(lm)
    t = lm.t_s
    kept = []
    for rep in reps:
        inside = (t >= rep.start_s) & (t <= (rep.end_s or rep.start_s)) & np.isfinite(lift)
        if not inside.any():
            kept.append(rep)
            continue
        w = lift[inside]
        if float(np.max(np.abs(w - w[0]))) < _STANCE.lift_on:
            kept.append(rep)
    return kept


def foot_rises(lm: LandmarkSeries, reps: list[ProtocolEvent], *, min_rise: float = FOOT_RISE) -> list[ProtocolEvent]:
    """Repetitions of a leg lift during which that leg's ankle rises above the other one.

    By at least ``min_rise`` leg lengths against the repetition's start (``FOOT_RISE`` = 0.03:
    a straight leg raised 15 deg lifts the ankle by 1 - cos 15 deg = 0.034 leg length, three
    times BlazePose's ankle jitter). A trunk leaning over a standing leg flexes that hip
    without lifting its foot.
    """
    lift = _STANCE.lift(lm)  # > 0: the left ankle higher
    t = lm.t_s
    kept = []
    for rep in reps:
        sign = 1.0 if rep.side == "left" else -1.0
        inside = (t >= rep.start_s) & (t <= (rep.end_s or rep.start_s)) & np.isfinite(lift)
        if not inside.any():
            continue
        w = sign * lift[inside]
        if float(np.max(w - w[0])) >= min_rise:
            kept.append(rep)
    return kept


def whole(reps: list[ProtocolEvent], t_s: np.ndarray) -> list[ProtocolEvent]:
    """Repetitions seen from start to end: not cut by the recording's first or last sample.

    A movement already under way when the recording starts, or still going when it stops,
    cannot be told from a lean, a step or a reach; only whole repetitions are counted.
    """
    if len(t_s) == 0:
        return []
    first, last = float(t_s[0]), float(t_s[-1])
    return [r for r in reps if r.start_s > first and (r.end_s if r.end_s is not None else last) < last]


def from_rest(reps: list[ProtocolEvent], by_side: dict[str, Series], min_amplitude: float) -> list[ProtocolEvent]:
    """Repetitions whose peak rises at least ``min_amplitude`` above the rest before them.

    The repetition detector measures against the recording's overall resting level; a leg
    coming back from a movement that began before (the second half of a jumping jack, a
    step) crosses it too, but rises nowhere from its own rest. The protocols report the
    range from the rest before, so the minimum applies to that.
    """
    ordered = sorted(reps, key=lambda r: r.start_s)
    kept = []
    for i, rep in enumerate(ordered):
        series = by_side.get(rep.side or "")
        if series is None:
            continue
        rest = C.rest_before(series, ordered, i)
        peak = C.window(series, rep.start_s, rep.end_s or rep.start_s)
        if rest.any() and peak.size and float(np.max(peak) - np.median(series.values[rest])) >= min_amplitude:
            kept.append(rep)
    return kept
