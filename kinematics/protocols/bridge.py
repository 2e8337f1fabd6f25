"""Bridge (supine hip thrust), filmed side-on.

Lying on the back with the knees bent and the feet on the floor, the patient
lifts the pelvis until shoulders, hips and knees form a line, ideally holding
at the top. Measured: repetitions (hip extension rising toward and past 0),
the hip extension reached at the top of each (0 = thigh in line with the
trunk; > 0 past that line), and holds of at least 1 s at the top.

The angle is the thigh-trunk angle signed by the floor
(:func:`~kinematics.protocols._common.supine_hip_angle`), not the pipeline's
hip flexion: the pipeline takes the direction the subject faces from the toes
and the nose, and lying on the back both point at the ceiling, so its sign is
noise. The floor, by contrast, is always below: the front of the body faces
up in the picture whichever way the subject lies. Hip and knee midpoints are
used, because side-on the far leg hides behind the near one.

Sources
-------
* Passive hip extension 10-15 deg, goniometer (Wilson, Am Fam Physician 2014):
  a reference only.
* 2-D sagittal hip angle MAE 4.0 deg (Stenum et al. 2021), the instrument
  error in every 95 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import Finding, ProtocolMetric, ProtocolResult, Threshold, judge
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.events import HoldDetector, RepetitionDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import LandmarkSeries, Series

__all__ = ["EXTENSION_REFERENCE", "HOLD_MIN", "NEUTRAL", "Bridge"]

NEUTRAL = Threshold(
    "bridge_neutral_deg",
    0.0,
    "deg",
    "geometric definition of a full bridge: shoulders, hips and knees in one line (hip extension 0)",
    "clinics may lower it for patients who should not reach a straight line",
)
EXTENSION_REFERENCE = Threshold(
    "hip_extension_reference_deg",
    10.0,
    "deg",
    "passive hip extension 10-15 deg, goniometer (Wilson, Am Fam Physician 2014)",
    "lower end of the passive range; a reference only",
)
_HOW = (
    "The bridge is done lying on your back, side-on to the camera: knees bent, feet on the floor, lift the pelvis "
    "until shoulders, hips and knees are in line and lower it again, several times, the whole body in the picture."
)

HOLD_MIN = Threshold(
    "hold_min_s",
    1.0,
    "s",
    "protocol definition (motionscript issue 4): a hold is a pause of at least 1 s at the top of a repetition",
)


@dataclass(frozen=True, kw_only=True)
class Bridge:
    """Supine bridge; clinic-configurable, every threshold names its source.

    Parameters
    ----------
    neutral_deg
        Hip extension a full bridge reaches (``NEUTRAL``): below it the
        finding says how far short the hips stayed.
    extension_reference_deg
        Reference extension the top is compared with, for information
        (``EXTENSION_REFERENCE``).
    reps
        Repetition detector on hip extension (deg): a lift of at least
        ``min_amplitude`` = 15 deg lasting ``min_duration_s`` = 0.5 s.
    holds
        Hold detector: at least ``HOLD_MIN`` = 1 s within ``tolerance`` = 3 deg
        (or ``tolerance_fraction`` = 10 % of the lift) of the top.
    """

    neutral_deg: float = NEUTRAL.value
    extension_reference_deg: float = EXTENSION_REFERENCE.value
    reps: RepetitionDetector = RepetitionDetector(min_amplitude=15.0, min_duration_s=0.5)
    holds: HoldDetector = HoldDetector(min_duration_s=HOLD_MIN.value, tolerance=3.0, tolerance_fraction=0.1)
    name: str = "bridge"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        coaching = check_capture(result, landmarks, views=VIEWS["bridge"])
        if coaching:
            return C.unscored(self.name, params, coaching)
        detection = presence.gate("lying", landmarks, result)
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, _HOW)
        angle, withheld = C.supine_hip_angle(landmarks, result)
        quality = C.withheld_issues({"supine hip angle": withheld})
        extension = Series(angle.t_s, -angle.values, "deg", angle.confidence)
        reps = presence.whole(self.reps.detect(extension), result.t_s)
        if not reps:
            found = presence.missing(
                detection, f"bridges (the pelvis lifted by at least {self.reps.min_amplitude:g} deg)"
            )
            return replace(presence.not_detected(self.name, params, found, _HOW), quality=quality)
        holds = self.holds.detect(extension, reps)
        tops = [float(np.nanmax(C.window(extension, r.start_s, r.end_s or r.start_s))) for r in reps]
        top = float(np.median(tops))
        ci = C.ci_of_reps(np.array(tops), instrument_sd=C.SAGITTAL_HIP_SD_DEG)
        metrics = [
            ProtocolMetric("rep_count", len(reps), "1"),
            ProtocolMetric("hip_extension_reached_deg", C.r2(top), "deg", None, ci),
            ProtocolMetric("hold_count", len(holds), "1"),
        ]
        if holds:
            metrics.append(
                ProtocolMetric("hold_duration_s", C.r2(max((h.end_s or h.start_s) - h.start_s for h in holds)), "s")
            )
        findings = [self._neutral(top, ci, len(reps)), self._reference(top, ci)]
        if holds:
            longest = max((h.end_s or h.start_s) - h.start_s for h in holds)
            findings.append(
                Finding(
                    "bridge_holds",
                    "info",
                    f"Held the top of the bridge {len(holds)} time(s), longest {longest:.1f} s.",
                    {"hold_count": len(holds), "longest_hold_s": C.r2(longest)},
                )
            )
        return ProtocolResult(
            self.name, sorted(reps + holds, key=lambda e: e.start_s), metrics, findings, [], params, detection, quality
        )

    def _neutral(self, top: float, ci: tuple[float, float], n: int) -> Finding:
        th = C.with_value(NEUTRAL, self.neutral_deg)
        evidence = {"hip_extension_reached_deg": C.r2(top), "ci95": C.ci_list(ci), "repetitions": n}
        verdict = judge(top, ci, th.value)
        span = f"95 % range {ci[0]:.0f} to {ci[1]:.0f}"
        if verdict == "above":
            return Finding(
                "bridge_full",
                "normal",
                f"At the top of the bridges the hips reached {top:.0f} deg of extension ({span}): shoulders, "
                "hips and knees were in line or the hips higher.",
                evidence,
                th,
                th.source,
            )
        if verdict == "below":
            return Finding(
                "bridge_short",
                "attention",
                f"At the top of the bridges the hips stayed {th.value - top:.0f} deg short of a straight line "
                f"from shoulders to knees ({span}). Pain, stiff hip flexors or weak buttock muscles can do "
                "this; a clinician should judge it.",
                evidence,
                th,
                th.source,
            )
        return Finding(
            "bridge_top_inconclusive",
            "inconclusive",
            f"At the top of the bridges the hip extension was {top:.0f} deg, but the measurement's {span} "
            f"includes {th.value:g} deg: this recording cannot tell whether the hips reached a straight line.",
            evidence,
            th,
            th.source,
        )

    def _reference(self, top: float, ci: tuple[float, float]) -> Finding:
        ref = C.with_value(EXTENSION_REFERENCE, self.extension_reference_deg)
        return Finding(
            "hip_extension_reference",
            "info",
            f"The bridges reached {top:.0f} deg of hip extension (95 % range {ci[0]:.0f} to {ci[1]:.0f}); "
            f"for reference, passive hip extension in adults starts at about {ref.value:g} deg (10-15 deg, "
            "Wilson 2014). For information only.",
            {"hip_extension_reached_deg": C.r2(top)},
            ref,
            ref.source,
        )
