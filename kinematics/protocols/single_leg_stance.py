"""Timed single-leg stance (Trendelenburg test), filmed from the front.

The patient stands on one leg for up to 30 s. Measured per stance phase: how
long it lasted, how far the free side of the pelvis dropped below the
subject's own two-leg baseline, and how far the trunk leaned over the stance
leg to compensate.

Sources
-------
* Hardcastle & Nade, J Bone Joint Surg Br 1985;67(5):741-6: the test, a 30 s
  hold, abnormal if the free side drops or the hold cannot be kept.
* Minimal detectable change of the pelvis-on-femur angle in single-leg
  stance, 4 deg (SEM 2 deg), J Sport Rehabil 2007;16(4):326: the default
  threshold for calling a drop. No validated degree cut-off for an abnormal
  drop was found, so the threshold is configurable and reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import (
    Coaching,
    Finding,
    ProtocolEvent,
    ProtocolMetric,
    ProtocolResult,
    Threshold,
    judge,
)
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.events import StanceDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import SIDES, LandmarkSeries, Series, Side, other_side

__all__ = ["SingleLegStance"]

DROP_THRESHOLD = Threshold(
    "pelvic_drop_deg",
    4.0,
    "deg",
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
    "no validated cut-off for an abnormal drop exists; a drop below the MDC cannot be told from measurement error",
)
HOLD_TARGET = Threshold("stance_duration_s", 30.0, "s", "Hardcastle & Nade, J Bone Joint Surg Br 1985;67(5):741-6")
# Agreement of BlazePose obliquity with optical motion capture once each trial's offset is
# removed: 1.17 deg RMSE on the KERAAL CTK trial (docs/validation.md). Used as the
# instrument's own standard deviation in the 95 % interval.
INSTRUMENT_SD_DEG = 1.17


def _window(series: Series, start: float, end: float) -> np.ndarray:
    keep = (series.t_s >= start) & (series.t_s <= end) & series.valid
    return series.values[keep]


def _ci(
    diff: float, a: np.ndarray, b: np.ndarray, duration_a: float, duration_b: float, cutoff_hz: float
) -> tuple[float, float]:
    """95 % interval of a difference of two medians of low-passed samples, plus the instrument's error."""

    def se(x: np.ndarray, duration: float) -> float:
        if x.size < 2:
            return 0.0
        n_eff = max(2.0, min(x.size, 2.0 * cutoff_hz * duration))  # independent samples after the low-pass
        return 1.2533 * float(np.std(x, ddof=1)) / np.sqrt(n_eff)  # SE of a median

    half = 1.96 * float(np.sqrt(se(a, duration_a) ** 2 + se(b, duration_b) ** 2 + INSTRUMENT_SD_DEG**2))
    return (round(diff - half, 2), round(diff + half, 2))


@dataclass(frozen=True, kw_only=True)
class SingleLegStance:
    """Parameters are clinic-configurable; every threshold names its source.

    Parameters
    ----------
    drop_threshold_deg
        Drop of the free side, against the two-leg baseline, above which a
        finding is raised (see ``DROP_THRESHOLD``).
    hold_target_s
        The test's hold time.
    settle_s
        Skipped at the start of each stance phase while the body shifts over
        the stance leg.
    stance
        Finds the stance phases (see
        :class:`~kinematics.protocols.events.StanceDetector`: a foot lifted
        above 0.10 leg length for at least 1 s, both ends timed at 0.03).
    """

    drop_threshold_deg: float = DROP_THRESHOLD.value
    hold_target_s: float = HOLD_TARGET.value
    settle_s: float = 0.5
    stance: StanceDetector = StanceDetector()
    name: str = "single_leg_stance"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = {k: v for k, v in asdict(self).items() if k != "name"}
        coaching = check_capture(result, landmarks, views=VIEWS["single_leg_stance"], pelvis_measure=True)
        if coaching:  # rep_count is always reported (issue 4), here as not measurable
            return ProtocolResult(
                self.name,
                [],
                [ProtocolMetric("rep_count", None, "1", measurable=False, reason=coaching[0].message)],
                [],
                coaching,
                params,
            )
        how = (
            "Stand facing the camera on both feet, then lift one foot clearly off the ground (about a hand's "
            "height) and hold for at least a second, up to 30 s."
        )
        detection = presence.gate("single_leg_stance", landmarks, result)
        phases = self.stance.detect(landmarks)
        if not detection.detected or not phases:
            if detection.detected:  # a clinic's own stance detector found no phase where the default one did
                detection = presence.missing(detection, "standing on one leg")
            return presence.not_detected(self.name, params, detection, how)
        events: list[ProtocolEvent] = list(phases)
        obliquity = result.series["pelvic_obliquity_deg"]
        lean = result.series["trunk_lean_lateral_deg"]
        first = phases[0].start_s if phases else float(result.t_s[-1])
        lift = self.stance.lift(landmarks)
        both_down = np.abs(np.nan_to_num(lift, nan=1.0)) < self.stance.lift_off
        base_mask = both_down & (result.t_s < first)
        if base_mask.sum() < 3:
            base_mask = both_down
        if base_mask.sum() < 3:
            why = "no two-leg standing before the stance to compare against: start the recording standing on both feet"
            return ProtocolResult(
                self.name,
                events,
                [ProtocolMetric("rep_count", 0, "1")],
                [],
                [Coaching("no_baseline", why)],
                params,
                detection,
            )
        base_t = result.t_s[base_mask]
        base_obl = obliquity.values[base_mask & obliquity.valid]
        base_lean = lean.values[base_mask & lean.valid]
        cutoff = C.cutoff_of(result)
        metrics: list[ProtocolMetric] = [ProtocolMetric("rep_count", len(phases), "1")]
        findings: list[Finding] = []
        for side in SIDES:
            mine = [p for p in phases if p.side == side]
            if not mine:
                continue
            longest = max(mine, key=lambda p: (p.end_s or 0) - p.start_s)
            duration = float((longest.end_s or 0) - longest.start_s)
            censored = longest.end_s is not None and longest.end_s >= float(result.t_s[-1]) - 1e-9
            metrics.append(ProtocolMetric("stance_duration_s", round(duration, 2), "s", side))
            steady = _window(obliquity, longest.start_s + self.settle_s, longest.end_s or longest.start_s)
            if steady.size < 3 or base_obl.size < 3:
                metrics.append(
                    ProtocolMetric(
                        "pelvic_drop_deg",
                        None,
                        "deg",
                        other_side(side),
                        None,
                        False,
                        "pelvis not visible during the stance or the baseline",
                    )
                )
                continue
            # > 0: the free (lifted) side is lower than in two-leg stance.
            toward_free = 1.0 if side == "left" else -1.0
            drop = (float(np.median(steady)) - float(np.median(base_obl))) * toward_free
            low_side = other_side(side) if drop >= 0 else side
            ci = _ci(
                abs(drop),
                steady,
                base_obl,
                duration - self.settle_s,
                float(base_t[-1] - base_t[0]) if base_t.size > 1 else 1.0,
                cutoff,
            )
            metrics.append(ProtocolMetric("pelvic_drop_deg", round(abs(drop), 2), "deg", low_side, ci))
            lean_steady = _window(lean, longest.start_s + self.settle_s, longest.end_s or longest.start_s)
            if lean_steady.size >= 3 and base_lean.size >= 3:
                toward_stance = (float(np.median(lean_steady)) - float(np.median(base_lean))) * (
                    1.0 if side == "left" else -1.0
                )
                metrics.append(ProtocolMetric("trunk_lean_toward_stance_deg", round(toward_stance, 2), "deg", side))
            findings += self._findings(side, drop, ci, duration, censored)
        return ProtocolResult(self.name, events, metrics, findings, [], params, detection)

    def _findings(
        self, side: Side, drop: float, ci: tuple[float, float], duration: float, censored: bool
    ) -> list[Finding]:
        free = other_side(side)
        out: list[Finding] = []
        threshold = Threshold(
            DROP_THRESHOLD.name, self.drop_threshold_deg, "deg", DROP_THRESHOLD.source, DROP_THRESHOLD.note
        )
        evidence = {"pelvic_drop_deg": round(abs(drop), 2), "ci95": list(ci), "stance_leg": side}
        if drop < 0:
            out.append(
                Finding(
                    f"pelvis_level_or_raised_{side}_stance",
                    "normal",
                    f"Standing on the {side} leg, the {free} side of the pelvis did not drop (it rose by {abs(drop):.1f} deg).",
                    evidence,
                    threshold,
                    threshold.source,
                )
            )
        else:
            verdict = judge(drop, ci, threshold.value)
            if verdict == "above":
                out.append(
                    Finding(
                        f"pelvic_drop_{side}_stance",
                        "attention",
                        f"Standing on the {side} leg, the {free} side of the pelvis dropped by {drop:.1f} deg "
                        f"(95 % range {ci[0]:.1f} to {ci[1]:.1f}), more than {threshold.value:g} deg. "
                        f"This can point to weak hip abductors on the {side} side; a clinician should judge it.",
                        evidence,
                        threshold,
                        threshold.source,
                    )
                )
            elif verdict == "below":
                out.append(
                    Finding(
                        f"pelvis_level_{side}_stance",
                        "normal",
                        f"Standing on the {side} leg, the pelvis stayed level within {threshold.value:g} deg "
                        f"(drop {drop:.1f} deg, 95 % range {ci[0]:.1f} to {ci[1]:.1f}).",
                        evidence,
                        threshold,
                        threshold.source,
                    )
                )
            else:
                out.append(
                    Finding(
                        f"pelvic_drop_{side}_stance_inconclusive",
                        "inconclusive",
                        f"Standing on the {side} leg, the {free} side of the pelvis dropped by {drop:.1f} deg, but the "
                        f"measurement's 95 % range ({ci[0]:.1f} to {ci[1]:.1f} deg) includes the {threshold.value:g} deg "
                        "threshold: this recording cannot tell. Film again facing the camera, closer, and hold longer.",
                        evidence,
                        threshold,
                        threshold.source,
                    )
                )
        hold = Threshold(HOLD_TARGET.name, self.hold_target_s, "s", HOLD_TARGET.source)
        if duration >= hold.value:
            out.append(
                Finding(
                    f"hold_reached_{side}",
                    "normal",
                    f"Held single-leg stance on the {side} leg for {duration:.1f} s (target {hold.value:g} s).",
                    {"stance_duration_s": round(duration, 2)},
                    hold,
                    hold.source,
                )
            )
        elif censored:
            out.append(
                Finding(
                    f"hold_censored_{side}",
                    "info",
                    f"Held single-leg stance on the {side} leg for at least {duration:.1f} s; the recording "
                    f"ended first (target {hold.value:g} s).",
                    {"stance_duration_s": round(duration, 2)},
                    hold,
                    hold.source,
                )
            )
        else:
            out.append(
                Finding(
                    f"hold_short_{side}",
                    "attention",
                    f"Held single-leg stance on the {side} leg for {duration:.1f} s, less than the "
                    f"{hold.value:g} s target. Note any pain during the test: pain can make it invalid.",
                    {"stance_duration_s": round(duration, 2)},
                    hold,
                    hold.source,
                )
            )
        return out
