"""What a lower-back IMU alone answers of an exercise protocol, and what needs a camera.

Clinics and home programmes with a sacral sensor and no camera get, per exercise:

* ``gait``: walking bouts, initial contacts with their side, step counts, cadence,
  step time per side and its left-right difference (the same function as the video
  protocol: :func:`kinematics.protocols.gait.step_time_asymmetry`), and stride length
  and walking speed when the sensor's height is known.
* ``single_leg_stance``, ``standing_hip_abduction``: pelvic obliquity during the task
  against the quiet two-leg stand the recording starts with (the calibration stand is
  zero), its peak with each side higher, and its range.
* every other exercise: nothing scored; :data:`CAMERA_ONLY` says what needs a camera.

The instrument errors that widen the 95 % intervals are the measured ones
(``docs/validation.md``, "Wearables"): contact timing median |error| 10-34 ms against
the optical reference, stride length within 0.07 m on straight walks and +0.15 m in
simulated daily life, IMU obliquity 0.4 deg RMSE on synthetic sensors (no real
reference for it exists here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from kinematics.fusion.evidence import SampleValidity, attach
from kinematics.fusion.gait import GaitEvents
from kinematics.fusion.stride import StrideLengths
from kinematics.protocols import _common as C
from kinematics.protocols.base import Coaching, Finding, ProtocolEvent, ProtocolMetric, ProtocolResult
from kinematics.protocols.gait import STEP_TIME_ASYMMETRY_THRESHOLD, step_time_asymmetry
from kinematics.series import SIDES, Series

__all__ = ["CAMERA_ONLY", "ImuProtocol"]

CAMERA_ONLY: dict[str, str] = {
    "gait": "hip flexion-extension ranges per stride and the pelvic drop of the free side in stance need a camera "
    "(side-on or frontal video)",
    "single_leg_stance": "which leg stands, the stance time, the drop of the free side against the standing side's "
    "hip and trunk compensation need a camera (frontal video)",
    "standing_hip_abduction": "hip abduction angles, repetitions and trunk lean need a camera (frontal video)",
    "standing_hip_flexion": "hip flexion angles and repetitions need a camera (side-on video)",
    "squat": "hip and knee angles, depth and repetitions need a camera (side-on or frontal video)",
    "sit_to_stand": "repetitions, their timing and trunk lean need a camera (side-on video)",
    "bridge": "hip extension, its hold and pelvic level need a camera (side-on or frontal video)",
}

_OBLIQUITY_EXERCISES = ("single_leg_stance", "standing_hip_abduction")


def _mean_confidence(contacts: list[ProtocolEvent], start_s: float, end_s: float) -> float:
    inside = [c.confidence for c in contacts if start_s <= c.start_s <= end_s]
    return round(float(np.mean(inside)), 3) if inside else 0.0


@dataclass(frozen=True, kw_only=True)
class ImuProtocol:
    """Protocol metrics from a sacrum / lower-back IMU alone.

    Parameters
    ----------
    min_steps
        Fewer initial contacts give coaching instead of gait metrics.
    step_time_asymmetry_threshold_s
        As the video protocol's (``STEP_TIME_ASYMMETRY_THRESHOLD``).
    contact_timing_sd_s
        Timing error of one contact (measured: median |error| up to 34 ms).
    stride_length_sd_m, walking_speed_sd_mps
        Instrument error of one stride's length and speed (measured bias up to
        +0.15 m and +0.15 m/s in simulated daily life).
    obliquity_sd_deg
        Instrument error of the IMU's pelvic obliquity (synthetic: 0.4 deg RMSE).
    """

    min_steps: int = 4
    step_time_asymmetry_threshold_s: float = STEP_TIME_ASYMMETRY_THRESHOLD.value
    contact_timing_sd_s: float = 0.035
    stride_length_sd_m: float = 0.15
    walking_speed_sd_mps: float = 0.15
    obliquity_sd_deg: float = 0.4

    def assess(
        self,
        exercise: str,
        *,
        gait: GaitEvents | None = None,
        strides: StrideLengths | None = None,
        obliquity: Series | None = None,
        samples: SampleValidity | None = None,
    ) -> ProtocolResult | None:
        """The exercise's metrics from the IMU, or None when the IMU cannot answer it at all.

        ``samples`` are the recording's valid samples (:func:`kinematics.fusion.evidence.sample_validity`):
        with them every metric states its coverage, events and confidence, and a value on too little
        evidence is not measurable (:func:`kinematics.fusion.evidence.attach`); without them only the events.
        """
        params = {**asdict(self), "source": "lower-back IMU"}
        if exercise == "gait":
            result = self._gait(gait, strides, params)
        elif exercise in _OBLIQUITY_EXERCISES:
            result = self._obliquity(exercise, obliquity, params)
        else:
            return None
        return result if samples is None else attach(result, samples)

    def _gait(self, gait: GaitEvents | None, strides: StrideLengths | None, params: dict) -> ProtocolResult:
        if gait is None:
            return C.unscored(
                "gait",
                params,
                [Coaching("no_gait", "Gait needs a lower-back or sacrum IMU recording of at least 4 s.")],
            )
        contacts = [
            ProtocolEvent("initial_contact", e.t_s, None, None, e.side, e.confidence) for e in gait.initial_contacts
        ]
        # a bout is as clear as its contacts' sides are (what the detector knows of each step)
        bouts = [
            ProtocolEvent("walking_bout", a, b, confidence=_mean_confidence(contacts, a, b)) for a, b in gait.sequences
        ]
        if len(contacts) < self.min_steps:
            return C.unscored(
                "gait",
                params,
                [
                    Coaching(
                        "no_steps",
                        "No walking was found in the sensor recording (standing, sitting and arm movements give no "
                        "steps): walk at your usual pace for at least four steps with the sensor on the lower back.",
                    )
                ],
                events=bouts + contacts,
                rep_count=len(contacts),
            )
        steps = gait.step_times_s
        cadence = gait.cadence_steps_per_min
        walking_s = float(sum(b - a for a, b in gait.sequences))
        # what each value rests on: the steps, bouts and strides counted (kinematics.fusion.evidence.attach
        # adds the recording's coverage and the confidence, as kinematics.protocols.evidence does for video)
        steps_of = {side: sum(c.side == side for c in contacts) for side in SIDES}
        metrics = [ProtocolMetric("rep_count", len(contacts), "1", n_events=len(contacts), event_kind="step")]
        metrics += [
            ProtocolMetric("rep_count", steps_of[side], "1", side, n_events=steps_of[side], event_kind="step")
            for side in SIDES
        ]
        metrics += [
            ProtocolMetric("walking_bout_count", len(bouts), "1", n_events=len(bouts), event_kind="walking bout"),
            ProtocolMetric("walking_time_s", C.r2(walking_s), "s", n_events=len(bouts), event_kind="walking bout"),
            ProtocolMetric("cadence_steps_per_min", C.r2(cadence), "1/min", n_events=len(contacts), event_kind="step"),
        ]
        findings = [
            Finding(
                "cadence",
                "info",
                f"{len(contacts)} steps in {len(bouts)} walking bout(s) ({walking_s:.0f} s) at {cadence:.0f} steps "
                "per minute (lower-back IMU).",
                {"steps": len(contacts), "bouts": len(bouts), "step_time_s": C.r2(float(np.median(steps)))},
            )
        ]
        m, f = step_time_asymmetry(
            contacts, instrument_sd_s=self.contact_timing_sd_s, threshold_s=self.step_time_asymmetry_threshold_s
        )
        metrics += m
        findings += f
        if strides is not None and strides.length_m.size:
            for name, values, unit, sd in (
                ("stride_length_m", strides.length_m, "m", self.stride_length_sd_m),
                ("walking_speed_mps", strides.speed_mps, "m/s", self.walking_speed_sd_mps),
            ):
                v = float(np.median(values))
                se = 1.2533 * float(np.std(values, ddof=1)) / np.sqrt(values.size) if values.size > 1 else 0.0
                metrics.append(
                    ProtocolMetric(
                        name,
                        C.r2(v),
                        unit,
                        None,
                        C.ci_around(v, se, instrument_sd=sd),
                        n_events=int(values.size),
                        event_kind="stride",
                    )
                )
        else:
            reason = "needs the sensor's height above the ground (--imu-height / imu_height_m)"
            metrics += [
                ProtocolMetric("stride_length_m", None, "m", measurable=False, reason=reason),
                ProtocolMetric("walking_speed_mps", None, "m/s", measurable=False, reason=reason),
            ]
        return ProtocolResult("gait", bouts + contacts, metrics, findings, [], params)

    def _obliquity(self, exercise: str, obliquity: Series | None, params: dict) -> ProtocolResult:
        if obliquity is None or not bool(np.isfinite(obliquity.values).any()):
            return C.unscored(
                exercise,
                params,
                [
                    Coaching(
                        "imu_axes",
                        "Pelvic obliquity from the IMU needs its axis mapping (which sensor axis points up, anterior "
                        "and to the left when standing; --imu-axes or imu_axes).",
                    )
                ],
            )
        v = np.asarray(obliquity.values, dtype=float).reshape(-1)
        ci = 1.96 * self.obliquity_sd_deg
        left_up, right_up = float(np.nanmax(v)), float(-np.nanmin(v))
        metrics = [
            ProtocolMetric("pelvic_obliquity_peak_deg", C.r2(left_up), "deg", "left", (left_up - ci, left_up + ci)),
            ProtocolMetric("pelvic_obliquity_peak_deg", C.r2(right_up), "deg", "right", (right_up - ci, right_up + ci)),
            ProtocolMetric("pelvic_obliquity_range_deg", C.r2(left_up + right_up), "deg"),
        ]
        findings = [
            Finding(
                "pelvic_obliquity",
                "info",
                f"During the recording the pelvis reached {left_up:.1f} deg with the left side higher and "
                f"{right_up:.1f} deg with the right side higher than in the quiet two-leg stand at its start "
                f"(sacral IMU). {CAMERA_ONLY[exercise][0].upper()}{CAMERA_ONLY[exercise][1:]}.",
                {"left_higher_deg": C.r2(left_up), "right_higher_deg": C.r2(right_up)},
            )
        ]
        return ProtocolResult(exercise, [], metrics, findings, [], params)
