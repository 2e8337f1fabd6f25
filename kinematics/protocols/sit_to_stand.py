"""Sit-to-stand, filmed side-on (preferred) or from the front.

The patient stands up from a chair and sits down again, a number of times.
Repetitions are rises of the hip centre (its height above the ankles, in leg
lengths, so that world landmarks and a hand-held phone work too). Measured:
time per repetition (start to start; the last one start to end), and, side-on,
the hip flexion range of each repetition (from the seated lean forward to
standing) and the peak hip extension velocity while rising, from the
pipeline's low-passed flexion series. From the front, the pelvis's tilt when
standing against sitting (a lower side) and the trunk's sideways lean are
measured instead: people with one-sided leg pain often stand up with their
weight shifted to the other side.

Sources
-------
* Sit-to-stand in degenerative lumbar disease against healthy controls: hip
  range of motion 51 vs 77 deg, hip angular velocity 46 vs 69 deg/s
  (Sensors 2025;25(10):3122). Reported as information only: how that study
  defined the range and the velocity (sensor, segment, peak or mean) was not
  checked here, so the numbers are context, not limits.
* Minimal detectable change of pelvic obliquity, 4 deg (J Sport Rehabil
  2007;16(4):326), for the pelvic tilt when standing.
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
from kinematics.protocols.events import RepetitionDetector
from kinematics.protocols.evidence import with_evidence
from kinematics.series import LandmarkSeries, Series, Side, other_side

__all__ = [
    "HIP_ROM_HEALTHY",
    "HIP_ROM_LUMBAR",
    "HIP_VELOCITY_HEALTHY",
    "HIP_VELOCITY_LUMBAR",
    "PELVIC_TILT_THRESHOLD",
    "SitToStand",
]

_STUDY = "sit-to-stand in degenerative lumbar disease vs healthy controls (Sensors 2025;25(10):3122)"
_CONTEXT = "information only: the study's exact definition was not checked against this measure"
HIP_ROM_LUMBAR = Threshold("sts_hip_rom_lumbar_disease_deg", 51.0, "deg", _STUDY, _CONTEXT)
HIP_ROM_HEALTHY = Threshold("sts_hip_rom_healthy_deg", 77.0, "deg", _STUDY, _CONTEXT)
HIP_VELOCITY_LUMBAR = Threshold("sts_hip_velocity_lumbar_disease_deg_s", 46.0, "deg/s", _STUDY, _CONTEXT)
HIP_VELOCITY_HEALTHY = Threshold("sts_hip_velocity_healthy_deg_s", 69.0, "deg/s", _STUDY, _CONTEXT)
PELVIC_TILT_THRESHOLD = Threshold(
    "pelvic_tilt_standing_deg",
    4.0,
    "deg",
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
    "standing against the subject's own sitting posture; no validated cut-off for sit-to-stand exists",
)


@dataclass(frozen=True, kw_only=True)
class SitToStand:
    """Sit-to-stand; clinic-configurable, every threshold names its source.

    Parameters
    ----------
    hip_rom_lumbar_deg, hip_rom_healthy_deg
        Published mean hip range of motion (``HIP_ROM_LUMBAR``, ``HIP_ROM_HEALTHY``).
    hip_velocity_lumbar_deg_s, hip_velocity_healthy_deg_s
        Published mean hip angular velocity (``HIP_VELOCITY_LUMBAR``,
        ``HIP_VELOCITY_HEALTHY``).
    pelvic_tilt_threshold_deg
        Frontal view: pelvic tilt when standing, against sitting, above which
        a finding is raised (``PELVIC_TILT_THRESHOLD``).
    top_fraction
        "Standing" means within this fraction of the repetition's rise from
        its highest point (0.1: the top tenth).
    velocity_half_window_s
        Angular velocity is the central difference of the low-passed flexion
        over +-this many seconds: it attenuates a 1 Hz movement by < 2 % and
        has about a third of the noise of a frame-to-frame difference at 30 fps
        (whose largest value would overstate the peak by ~10 % at BlazePose's jitter).
    reps
        Repetition detector on the hip height (leg lengths): a rise of at least
        ``min_amplitude`` = 0.25 leg length (about half the rise from a
        standard chair) lasting ``min_duration_s`` = 0.5 s.
    """

    hip_rom_lumbar_deg: float = HIP_ROM_LUMBAR.value
    hip_rom_healthy_deg: float = HIP_ROM_HEALTHY.value
    hip_velocity_lumbar_deg_s: float = HIP_VELOCITY_LUMBAR.value
    hip_velocity_healthy_deg_s: float = HIP_VELOCITY_HEALTHY.value
    pelvic_tilt_threshold_deg: float = PELVIC_TILT_THRESHOLD.value
    top_fraction: float = 0.1
    velocity_half_window_s: float = 0.1
    reps: RepetitionDetector = RepetitionDetector(min_amplitude=0.25, min_duration_s=0.5)
    name: str = "sit_to_stand"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        coaching = check_capture(result, landmarks, views=VIEWS["sit_to_stand"], pelvis_measure=True)
        if coaching:
            return C.unscored(self.name, params, coaching)
        how = (
            "Start seated with the whole body in view (feet included), stand up fully and sit down again, "
            "several times."
        )
        detection = presence.gate("sit_to_stand", landmarks, result)
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, how)
        height = C.hip_height(landmarks, result)
        reps = presence.feet_down(landmarks, presence.whole(self.reps.detect(height), result.t_s))
        if not reps:
            rises = f"stand-ups (the hips rising by at least {self.reps.min_amplitude:g} leg length, feet on the floor)"
            return presence.not_detected(self.name, params, presence.missing(detection, rises), how)
        starts = [r.start_s for r in reps]
        times = list(np.diff(starts)) + [(reps[-1].end_s or reps[-1].start_s) - reps[-1].start_s]
        metrics = [
            ProtocolMetric("rep_count", len(reps), "1"),
            ProtocolMetric("time_per_rep_s", C.r2(float(np.median(times))), "s"),
            ProtocolMetric("total_time_s", C.r2(float((reps[-1].end_s or reps[-1].start_s) - reps[0].start_s)), "s"),
        ]
        findings: list[Finding] = [
            Finding(
                "sit_to_stand_time",
                "info",
                f"{len(reps)} stand-up(s), {np.median(times):.1f} s each (median, from one start to the next).",
                {"time_per_rep_s": [C.r2(x) for x in times]},
            )
        ]
        if result.view.view == "sagittal":
            m, f = self._sagittal(result, reps)
        else:
            m, f = self._frontal(result, height, reps)
        return ProtocolResult(self.name, list(reps), metrics + m, findings + f, [], params, detection)

    def _flexion(self, result: KinematicsResult) -> Series:
        return C.mean_of_sides(result.series["hip_flexion_left_deg"], result.series["hip_flexion_right_deg"])

    def _sagittal(
        self, result: KinematicsResult, reps: list[ProtocolEvent]
    ) -> tuple[list[ProtocolMetric], list[Finding]]:
        flexion = self._flexion(result)
        t = result.t_s
        velocity = -C.derivative(flexion, self.velocity_half_window_s)  # > 0 extending (rising)
        roms, speeds = [], []
        for i, r in enumerate(reps):
            # From the end of the previous repetition: the seated lean forward comes before the hips rise.
            prev_end = reps[i - 1].end_s if i > 0 else None
            lo = prev_end if prev_end is not None else float(t[0])
            seg = C.window(flexion, lo, r.end_s or r.start_s)
            if seg.size >= 3:
                roms.append(float(np.max(seg) - np.min(seg)))
            rising = (t >= lo) & (t <= (r.peak_s or r.start_s)) & np.isfinite(velocity)
            if rising.sum() >= 3:
                speeds.append(float(np.max(velocity[rising])))
        metrics: list[ProtocolMetric] = []
        findings: list[Finding] = []
        if roms:
            rom = float(np.median(roms))
            ci = C.ci_of_reps(np.array(roms), instrument_sd=C.SAGITTAL_HIP_SD_DEG)
            metrics.append(ProtocolMetric("hip_flexion_range_deg", C.r2(rom), "deg", None, ci))
            findings.append(
                _compare(
                    "hip_rom",
                    "hip range of motion",
                    rom,
                    ci,
                    "deg",
                    C.with_value(HIP_ROM_LUMBAR, self.hip_rom_lumbar_deg),
                    C.with_value(HIP_ROM_HEALTHY, self.hip_rom_healthy_deg),
                )
            )
        else:
            metrics.append(
                ProtocolMetric(
                    "hip_flexion_range_deg",
                    None,
                    "deg",
                    None,
                    None,
                    False,
                    "hip flexion not measured during the repetitions",
                )
            )
        if speeds:
            speed = float(np.median(speeds))
            # instrument error of a velocity is not published; the interval is the spread between repetitions only
            speed_ci = C.ci_of_reps(np.array(speeds), instrument_sd=0.0) if len(speeds) >= 2 else None
            metrics.append(ProtocolMetric("peak_hip_extension_velocity_deg_s", C.r2(speed), "deg/s", None, speed_ci))
            findings.append(
                _compare(
                    "hip_velocity",
                    "peak hip angular velocity while rising",
                    speed,
                    speed_ci,
                    "deg/s",
                    C.with_value(HIP_VELOCITY_LUMBAR, self.hip_velocity_lumbar_deg_s),
                    C.with_value(HIP_VELOCITY_HEALTHY, self.hip_velocity_healthy_deg_s),
                )
            )
        return metrics, findings

    def _frontal(
        self, result: KinematicsResult, height: Series, reps: list[ProtocolEvent]
    ) -> tuple[list[ProtocolMetric], list[Finding]]:
        n = len(result.t_s)
        top, seated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for i, r in enumerate(reps):
            top |= C.near_peak(height, r, tolerance=0.0, tolerance_fraction=self.top_fraction)
            seated |= C.rest_before(height, reps, i)
        metrics: list[ProtocolMetric] = [
            ProtocolMetric(
                "hip_flexion_range_deg",
                None,
                "deg",
                None,
                None,
                False,
                "hip flexion is not measurable from the front: film side-on",
            ),
        ]
        findings: list[Finding] = []
        obliquity = result.series["pelvic_obliquity_deg"]
        tilt = C.median_diff(obliquity, top, obliquity, seated, C.cutoff_of(result), C.OBLIQUITY_SD_DEG)
        if tilt is None:
            metrics.append(
                ProtocolMetric(
                    "pelvic_drop_deg", None, "deg", None, None, False, "pelvis not measured standing or seated"
                )
            )
        else:
            value, ci = tilt
            low: Side = "right" if value >= 0 else "left"  # obliquity > 0: left hip higher
            size_ci = C.abs_ci(ci)
            metrics.append(ProtocolMetric("pelvic_drop_deg", C.r2(abs(value)), "deg", low, size_ci))
            th = C.with_value(PELVIC_TILT_THRESHOLD, self.pelvic_tilt_threshold_deg)
            verdict = judge(abs(value), size_ci, th.value)
            evidence = {"pelvic_drop_deg": C.r2(abs(value)), "ci95": C.ci_list(size_ci), "lower_side": low}
            span = f"95 % range {size_ci[0]:.1f} to {size_ci[1]:.1f}"
            if verdict == "below":
                finding = Finding(
                    "pelvis_level_standing",
                    "normal",
                    f"Standing up, the pelvis stayed level within {th.value:g} deg of sitting "
                    f"({abs(value):.1f} deg, {span}).",
                    evidence,
                    th,
                    th.source,
                )
            elif verdict == "inconclusive":
                finding = Finding(
                    "pelvic_tilt_standing_inconclusive",
                    "inconclusive",
                    f"Standing up, the {low} side of the pelvis was {abs(value):.1f} deg lower than when "
                    f"sitting, but the {span} includes the {th.value:g} deg threshold: this recording "
                    "cannot tell.",
                    evidence,
                    th,
                    th.source,
                )
            else:
                finding = Finding(
                    "pelvic_tilt_standing",
                    "attention",
                    f"Standing up, the {low} side of the pelvis was {abs(value):.1f} deg lower than when "
                    f"sitting ({span}), more than {th.value:g} deg: weight may be shifted onto the "
                    f"{other_side(low)} leg. A clinician should judge it (and ask about pain).",
                    evidence,
                    th,
                    th.source,
                )
            findings.append(finding)
        lean = result.series["trunk_lean_lateral_deg"]
        side_lean = C.median_diff(lean, top, lean, seated, C.cutoff_of(result), C.TRUNK_LATERAL_SD_DEG)
        if side_lean is not None:
            metrics.append(
                ProtocolMetric("trunk_lean_lateral_change_deg", C.r2(side_lean[0]), "deg", None, side_lean[1])
            )
        return metrics, findings


def _compare(
    code: str, what: str, value: float, ci: tuple[float, float] | None, unit: str, lumbar: Threshold, healthy: Threshold
) -> Finding:
    """Place a value against the two published group means, for information."""
    if value < lumbar.value:
        where = "below both published group means"
    elif value < healthy.value:
        where = "between the two published group means"
    else:
        where = "at or above the healthy group's published mean"
    span = f" (95 % range {ci[0]:.0f} to {ci[1]:.0f})" if ci else ""
    return Finding(
        f"{code}_reference",
        "info",
        f"The {what} was {value:.0f} {unit}{span}: {where} ({lumbar.value:g} {unit} with degenerative lumbar disease, "
        f"{healthy.value:g} {unit} healthy; Sensors 2025;25(10):3122). That study may have measured it differently; "
        "for information, not a limit.",
        {code: C.r2(value), "ci95": C.ci_list(ci), "lumbar_disease_mean": lumbar.value, "healthy_mean": healthy.value},
        healthy,
        healthy.source,
    )
