"""Standing hip abduction, filmed from the front.

The patient stands and lifts one leg out to the side, a number of times,
ideally pausing at the top. Measured per repetition of the moving leg: the
abduction range (peak minus the resting level just before the repetition),
how the pelvis on the moving side moved between rest and the top of the lift
(a *hike*, the trunk's side muscles lifting the leg, or a *drop*, the standing
leg's hip abductors not holding the pelvis level), how the trunk leaned, and
any hold of at least 1 s at the top.

While one leg is lifted the patient stands on the other: a drop of the moving
side is the Trendelenburg sign of the *standing* leg, so the single-leg-stance
threshold applies.

Sources
-------
* Minimal detectable change of the pelvis-on-femur angle in single-leg stance,
  4 deg (J Sport Rehabil 2007;16(4):326): a pelvic hike or drop smaller than
  this cannot be told from measurement error.
* Passive hip abduction 30-50 deg, goniometer (Wilson, Am Fam Physician 2014):
  a reference only; active standing abduction is usually smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import (
    Finding,
    ProtocolEvent,
    ProtocolMetric,
    ProtocolResult,
    Threshold,
    judge,
)
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.events import HoldDetector, RepetitionDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import SIDES, LandmarkSeries, Series, Side, other_side

__all__ = ["ABDUCTION_REFERENCE", "HIKE_THRESHOLD", "HOLD_MIN", "StandingHipAbduction"]

HIKE_THRESHOLD = Threshold(
    "pelvic_hike_or_drop_deg",
    4.0,
    "deg",
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
    "the lifting leg leaves the other in single-leg stance; no validated cut-off for an abnormal hike or drop exists",
)
ABDUCTION_REFERENCE = Threshold(
    "hip_abduction_reference_deg",
    30.0,
    "deg",
    "passive hip abduction 30-50 deg, goniometer (Wilson, Am Fam Physician 2014)",
    "lower end of the passive range; active standing abduction is usually smaller, so this is a reference, not a limit",
)
HOLD_MIN = Threshold(
    "hold_min_s",
    1.0,
    "s",
    "protocol definition (motionscript issue 4): a hold is a pause of at least 1 s at the top of a repetition",
)


@dataclass(frozen=True, kw_only=True)
class StandingHipAbduction:
    """Standing hip abduction; parameters are clinic-configurable, every threshold names its source.

    Parameters
    ----------
    hike_threshold_deg
        Pelvic hike or drop of the moving side (top of the lift against the
        rest before it) above which a finding is raised (``HIKE_THRESHOLD``).
    abduction_reference_deg
        Reference abduction the range is compared with, for information
        (``ABDUCTION_REFERENCE``).
    reps
        Repetition detector on each hip's abduction (deg): a lift of at least
        ``min_amplitude`` = 10 deg lasting ``min_duration_s`` = 0.4 s.
    holds
        Hold detector: at least ``HOLD_MIN`` = 1 s within ``tolerance`` = 3 deg
        (or ``tolerance_fraction`` = 10 % of the excursion) of the peak. The
        same tolerance defines "the top of the lift" for the pelvis and trunk.
    """

    hike_threshold_deg: float = HIKE_THRESHOLD.value
    abduction_reference_deg: float = ABDUCTION_REFERENCE.value
    reps: RepetitionDetector = RepetitionDetector(min_amplitude=10.0, min_duration_s=0.4)
    holds: HoldDetector = HoldDetector(min_duration_s=HOLD_MIN.value, tolerance=3.0, tolerance_fraction=0.1)
    name: str = "standing_hip_abduction"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        coaching = check_capture(result, landmarks, views=VIEWS["standing_hip_abduction"], pelvis_measure=True)
        if coaching:
            return C.unscored(self.name, params, coaching)
        how = (
            "Stand facing the camera and lift one leg out to the side "
            f"(at least {self.reps.min_amplitude:g} deg, knee straight), then lower it, several times."
        )
        detection = presence.gate("standing_in_place", landmarks, result)
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, how)
        abduction = {s: result.series[f"hip_abduction_{s}_deg"] for s in SIDES}
        found = _moving_reps({s: self.reps.detect(abduction[s], side=s) for s in abduction}, abduction)
        reps = presence.rep_rule(presence.whole(found, result.t_s), abduction, together=False)  # type: ignore[arg-type]
        reps = presence.from_rest(reps, abduction, self.reps.min_amplitude)  # type: ignore[arg-type]
        if not reps:
            lifts = (
                f"leg lifts to the side (one leg out by at least {self.reps.min_amplitude:g} deg while the other stays)"
            )
            return presence.not_detected(self.name, params, presence.missing(detection, lifts), how)
        obliquity = result.series["pelvic_obliquity_deg"]
        lean = result.series["trunk_lean_lateral_deg"]
        holds = [h for s in SIDES for h in self.holds.detect(abduction[s], [r for r in reps if r.side == s])]
        metrics = [ProtocolMetric("rep_count", len(reps), "1")]
        findings: list[Finding] = []
        for side in SIDES:
            mine = [r for r in reps if r.side == side]
            if not mine:
                continue
            m, f = self._side(side, mine, reps, abduction[side], obliquity, lean, holds, C.cutoff_of(result))
            metrics += m
            findings += f
        return ProtocolResult(
            self.name, sorted(reps + holds, key=lambda e: e.start_s), metrics, findings, [], params, detection
        )

    def _side(
        self,
        side: Side,
        mine: list[ProtocolEvent],
        reps: list[ProtocolEvent],
        abd: Series,
        obliquity: Series,
        lean: Series,
        holds: list[ProtocolEvent],
        cutoff: float,
    ) -> tuple[list[ProtocolMetric], list[Finding]]:
        ranges, peak_masks, rest_masks = [], np.zeros(len(abd), bool), np.zeros(len(abd), bool)
        for rep in mine:
            top = C.near_peak(
                abd, rep, tolerance=self.holds.tolerance, tolerance_fraction=self.holds.tolerance_fraction
            )
            rest = C.rest_before(abd, reps, reps.index(rep))
            peak = float(np.nanmax(C.window(abd, rep.start_s, rep.end_s or rep.start_s)))
            if rest.any():
                ranges.append(peak - float(np.median(abd.values[rest])))
            peak_masks |= top
            rest_masks |= rest
        metrics = [ProtocolMetric("rep_count", len(mine), "1", side)]
        findings: list[Finding] = []
        if ranges:
            value = float(np.median(ranges))
            ci = C.ci_of_reps(np.array(ranges), instrument_sd=C.FRONTAL_HIP_SD_DEG)
            metrics.append(ProtocolMetric("hip_abduction_range_deg", C.r2(value), "deg", side, ci))
            findings.append(self._range_finding(side, value, ci, len(ranges)))
        mine_holds = [h for h in holds if h.side == side]
        metrics.append(ProtocolMetric("hold_count", len(mine_holds), "1", side))
        if mine_holds:
            longest = max((h.end_s or h.start_s) - h.start_s for h in mine_holds)
            metrics.append(ProtocolMetric("hold_duration_s", C.r2(longest), "s", side))
        toward_moving = 1.0 if side == "left" else -1.0  # obliquity > 0: left hip higher
        hike = C.median_diff(obliquity, peak_masks, obliquity, rest_masks, cutoff, C.OBLIQUITY_SD_DEG)
        if hike is None:
            metrics.append(
                ProtocolMetric(
                    "pelvic_hike_deg",
                    None,
                    "deg",
                    side,
                    None,
                    False,
                    "pelvis not measured at the top of the lifts or at rest",
                )
            )
        else:
            value = hike[0] * toward_moving
            ci = (hike[1][0] * toward_moving, hike[1][1] * toward_moving)
            ci = (round(min(ci), 2), round(max(ci), 2))
            metrics.append(ProtocolMetric("pelvic_hike_deg", C.r2(value), "deg", side, ci))
            findings.append(self._hike_finding(side, value, ci))
        tilt = C.median_diff(lean, peak_masks, lean, rest_masks, cutoff, C.TRUNK_LATERAL_SD_DEG)
        if tilt is not None:
            toward_stance = -toward_moving
            value = tilt[0] * toward_stance
            lo, hi = sorted(x * toward_stance for x in tilt[1])
            ci = (lo, hi)
            metrics.append(ProtocolMetric("trunk_lean_toward_stance_deg", C.r2(value), "deg", side, ci))
            findings.append(_lean_finding(side, value, ci))
        return metrics, findings

    def _range_finding(self, side: Side, value: float, ci: tuple[float, float], n: int) -> Finding:
        ref = C.with_value(ABDUCTION_REFERENCE, self.abduction_reference_deg)
        verdict = judge(value, ci, ref.value)
        where = {"above": "above", "below": "below", "inconclusive": "close to"}[verdict]
        return Finding(
            f"hip_abduction_range_{side}",
            "info",
            f"The {side} leg was lifted {value:.0f} deg out to the side (median of {n} repetition(s); 95 % range "
            f"{ci[0]:.0f} to {ci[1]:.0f}), {where} the {ref.value:g} deg lower end of the passive range in adults. "
            "Lifting the leg actively while standing usually reaches less than a passive test; for information only.",
            {"hip_abduction_range_deg": C.r2(value), "ci95": C.ci_list(ci), "repetitions": n},
            ref,
            ref.source,
        )

    def _hike_finding(self, side: Side, value: float, ci: tuple[float, float]) -> Finding:
        th = C.with_value(HIKE_THRESHOLD, self.hike_threshold_deg)
        stance = other_side(side)
        size = abs(value)
        abs_ci = C.abs_ci(ci)
        evidence = {"pelvic_hike_deg": C.r2(value), "ci95": C.ci_list(ci), "moving_leg": side}
        verdict = judge(size, abs_ci, th.value)
        rng = f"95 % range {ci[0]:.1f} to {ci[1]:.1f}"
        if verdict == "below":
            return Finding(
                f"pelvis_level_{side}_abduction",
                "normal",
                f"Lifting the {side} leg, the pelvis stayed level within {th.value:g} deg "
                f"({'rise' if value >= 0 else 'drop'} of the {side} side {size:.1f} deg, {rng}).",
                evidence,
                th,
                th.source,
            )
        if verdict == "inconclusive":
            return Finding(
                f"pelvic_hike_{side}_abduction_inconclusive",
                "inconclusive",
                f"Lifting the {side} leg, the {side} side of the pelvis {'rose' if value >= 0 else 'dropped'} "
                f"by {size:.1f} deg, but the measurement's {rng} deg includes the {th.value:g} deg threshold: "
                "this recording cannot tell. Film again facing the camera, closer, with more repetitions.",
                evidence,
                th,
                th.source,
            )
        if value > 0:
            return Finding(
                f"pelvic_hike_{side}_abduction",
                "attention",
                f"Lifting the {side} leg, the {side} side of the pelvis rose by {size:.1f} deg ({rng}), more "
                f"than {th.value:g} deg: the leg may be lifted partly by hitching the hip with the trunk "
                "muscles rather than by the hip abductors. A clinician should judge it.",
                evidence,
                th,
                th.source,
            )
        return Finding(
            f"pelvic_drop_{side}_abduction",
            "attention",
            f"Lifting the {side} leg, the {side} side of the pelvis dropped by {size:.1f} deg ({rng}), more "
            f"than {th.value:g} deg: the {stance} (standing) leg's hip abductors may not be holding the "
            "pelvis level. A clinician should judge it.",
            evidence,
            th,
            th.source,
        )


def _lean_finding(side: Side, value: float, ci: tuple[float, float]) -> Finding:
    stance = other_side(side)
    evidence = {"trunk_lean_toward_stance_deg": C.r2(value), "ci95": C.ci_list(ci), "moving_leg": side}
    if ci[0] <= 0 <= ci[1]:
        text = (
            f"Lifting the {side} leg, the trunk stayed upright: its lean changed by {value:.1f} deg, within the "
            f"measurement's 95 % range ({ci[0]:.1f} to {ci[1]:.1f})."
        )
    else:
        toward = stance if value > 0 else side
        text = (
            f"Lifting the {side} leg, the trunk leaned {abs(value):.1f} deg toward the {toward} side (95 % range "
            f"{ci[0]:.1f} to {ci[1]:.1f}, positive toward the standing leg). No published limit exists; for information."
        )
    return Finding(f"trunk_lean_{side}_abduction", "info", text, evidence)


def _moving_reps(by_side: dict[Side, list[ProtocolEvent]], series: dict[Side, Series]) -> list[ProtocolEvent]:
    """Keep the repetitions of the leg that moves; drop the standing leg's echo.

    A standing leg cannot abduct at the same time as the lifted one: when
    repetitions of the two sides overlap in time, the one with the smaller
    excursion is the pelvis tilting over the standing leg and is dropped.
    """

    def amplitude(rep: ProtocolEvent) -> float:
        s = series[rep.side]  # type: ignore[index]
        inside = C.window(s, rep.start_s, rep.end_s or rep.start_s)
        return float(np.nanmax(inside) - np.nanmin(inside)) if inside.size else 0.0

    kept = []
    for side, reps in by_side.items():
        rivals = by_side[other_side(side)]
        for rep in reps:
            overlapping = [
                r for r in rivals if r.start_s <= (rep.end_s or rep.start_s) and rep.start_s <= (r.end_s or r.start_s)
            ]
            if any(amplitude(r) > amplitude(rep) for r in overlapping):
                continue
            kept.append(rep)
    return sorted(kept, key=lambda r: r.start_s)
