"""Standing hip flexion, or the active straight-leg raise lying down, filmed side-on.

Standing, the patient lifts one knee (or the straight leg) forward; lying on
the back (active straight-leg raise, ASLR), the patient lifts the straight leg
off the floor. Measured per side: repetitions, peak hip flexion (thigh to trunk
line; it includes lumbar-pelvic motion, as goniometry with the trunk as the
fixed arm does), the flexion range (peak minus the rest before), holds of at
least 1 s at the top, and the difference between the two sides.

Lying down, the pipeline's hip flexion cannot be used as it is: its sign comes
from the toes and nose pointing along image x, and lying on the back they
point at the ceiling. The protocol then measures the thigh-trunk angle signed
by the floor instead (:func:`~kinematics.protocols._common.supine_hip_angle`).

Sources
-------
* Passive hip flexion 110-120 deg, goniometer (Wilson, Am Fam Physician 2014):
  a reference only; with the knee straight the hamstrings normally stop the
  leg well before that.
* Single side camera, 2-D sagittal hip angle: MAE 4.0 deg against motion
  capture (Stenum et al. 2021), the instrument error in every 95 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.plausibility import GateCount
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import (
    Finding,
    ProtocolMetric,
    ProtocolResult,
    Threshold,
    judge,
)
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.events import HoldDetector, RepetitionDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import SIDES, LandmarkSeries, Series

__all__ = ["ASYMMETRY_THRESHOLD", "FLEXION_REFERENCE", "HOLD_MIN", "StandingHipFlexion"]

FLEXION_REFERENCE = Threshold(
    "hip_flexion_reference_deg",
    110.0,
    "deg",
    "passive hip flexion 110-120 deg, goniometer (Wilson, Am Fam Physician 2014)",
    "lower end of the passive range, knee bent; a straight-leg raise is normally stopped earlier by the hamstrings",
)
ASYMMETRY_THRESHOLD = Threshold(
    "hip_flexion_asymmetry_deg",
    0.0,
    "deg",
    "a left-right difference is reported once its 95 % interval excludes this value; the interval includes the "
    "2-D sagittal hip error, MAE 4.0 deg (Stenum et al., PLoS Comput Biol 2021;17(4):e1008935)",
    "clinics may set a clinically relevant difference instead of 0",
)
HOLD_MIN = Threshold(
    "hold_min_s",
    1.0,
    "s",
    "protocol definition (motionscript issue 4): a hold is a pause of at least 1 s at the top of a repetition",
)


@dataclass(frozen=True, kw_only=True)
class StandingHipFlexion:
    """Standing hip flexion / active straight-leg raise; clinic-configurable, every threshold sourced.

    Parameters
    ----------
    flexion_reference_deg
        Reference flexion the peak is compared with, for information
        (``FLEXION_REFERENCE``).
    asymmetry_threshold_deg
        Left-right difference of peak flexion above which a finding is raised
        (``ASYMMETRY_THRESHOLD``; 0: any difference the 95 % interval can tell).
    reps
        Repetition detector on each hip's flexion (deg): at least
        ``min_amplitude`` = 15 deg, lasting ``min_duration_s`` = 0.4 s.
    holds
        Hold detector: at least ``HOLD_MIN`` = 1 s within ``tolerance`` = 3 deg
        (or ``tolerance_fraction`` = 10 % of the lift) of the peak.
    """

    flexion_reference_deg: float = FLEXION_REFERENCE.value
    asymmetry_threshold_deg: float = ASYMMETRY_THRESHOLD.value
    reps: RepetitionDetector = RepetitionDetector(min_amplitude=15.0, min_duration_s=0.4)
    holds: HoldDetector = HoldDetector(min_duration_s=HOLD_MIN.value, tolerance=3.0, tolerance_fraction=0.1)
    name: str = "standing_hip_flexion"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        coaching = check_capture(result, landmarks, views=VIEWS["standing_hip_flexion"])
        if coaching:
            return C.unscored(self.name, params, coaching)
        detection = presence.gate("standing_or_lying", landmarks, result)
        supine = detection.posture == "lying"
        how = (
            f"Lying on your back, lift one straight leg by at least {self.reps.min_amplitude:g} deg"
            if supine
            else f"Standing side-on to the camera, lift one knee or leg forward by at least {self.reps.min_amplitude:g} deg"
        ) + ", lower it again, several times, then the other leg."
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, how)
        gated = {s: self._flexion(result, landmarks, s, supine) for s in SIDES}
        flexion = {s: series for s, (series, _) in gated.items()}
        quality = C.withheld_issues({f"{s} supine hip angle": withheld for s, (_, withheld) in gated.items()})
        found = sorted((r for s in flexion for r in self.reps.detect(flexion[s], side=s)), key=lambda r: r.start_s)
        found = presence.whole(found, result.t_s)
        reps = presence.foot_rises(landmarks, presence.rep_rule(found, flexion, together=False))  # type: ignore[arg-type]
        reps = presence.from_rest(reps, flexion, self.reps.min_amplitude)  # type: ignore[arg-type]
        if not reps:
            lifts = (
                f"leg lifts (one hip flexed by at least {self.reps.min_amplitude:g} deg, its foot rising, "
                "while the other leg stays)"
            )
            return replace(
                presence.not_detected(self.name, params, presence.missing(detection, lifts), how), quality=quality
            )
        holds = [h for s in flexion for h in self.holds.detect(flexion[s], [r for r in reps if r.side == s])]
        metrics = [ProtocolMetric("rep_count", len(reps), "1")]
        findings: list[Finding] = [
            Finding(
                "posture",
                "info",
                "Measured lying on the back (active straight-leg raise): hip flexion is the thigh-trunk angle, signed "
                "away from the floor."
                if supine
                else "Measured standing: hip flexion is the thigh-trunk angle.",
                {"lying": supine},
            )
        ]
        peaks: dict[str, tuple[float, tuple[float, float]]] = {}
        for side in SIDES:
            mine = [r for r in reps if r.side == side]
            if not mine:
                continue
            series = flexion[side]
            peak_values = [float(np.nanmax(C.window(series, r.start_s, r.end_s or r.start_s))) for r in mine]
            ranges = []
            for r in mine:
                rest = C.rest_before(series, reps, reps.index(r))
                if rest.any():
                    ranges.append(peak_values[mine.index(r)] - float(np.median(series.values[rest])))
            peak = float(np.median(peak_values))
            ci = C.ci_of_reps(np.array(peak_values), instrument_sd=C.SAGITTAL_HIP_SD_DEG)
            peaks[side] = (peak, ci)
            metrics += [
                ProtocolMetric("rep_count", len(mine), "1", side),
                ProtocolMetric("peak_hip_flexion_deg", C.r2(peak), "deg", side, ci),
            ]
            if ranges:
                metrics.append(
                    ProtocolMetric(
                        "hip_flexion_range_deg",
                        C.r2(float(np.median(ranges))),
                        "deg",
                        side,
                        C.ci_of_reps(np.array(ranges), instrument_sd=C.SAGITTAL_HIP_SD_DEG),
                    )
                )
            mine_holds = [h for h in holds if h.side == side]
            metrics.append(ProtocolMetric("hold_count", len(mine_holds), "1", side))
            if mine_holds:
                longest = max((h.end_s or h.start_s) - h.start_s for h in mine_holds)
                metrics.append(ProtocolMetric("hold_duration_s", C.r2(longest), "s", side))
            findings.append(self._peak_finding(side, peak, ci, len(mine), supine))
        if len(peaks) == 2:
            th = C.with_value(ASYMMETRY_THRESHOLD, self.asymmetry_threshold_deg)
            findings.append(
                C.asymmetry_finding(
                    "hip_flexion",
                    "peak hip flexion",
                    "deg",
                    peaks["left"],
                    peaks["right"],
                    th,
                    "Pain, stiffness or weakness on the lower side can do this.",
                )
            )
        return ProtocolResult(
            self.name, sorted(reps + holds, key=lambda e: e.start_s), metrics, findings, [], params, detection, quality
        )

    @staticmethod
    def _flexion(result: KinematicsResult, lm: LandmarkSeries, side: str, supine: bool) -> tuple[Series, GateCount]:
        """The side's hip flexion and what the gate withheld from it (standing: the pipeline's, said by the pipeline)."""
        if supine:
            return C.supine_hip_angle(lm, result, side=side)
        return result.series[f"hip_flexion_{side}_deg"], GateCount()

    def _peak_finding(self, side: str, peak: float, ci: tuple[float, float], n: int, supine: bool) -> Finding:
        ref = C.with_value(FLEXION_REFERENCE, self.flexion_reference_deg)
        verdict = judge(peak, ci, ref.value)
        where = {"above": "above", "below": "below", "inconclusive": "close to"}[verdict]
        return Finding(
            f"peak_hip_flexion_{side}",
            "info",
            f"The {side} hip reached {peak:.0f} deg of flexion (median of {n} repetition(s); 95 % range {ci[0]:.0f} to "
            f"{ci[1]:.0f}), {where} the {ref.value:g} deg lower end of the passive range in adults"
            + (" (a straight-leg raise normally stops earlier, limited by the hamstrings)" if supine else "")
            + ". For information only.",
            {"peak_hip_flexion_deg": C.r2(peak), "ci95": C.ci_list(ci), "repetitions": n},
            ref,
            ref.source,
        )
