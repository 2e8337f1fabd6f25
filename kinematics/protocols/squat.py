"""Two-leg squat, filmed side-on or from the front.

Side-on (sagittal) the camera sees depth: repetitions are excursions of hip
flexion (the mean of both sides), depth is the peak hip flexion of each
repetition, the two hips are compared, and the forward trunk lean at the
bottom is reported. From the front it sees alignment: repetitions are
downward excursions of the hip centre (its height above the ankles, in leg
lengths), and at the bottom of each repetition the knees' frontal-plane
projection angle (FPPA, > 0 knee inward / valgus), the pelvis's tilt against
standing (a drop of one side) and the trunk's sideways lean.

Sources
-------
* Minimal detectable change of pelvic obliquity, 4 deg (J Sport Rehabil
  2007;16(4):326, single-leg stance): a tilt at the bottom smaller than this
  cannot be told from measurement error.
* FPPA as a 2-D clinical measure (Willson & Davis, JOSPT 2008; Munro et al.,
  J Sport Rehabil 2012;21(1):7-11); its SEM 2-4 deg (Gwynne & Curran, Int J
  Sports Phys Ther 2014;9(7):898-906) is the instrument error. No validated
  FPPA cut-off for a two-leg squat was found: per-knee values are information,
  and only a left-right difference the interval can tell is flagged.
* 2-D sagittal hip angle MAE 4.0 deg (Stenum et al. 2021), the instrument
  error of depth and of the left-right hip comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.plausibility import GateCount
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import (
    Detection,
    Finding,
    ProtocolMetric,
    ProtocolResult,
    Threshold,
    judge,
)
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.events import RepetitionDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import SIDES, LandmarkSeries, Series

__all__ = ["DEPTH_ASYMMETRY_THRESHOLD", "FPPA_ASYMMETRY_THRESHOLD", "PELVIC_TILT_THRESHOLD", "Squat"]

PELVIC_TILT_THRESHOLD = Threshold(
    "pelvic_tilt_at_depth_deg",
    4.0,
    "deg",
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
    "measured against the subject's own standing posture; no validated cut-off for a squat exists",
)
FPPA_ASYMMETRY_THRESHOLD = Threshold(
    "knee_fppa_asymmetry_deg",
    0.0,
    "deg",
    "a left-right difference is reported once its 95 % interval excludes this value; the interval includes the "
    "2-D FPPA SEM, 2-4 deg (Gwynne & Curran, Int J Sports Phys Ther 2014;9(7):898-906)",
    "no validated FPPA cut-off for a two-leg squat was found; clinics may set a clinically relevant difference",
)
DEPTH_ASYMMETRY_THRESHOLD = Threshold(
    "hip_flexion_asymmetry_deg",
    0.0,
    "deg",
    "a left-right difference is reported once its 95 % interval excludes this value; the interval includes the "
    "2-D sagittal hip error, MAE 4.0 deg (Stenum et al., PLoS Comput Biol 2021;17(4):e1008935)",
    "side-on, the far leg is partly hidden: BlazePose estimates it",
)


@dataclass(frozen=True, kw_only=True)
class Squat:
    """Two-leg squat; clinic-configurable, every threshold names its source.

    Parameters
    ----------
    pelvic_tilt_threshold_deg
        Pelvic tilt at the bottom against standing (frontal view) above which
        a finding is raised (``PELVIC_TILT_THRESHOLD``).
    fppa_asymmetry_threshold_deg
        Left-right FPPA difference at the bottom above which a finding is
        raised (``FPPA_ASYMMETRY_THRESHOLD``).
    depth_asymmetry_threshold_deg
        Left-right difference of peak hip flexion (side view) above which a
        finding is raised (``DEPTH_ASYMMETRY_THRESHOLD``).
    bottom_fraction
        "At the bottom" means within this fraction of the repetition's
        excursion from its deepest point (0.1: the deepest tenth).
    flexion_reps
        Side view: repetitions of hip flexion (deg), at least
        ``min_amplitude`` = 20 deg, lasting ``min_duration_s`` = 0.5 s.
    descent_reps
        Frontal view: repetitions of hip descent (leg lengths), at least
        ``min_amplitude`` = 0.10 leg length (about 9 cm for an adult, the
        same as :class:`~kinematics.protocols.events.StanceDetector`'s foot
        lift), lasting ``min_duration_s`` = 0.5 s.
    """

    pelvic_tilt_threshold_deg: float = PELVIC_TILT_THRESHOLD.value
    fppa_asymmetry_threshold_deg: float = FPPA_ASYMMETRY_THRESHOLD.value
    depth_asymmetry_threshold_deg: float = DEPTH_ASYMMETRY_THRESHOLD.value
    bottom_fraction: float = 0.1
    flexion_reps: RepetitionDetector = RepetitionDetector(min_amplitude=20.0, min_duration_s=0.5)
    descent_reps: RepetitionDetector = RepetitionDetector(min_amplitude=0.10, min_duration_s=0.5)
    name: str = "squat"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        coaching = check_capture(result, landmarks, views=VIEWS["squat"], pelvis_measure=True)
        if coaching:
            return C.unscored(self.name, params, coaching)
        detection = presence.gate("standing_in_place", landmarks, result)
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, _how(result.view.view))
        if result.view.view == "sagittal":
            return self._sagittal(result, landmarks, params, detection)
        return self._frontal(result, landmarks, params, detection)

    # -- side view ---------------------------------------------------------------

    def _sagittal(
        self, result: KinematicsResult, lm: LandmarkSeries, params: dict[str, object], detection: Detection
    ) -> ProtocolResult:
        left, right = result.series["hip_flexion_left_deg"], result.series["hip_flexion_right_deg"]
        mean = C.mean_of_sides(left, right)
        found = presence.whole(self.flexion_reps.detect(mean), result.t_s)
        reps = presence.feet_down(lm, presence.rep_rule(found, {"left": left, "right": right}, together=True))
        if not reps:
            squats = (
                f"squats (both hips bending together by at least {self.flexion_reps.min_amplitude:g} deg, "
                "both feet on the floor)"
            )
            return presence.not_detected(self.name, params, presence.missing(detection, squats), _how("sagittal"))
        metrics = [ProtocolMetric("rep_count", len(reps), "1")]
        findings: list[Finding] = []
        depth = [float(np.nanmax(C.window(mean, r.start_s, r.end_s or r.start_s))) for r in reps]
        ci = C.ci_of_reps(np.array(depth), instrument_sd=C.SAGITTAL_HIP_SD_DEG)
        metrics.append(ProtocolMetric("squat_depth_hip_flexion_deg", C.r2(float(np.median(depth))), "deg", None, ci))
        findings.append(
            Finding(
                "squat_depth",
                "info",
                f"{len(reps)} squat(s); the hips flexed to {np.median(depth):.0f} deg at the bottom (median; 95 % range "
                f"{ci[0]:.0f} to {ci[1]:.0f}; 0 = standing upright). No published depth target applies to every patient.",
                {"squat_depth_hip_flexion_deg": C.r2(float(np.median(depth))), "ci95": C.ci_list(ci)},
            )
        )
        per_side = {}
        for side, s in (("left", left), ("right", right)):
            windows = [C.window(s, r.start_s, r.end_s or r.start_s) for r in reps]
            peaks = [float(np.max(w)) for w in windows if w.size]
            if peaks:
                sci = C.ci_of_reps(np.array(peaks), instrument_sd=C.SAGITTAL_HIP_SD_DEG)
                per_side[side] = (float(np.median(peaks)), sci)
                metrics.append(ProtocolMetric("peak_hip_flexion_deg", C.r2(per_side[side][0]), "deg", side, sci))  # type: ignore[arg-type]
        if len(per_side) == 2:
            th = C.with_value(DEPTH_ASYMMETRY_THRESHOLD, self.depth_asymmetry_threshold_deg)
            findings.append(
                C.asymmetry_finding(
                    "hip_flexion",
                    "hip flexion at the bottom",
                    "deg",
                    per_side["left"],
                    per_side["right"],
                    th,
                    "Shifting weight off one leg (for example away from a painful side) can do this.",
                )
            )
        lean = result.series["trunk_lean_forward_deg"]
        at_bottom = np.zeros(len(result.t_s), dtype=bool)
        for r in reps:
            at_bottom |= C.near_peak(mean, r, tolerance=0.0, tolerance_fraction=self.bottom_fraction)
        values = lean.values[at_bottom & lean.valid]
        if values.size >= 3:
            lci = C.ci_around(
                float(np.median(values)),
                C.se_median(values, C.duration(result.t_s, at_bottom), C.cutoff_of(result)),
                instrument_sd=C.SAGITTAL_HIP_SD_DEG,
            )
            metrics.append(
                ProtocolMetric("trunk_lean_forward_at_depth_deg", C.r2(float(np.median(values))), "deg", None, lci)
            )
        return ProtocolResult(self.name, list(reps), metrics, findings, [], params, detection)

    # -- front view --------------------------------------------------------------

    def _frontal(
        self, result: KinematicsResult, lm: LandmarkSeries, params: dict[str, object], detection: Detection
    ) -> ProtocolResult:
        height = C.hip_height(lm, result)
        descent = Series(height.t_s, -height.values, "1", height.confidence)
        reps = presence.feet_down(lm, presence.whole(self.descent_reps.detect(descent), result.t_s))
        if not reps:
            squats = (
                f"squats (the hips lowered by at least {self.descent_reps.min_amplitude:g} leg length, "
                "both feet on the floor)"
            )
            return presence.not_detected(self.name, params, presence.missing(detection, squats), _how("frontal"))
        metrics = [ProtocolMetric("rep_count", len(reps), "1")]
        findings: list[Finding] = []
        cutoff = C.cutoff_of(result)
        n = len(result.t_s)
        bottom, standing = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for i, r in enumerate(reps):
            bottom |= C.near_peak(descent, r, tolerance=0.0, tolerance_fraction=self.bottom_fraction)
            standing |= C.rest_before(descent, reps, i)
        rise = [float(np.nanmax(C.window(descent, r.start_s, r.end_s or r.start_s))) for r in reps]
        base = float(np.median(descent.values[standing])) if standing.any() else float("nan")
        metrics.append(ProtocolMetric("squat_descent_leg_lengths", C.r2(float(np.median(rise)) - base), "1"))
        # pelvis at the bottom against standing; > 0 obliquity: left hip higher
        obliquity = result.series["pelvic_obliquity_deg"]
        tilt = C.median_diff(obliquity, bottom, obliquity, standing, cutoff, C.OBLIQUITY_SD_DEG)
        if tilt is None:
            metrics.append(
                ProtocolMetric(
                    "pelvic_drop_deg",
                    None,
                    "deg",
                    None,
                    None,
                    False,
                    "pelvis not measured at the bottom or when standing",
                )
            )
        else:
            value, ci = tilt
            low_side = "right" if value >= 0 else "left"
            size_ci = C.abs_ci(ci)
            metrics.append(ProtocolMetric("pelvic_drop_deg", C.r2(abs(value)), "deg", low_side, size_ci))  # type: ignore[arg-type]
            findings.append(self._tilt_finding(abs(value), size_ci, low_side))
        lean = result.series["trunk_lean_lateral_deg"]
        side_lean = C.median_diff(lean, bottom, lean, standing, cutoff, C.TRUNK_LATERAL_SD_DEG)
        if side_lean is not None:
            metrics.append(
                ProtocolMetric("trunk_lean_lateral_change_deg", C.r2(side_lean[0]), "deg", None, side_lean[1])
            )
        fppa: dict[str, tuple[float, tuple[float, float]]] = {}
        withheld: dict[str, GateCount] = {}
        for side in SIDES:
            s, withheld[f"{side} knee projection angle (FPPA)"] = C.fppa(lm, result, side=side)
            values = s.values[bottom & s.valid]
            if values.size < 3:
                metrics.append(
                    ProtocolMetric(
                        "knee_fppa_at_depth_deg",
                        None,
                        "deg",
                        side,
                        None,
                        False,
                        f"{side} hip, knee or ankle not measured at the bottom of the squats",
                    )
                )
                continue
            value = float(np.median(values))
            ci = C.ci_around(
                value, C.se_median(values, C.duration(result.t_s, bottom), cutoff), instrument_sd=C.FPPA_SD_DEG
            )
            fppa[side] = (value, ci)
            metrics.append(ProtocolMetric("knee_fppa_at_depth_deg", C.r2(value), "deg", side, ci))
            findings.append(_fppa_finding(side, value, ci))
        if len(fppa) == 2:
            th = C.with_value(FPPA_ASYMMETRY_THRESHOLD, self.fppa_asymmetry_threshold_deg)
            findings.append(
                C.asymmetry_finding(
                    "knee_fppa",
                    "knee's inward angle (FPPA) at the bottom",
                    "deg",
                    fppa["left"],
                    fppa["right"],
                    th,
                    "One knee moving inward more than the other can reflect hip control on that side.",
                )
            )
        return ProtocolResult(
            self.name, list(reps), metrics, findings, [], params, detection, C.withheld_issues(withheld)
        )

    def _tilt_finding(self, drop: float, ci: tuple[float, float], low_side: str) -> Finding:
        th = C.with_value(PELVIC_TILT_THRESHOLD, self.pelvic_tilt_threshold_deg)
        evidence = {"pelvic_drop_deg": C.r2(drop), "ci95": C.ci_list(ci), "lower_side": low_side}
        verdict = judge(drop, ci, th.value)
        if verdict == "below":
            return Finding(
                "pelvis_level_at_depth",
                "normal",
                f"At the bottom of the squats the pelvis stayed level within {th.value:g} deg of standing "
                f"({drop:.1f} deg, 95 % range {ci[0]:.1f} to {ci[1]:.1f}).",
                evidence,
                th,
                th.source,
            )
        if verdict == "inconclusive":
            return Finding(
                "pelvic_tilt_at_depth_inconclusive",
                "inconclusive",
                f"At the bottom of the squats the {low_side} side of the pelvis was {drop:.1f} deg lower than "
                f"when standing, but the 95 % range ({ci[0]:.1f} to {ci[1]:.1f}) includes the {th.value:g} deg "
                "threshold: this recording cannot tell.",
                evidence,
                th,
                th.source,
            )
        return Finding(
            "pelvic_tilt_at_depth",
            "attention",
            f"At the bottom of the squats the {low_side} side of the pelvis was {drop:.1f} deg lower than when "
            f"standing (95 % range {ci[0]:.1f} to {ci[1]:.1f}), more than {th.value:g} deg: weight may be "
            f"shifted toward the other leg. A clinician should judge it.",
            evidence,
            th,
            th.source,
        )


def _how(view: str) -> str:
    filmed = "facing the camera" if view == "frontal" else "side-on"
    return (
        f"Filmed {filmed}, bend the knees and hips to lower yourself (at least a hand's width), both feet on the "
        "floor, and stand up again, several times."
    )


def _fppa_finding(side: str, value: float, ci: tuple[float, float]) -> Finding:
    direction = "inward (valgus)" if value > 0 else "outward (varus)"
    unclear = ci[0] <= 0 <= ci[1]
    text = (
        f"At the bottom of the squats the {side} knee's frontal-plane projection angle was {value:.0f} deg "
        f"(95 % range {ci[0]:.0f} to {ci[1]:.0f}; > 0 = knee inward). "
        + (
            "The camera cannot tell whether the knee moved in or out."
            if unclear
            else f"The knee moved {direction} of the hip-ankle line. "
        )
        + " No validated limit exists for a two-leg squat; for information."
    )
    return Finding(
        f"knee_fppa_{side}",
        "info",
        text.replace("  ", " "),
        {"knee_fppa_at_depth_deg": C.r2(value), "ci95": C.ci_list(ci)},
    )
