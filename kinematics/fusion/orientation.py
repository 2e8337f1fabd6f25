"""Pelvic tilt and obliquity from a sacrum or lower-back IMU.

Estimator: the explicit complementary filter of Mahony, Hamel & Pflimlin
(2008), with accelerometer and gyroscope only. The gyroscope is integrated
(quaternion exponential, trapezoidal rate), gravity measured by the
accelerometer pulls the estimate back with a proportional gain ``kp`` and an
integral term that estimates the gyroscope bias (``ki``). It was chosen over
Madgwick's gradient-descent filter (2010) because its integral term estimates
the gyroscope bias explicitly for the two axes gravity can observe, which is
the drift the pelvis angles suffer from; Madgwick's IMU variant has no bias
state. It is written here in numpy (the ``ahrs`` package is not a dependency)
and tested against synthetic sensors with known attitude, bias, drift and
noise (``tests/fusion``). While the measured acceleration departs from 1 g
(walking, jumps) the gravity correction is weighted down with
``exp(-(|a| - g)^2 / acc_gate^2)``, an accelerometer-rejection heuristic, not
part of Mahony's filter.

Angles (Baker 2001, "Pelvic angles: a mathematically rigorous definition
which is consistent with a conventional clinical understanding of the
terms", Gait Posture 13:1-6): the pelvis orientation is decomposed as
rotation (about the vertical), then obliquity (about the anterior axis), then
tilt (about the pelvis' left axis). With ``u`` = world up in body axes
(left, up, anterior) that gives, independent of heading:

=============  ================================  ===========================================
tilt           ``atan2(-u_anterior, u_up)``      > 0 anterior tilt (top of the pelvis forward)
obliquity      ``asin(u_left)``                  > 0 LEFT side higher (as the video angle)
=============  ================================  ===========================================

Both are relative to the calibration stand (:func:`~kinematics.fusion.axes.calibrate_static`)
unless the stand's posture was given there. Heading is not reported: without
a magnetometer it drifts without bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kinematics.errors import InputError
from kinematics.fusion.axes import AxisMapping, StaticCalibration, calibrate_static
from kinematics.fusion.imu_io import STANDARD_GRAVITY_MPS2, ImuRecording
from kinematics.series import Series

__all__ = ["MahonyFilter", "PelvisOrientation", "pelvis_orientation", "quat_to_up", "tilt_obliquity_deg"]

PELVIS_PLACEMENTS = ("sacrum", "lower_back", "pelvis")


def _mahony(
    t_s: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    q0: np.ndarray,
    b0: np.ndarray,
    kp: float,
    ki: float,
    gate: float,
    g: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Quaternions ``(n, 4)`` (w, x, y, z; body -> world, world y up) and bias ``(n, 3)``.

    Plain floats in the loop: ~10x faster than small numpy arrays per sample.
    """
    n = t_s.shape[0]
    q_out = np.empty((n, 4))
    b_out = np.empty((n, 3))
    qw, qx, qy, qz = (float(v) for v in q0)
    bx, by, bz = (float(v) for v in b0)
    ax_, ay_, az_ = acc[:, 0].tolist(), acc[:, 1].tolist(), acc[:, 2].tolist()
    gx_, gy_, gz_ = gyr[:, 0].tolist(), gyr[:, 1].tolist(), gyr[:, 2].tolist()
    ts = t_s.tolist()
    q_out[0] = (qw, qx, qy, qz)
    b_out[0] = (bx, by, bz)
    for k in range(n - 1):
        dt = ts[k + 1] - ts[k]
        ax, ay, az = ax_[k], ay_[k], az_[k]
        an = math.sqrt(ax * ax + ay * ay + az * az)
        ex = ey = ez = 0.0
        if an > 1e-9 and (kp > 0.0 or ki > 0.0):
            w = math.exp(-(((an - g) / gate) ** 2)) if gate > 0 else 1.0
            vx, vy, vz = ax / an, ay / an, az / an
            # estimated world-up in body axes: second row of R(q)
            hx = 2.0 * (qx * qy + qw * qz)
            hy = 1.0 - 2.0 * (qx * qx + qz * qz)
            hz = 2.0 * (qy * qz - qw * qx)
            ex, ey, ez = w * (vy * hz - vz * hy), w * (vz * hx - vx * hz), w * (vx * hy - vy * hx)
            bx -= ki * ex * dt
            by -= ki * ey * dt
            bz -= ki * ez * dt
        # trapezoidal rate over the interval, bias removed, gravity correction added
        wx = 0.5 * (gx_[k] + gx_[k + 1]) - bx + kp * ex
        wy = 0.5 * (gy_[k] + gy_[k + 1]) - by + kp * ey
        wz = 0.5 * (gz_[k] + gz_[k + 1]) - bz + kp * ez
        angle = math.sqrt(wx * wx + wy * wy + wz * wz) * dt
        if angle > 1e-12:
            s = math.sin(0.5 * angle) / (angle / dt)
            dw, dx, dy, dz = math.cos(0.5 * angle), wx * s, wy * s, wz * s
            qw, qx, qy, qz = (
                qw * dw - qx * dx - qy * dy - qz * dz,
                qw * dx + qx * dw + qy * dz - qz * dy,
                qw * dy - qx * dz + qy * dw + qz * dx,
                qw * dz + qx * dy - qy * dx + qz * dw,
            )
            norm = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
            qw, qx, qy, qz = qw / norm, qx / norm, qy / norm, qz / norm
        q_out[k + 1] = (qw, qx, qy, qz)
        b_out[k + 1] = (bx, by, bz)
    return q_out, b_out


def quat_to_up(q: np.ndarray) -> np.ndarray:
    """``(n, 3)`` world up (y) expressed in body axes, from ``(n, 4)`` quaternions."""
    w, x, y, z = q.T
    return np.column_stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)])


def tilt_obliquity_deg(up_body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pelvic tilt and obliquity in degrees from world-up in body axes ``(n, 3)``.

    Examples
    --------
    >>> t, o = tilt_obliquity_deg(np.array([[0.0, 1.0, 0.0]]))
    >>> float(t[0]), float(o[0])
    (0.0, 0.0)
    """
    u = up_body / np.linalg.norm(up_body, axis=1, keepdims=True)
    tilt = np.degrees(np.arctan2(-u[:, 2], u[:, 1]))
    obliquity = np.degrees(np.arcsin(np.clip(u[:, 0], -1.0, 1.0)))
    return tilt + 0.0, obliquity + 0.0


def _initial_quaternion(up_body: np.ndarray) -> np.ndarray:
    """Quaternion (body -> world) that makes ``up_body`` the world's y, heading zero."""
    u = up_body / np.linalg.norm(up_body)
    y = np.array([0.0, 1.0, 0.0])
    # rotate u onto y: axis u x y, angle acos(u . y)
    axis = np.cross(u, y)
    s = float(np.linalg.norm(axis))
    c = float(np.dot(u, y))
    if s < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0]) if c > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    half = 0.5 * math.atan2(s, c)
    return np.concatenate([[math.cos(half)], math.sin(half) * axis / s])


@dataclass(frozen=True, kw_only=True)
class MahonyFilter:
    """Explicit complementary filter (Mahony, Hamel & Pflimlin 2008, IEEE TAC 53(5):1203-1218).

    Parameters
    ----------
    kp
        Proportional gain on the gravity error, rad/s per unit error: the
        crossover of the complementary filter is about ``kp / 2 pi`` Hz
        (0.5 -> 0.08 Hz, i.e. gravity trusted over ~2 s).
    ki
        Integral gain (gyroscope bias), rad/s^2 per unit error; Mahony et al.
        suggest ``ki`` about a tenth of ``kp``.
    acc_gate_mps2
        Width of the accelerometer-rejection weight around 1 g; 0 disables it.

    Notes
    -----
    ``kp = ki = 0`` integrates the gyroscope alone (strapdown), which drifts
    with the bias; the tests use it as the "IMU without gravity" baseline.
    """

    kp: float = 0.5
    ki: float = 0.05
    acc_gate_mps2: float = 1.5

    def estimate(
        self,
        t_s: np.ndarray,
        acc_body: np.ndarray,
        gyr_body: np.ndarray,
        *,
        bias_rads: np.ndarray | None = None,
        initial_up: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Orientation of the body frame.

        Parameters
        ----------
        t_s
            ``(n,)`` seconds.
        acc_body, gyr_body
            ``(n, 3)`` m/s^2 and rad/s in body axes (left, up, anterior).
        bias_rads
            ``(3,)`` initial gyroscope bias in body axes.
        initial_up
            ``(3,)`` world up in body axes at ``t_s[0]``; the first 0.1 s of
            acceleration when omitted.

        Returns
        -------
        quaternion, bias
            ``(n, 4)`` (w, x, y, z) body -> world with world y up;
            ``(n, 3)`` the bias estimate in rad/s.
        """
        if min(self.kp, self.ki, self.acc_gate_mps2) < 0:
            raise InputError(f"kp, ki and acc_gate_mps2 must be >= 0, got {self.kp}, {self.ki}, {self.acc_gate_mps2}")
        if initial_up is None:
            head = max(1, int(np.searchsorted(t_s, t_s[0] + 0.1)))
            initial_up = acc_body[:head].mean(axis=0)
        q0 = _initial_quaternion(np.asarray(initial_up, dtype=float))
        b0 = np.zeros(3) if bias_rads is None else np.asarray(bias_rads, dtype=float)
        return self.resume(t_s, acc_body, gyr_body, quaternion=q0, bias_rads=b0)

    def resume(
        self,
        t_s: np.ndarray,
        acc_body: np.ndarray,
        gyr_body: np.ndarray,
        *,
        quaternion: np.ndarray,
        bias_rads: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Continue from a known state: ``quaternion`` ``(4,)`` and ``bias_rads`` ``(3,)`` at ``t_s[0]``.

        The filter is causal (each step uses the samples at both ends of its interval), so
        running it on a recording in blocks, each starting with the previous block's last
        sample and state, gives what one :meth:`estimate` over the whole gives.
        """
        if min(self.kp, self.ki, self.acc_gate_mps2) < 0:
            raise InputError(f"kp, ki and acc_gate_mps2 must be >= 0, got {self.kp}, {self.ki}, {self.acc_gate_mps2}")
        if t_s.shape[0] == 0:
            return np.zeros((0, 4)), np.zeros((0, 3))
        q0, b0 = np.asarray(quaternion, dtype=float), np.asarray(bias_rads, dtype=float)
        return _mahony(t_s, acc_body, gyr_body, q0, b0, self.kp, self.ki, self.acc_gate_mps2, STANDARD_GRAVITY_MPS2)


@dataclass(frozen=True, eq=False)
class PelvisOrientation:
    """Pelvic angles from one IMU, on the sensor's clock."""

    tilt: Series
    obliquity: Series
    quaternion: np.ndarray  # (n, 4) w, x, y, z; body -> world, world y up, heading arbitrary
    gyro_bias_rads: np.ndarray  # (n, 3) body axes
    calibration: StaticCalibration
    parameters: dict[str, object] = field(default_factory=dict)


def pelvis_orientation(
    rec: ImuRecording,
    *,
    axes: AxisMapping,
    calibration: StaticCalibration | None = None,
    estimator: MahonyFilter = MahonyFilter(),
) -> PelvisOrientation:
    """Pelvic tilt and obliquity from a sacrum / lower-back IMU.

    Parameters
    ----------
    rec
        Recording whose placement is ``sacrum``, ``lower_back`` or ``pelvis``.
    axes
        Declared sensor-to-body mapping.
    calibration
        From :func:`~kinematics.fusion.axes.calibrate_static`; computed with its
        defaults (stillest second in the first 10 s) when omitted.
    estimator
        The orientation filter.

    Returns
    -------
    PelvisOrientation
        ``tilt`` and ``obliquity`` in deg at the IMU's timestamps (see the
        module docstring for signs), confidence 1.
    """
    if rec.placement not in PELVIS_PLACEMENTS:
        raise InputError(
            f"{rec.source}: pelvic angles need a sensor on the sacrum, lower back or pelvis; "
            f"this one is on the {rec.placement}"
        )
    cal = calibration if calibration is not None else calibrate_static(rec, axes)
    rot = cal.body_from_sensor
    acc_body = rec.acc_mps2 @ rot.T
    gyr_body = rec.gyr_rads @ rot.T
    i0 = int(np.searchsorted(rec.t_s, cal.window_s[0]))
    i1 = int(np.searchsorted(rec.t_s, cal.window_s[1])) + 1
    # start from the calibration stand, then run forwards and backwards from there
    start_up = acc_body[i0:i1].mean(axis=0)
    bias = rot @ cal.gyro_bias_rads
    fwd_q, fwd_b = estimator.estimate(rec.t_s[i0:], acc_body[i0:], gyr_body[i0:], bias_rads=bias, initial_up=start_up)
    if i0 > 0:
        # time-reversed: negate time and rate, the same filter runs backwards from the stand
        rev = slice(i0, None, -1)
        bwd_q, bwd_b = estimator.estimate(
            -rec.t_s[rev],
            acc_body[rev],
            -gyr_body[rev],
            bias_rads=-bias,
            initial_up=start_up,
        )
        quat = np.concatenate([bwd_q[:0:-1], fwd_q])
        bias_t = np.concatenate([-bwd_b[:0:-1], fwd_b])
    else:
        quat, bias_t = fwd_q, fwd_b
    tilt, obliquity = tilt_obliquity_deg(quat_to_up(quat))
    ones = np.ones(len(rec))
    quat.flags.writeable = False
    bias_t.flags.writeable = False
    return PelvisOrientation(
        tilt=Series(rec.t_s, tilt, "deg", ones),
        obliquity=Series(rec.t_s, obliquity, "deg", ones),
        quaternion=quat,
        gyro_bias_rads=bias_t,
        calibration=cal,
        parameters={
            "estimator": "mahony2008",
            "kp": estimator.kp,
            "ki": estimator.ki,
            "acc_gate_mps2": estimator.acc_gate_mps2,
        },
    )
