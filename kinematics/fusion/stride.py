"""Step and stride length, and walking speed, from a lower-back IMU: an inverted pendulum.

Zijlstra & Hof (2003), "Assessment of spatio-temporal gait parameters from trunk
accelerations during human walking", Gait Posture 18(2):1-10. During single
support the body's centre of mass moves on an arc over the stance foot: a
pendulum of length ``l`` (the height of the sensor above the ground while
standing, close to leg length at L5) that rises and falls by ``h`` during a
step has travelled forward ``2 sqrt(2 l h - h^2)``. ``h`` is the vertical
excursion of the sensor between two contacts, from the vertical acceleration
integrated twice with high-pass filters in between (integration drift). The
model ignores double support and the heel-to-toe roll, so Zijlstra & Hof
multiplied it by 1.25 for their healthy adults. The Mobilise-D consortium kept
the model, filtered the acceleration (high-pass 0.1 Hz) and the velocity
(high-pass 1 Hz) before integrating, and fitted the factor on their
multiple-sclerosis cohort: 4.587 / 4 (mobgap 1.2.0, ``SlZijlstra``,
``step_length_scaling_factor_ms_ms``, its default). This module uses that
published chain and factor unchanged; with Zijlstra's own 1.25 the strides of
the Mobilise-D recordings come out 0.12-0.26 m too long. The error against
their optical reference is measured in ``docs/validation.md``, not tuned away.

Stride length = the sum of two consecutive step lengths; speed = stride length /
stride time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from kinematics.errors import InputError
from kinematics.fusion.gait import GaitEvents, vertical_acceleration
from kinematics.fusion.imu_io import ImuRecording

__all__ = ["InvertedPendulum", "StrideLengths"]


@dataclass(frozen=True)
class StrideLengths:
    """Per stride inside the walking bouts: ``(k,)`` arrays, in contact order."""

    start_s: np.ndarray  # first contact of the stride
    end_s: np.ndarray  # the next contact of the same foot
    length_m: np.ndarray
    speed_mps: np.ndarray
    step_length_m: np.ndarray  # per step (contact to next contact), all bouts concatenated

    @property
    def median_length_m(self) -> float | None:
        return float(np.median(self.length_m)) if self.length_m.size else None

    @property
    def median_speed_mps(self) -> float | None:
        return float(np.median(self.speed_mps)) if self.speed_mps.size else None


@dataclass(frozen=True, kw_only=True)
class InvertedPendulum:
    """Zijlstra & Hof (2003) step length from the vertical excursion of the lower back.

    Parameters
    ----------
    correction
        Multiplies the pendulum's step length (Mobilise-D: 4.587 / 4;
        Zijlstra & Hof: 1.25).
    acc_highpass_hz
        High-pass of the vertical acceleration before integration.
    highpass_hz
        High-pass of the vertical velocity before the second integration:
        removes the drift of integrating a sensor offset.
    gravity_cutoff_hz
        Low-pass that estimates the direction of gravity (see ``gait``).
    """

    correction: float = 4.587 / 4.0
    acc_highpass_hz: float = 0.1
    highpass_hz: float = 1.0
    gravity_cutoff_hz: float = 0.25

    def estimate(self, rec: ImuRecording, gait: GaitEvents, *, sensor_height_m: float) -> StrideLengths:
        """Step and stride lengths and speeds of the strides inside ``gait``'s bouts.

        Parameters
        ----------
        rec
            The recording ``gait`` was detected in.
        gait
            Its walking bouts and contacts.
        sensor_height_m
            Height of the sensor above the ground while standing, m (the
            pendulum's length; Mobilise-D's "SensorHeight").
        """
        if not 0.4 <= sensor_height_m <= 1.5:
            raise InputError(
                f"sensor height {sensor_height_m:g} m: expected the height of the lower-back sensor above the "
                "ground while standing, 0.4-1.5 m"
            )
        fs = rec.sampling_rate_hz
        vertical, _ = vertical_acceleration(rec, gravity_cutoff_hz=self.gravity_cutoff_hz)
        # filtfilt: zero phase, so the excursion stays between the contacts that bound it
        acc = signal.sosfiltfilt(signal.butter(4, self.acc_highpass_hz, "highpass", fs=fs, output="sos"), vertical)
        sos = signal.butter(4, self.highpass_hz, "highpass", fs=fs, output="sos")
        velocity = signal.sosfiltfilt(sos, np.cumsum(acc) / fs)
        height = np.cumsum(velocity) / fs
        t = np.array([e.t_s for e in gait.initial_contacts])
        starts, ends, lengths, speeds, step_all = [], [], [], [], []
        for a, b in gait.sequences:
            tb = t[(t >= a) & (t <= b)]
            idx = np.searchsorted(rec.t_s, tb)
            h = np.array([np.ptp(height[i : j + 1]) for i, j in zip(idx[:-1], idx[1:], strict=True)])
            step = self.correction * 2.0 * np.sqrt(np.clip(2.0 * sensor_height_m * h - h * h, 0.0, None))
            step_all.append(step)
            for k in range(step.shape[0] - 1):
                starts.append(tb[k])
                ends.append(tb[k + 2])
                lengths.append(step[k] + step[k + 1])
                speeds.append(lengths[-1] / (tb[k + 2] - tb[k]))
        return StrideLengths(
            start_s=np.asarray(starts),
            end_s=np.asarray(ends),
            length_m=np.asarray(lengths),
            speed_mps=np.asarray(speeds),
            step_length_m=np.concatenate(step_all) if step_all else np.zeros(0),
        )
