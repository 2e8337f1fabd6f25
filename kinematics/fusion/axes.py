"""Sensor-to-body axes and the static calibration that refines them.

The body frame of the pelvis is the project's anatomical frame
(:mod:`kinematics.synth`): ``x`` = the subject's left, ``y`` = up,
``z`` = anterior, so that ``left x up = anterior``. A sensor is strapped on
in some orientation; :class:`AxisMapping` says which of its axes points up,
anterior and to the left while the subject stands. A static calibration then
measures gravity during a still stand, corrects the declared mapping for the
mounting tilt (the smallest rotation that makes the measured gravity the
body's up), and takes the mean angular rate as the gyroscope bias.

The mounting *heading* (a rotation about the vertical) cannot be seen in a
static stand; a sensor turned by a few degrees about the vertical mixes a
little tilt into obliquity and vice versa (sin of that angle: 3 deg -> 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinematics.errors import InsufficientDataError
from kinematics.fusion.errors import SensorFormatError
from kinematics.fusion.imu_io import ImuRecording

__all__ = ["MOBILISED_LOWER_BACK", "Axis", "AxisMapping", "StaticCalibration", "calibrate_static"]

Axis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
_UNIT = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}


def _axis_vector(axis: str, role: str) -> np.ndarray:
    if axis not in ("+x", "-x", "+y", "-y", "+z", "-z"):
        raise SensorFormatError("axis mapping", f"{role}={axis!r}; expected one of +x -x +y -y +z -z")
    return (1.0 if axis[0] == "+" else -1.0) * _UNIT[axis[1]]


@dataclass(frozen=True, kw_only=True)
class AxisMapping:
    """Which sensor axis points up, anterior and to the subject's left when standing.

    Parameters
    ----------
    up, anterior, left
        ``"+x"``, ``"-y"``, ... The three must be different sensor axes and
        form a right-handed body frame (``left x up = anterior``); a mapping
        that is mirrored (one sign wrong) is refused.

    Examples
    --------
    The Mobilise-D lower-back sensor (x up, z forward, y to the right):

    >>> MOBILISED_LOWER_BACK.body_from_sensor() @ [0.0, 0.0, 1.0]
    array([0., 0., 1.])
    """

    up: Axis
    anterior: Axis
    left: Axis

    def body_from_sensor(self) -> np.ndarray:
        """``(3, 3)`` rotation taking sensor-axis vectors to body axes (left, up, anterior)."""
        left = _axis_vector(self.left, "left")
        up = _axis_vector(self.up, "up")
        anterior = _axis_vector(self.anterior, "anterior")
        if len({self.up[1], self.anterior[1], self.left[1]}) != 3:
            raise SensorFormatError(
                "axis mapping",
                f"up={self.up}, anterior={self.anterior}, left={self.left} must name three different sensor axes",
            )
        if not np.allclose(np.cross(left, up), anterior):
            expected = np.cross(up, anterior)
            i = int(np.argmax(np.abs(expected)))
            raise SensorFormatError(
                "axis mapping",
                f"up={self.up}, anterior={self.anterior}, left={self.left} is mirrored (left x up must be anterior); "
                f"with up={self.up} and anterior={self.anterior}, left is {'+' if expected[i] > 0 else '-'}{'xyz'[i]}",
            )
        return np.vstack([left, up, anterior]) + 0.0  # + 0.0 turns -0.0 into 0.0


#: Mobilise-D / mobgap lower-back sensor frame: x up (inferior->superior), y to the right, z anterior.
MOBILISED_LOWER_BACK = AxisMapping(up="+x", anterior="+z", left="-y")


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -1.0 + 1e-9:
        raise InsufficientDataError("the sensor reads gravity opposite to the declared up axis: check the axis mapping")
    vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def _posture_up(tilt_deg: float, obliquity_deg: float) -> np.ndarray:
    """World up in body axes for a pelvis at this tilt and obliquity (see orientation.py)."""
    th, ph = np.radians(tilt_deg), np.radians(obliquity_deg)
    return np.array([np.sin(ph), np.cos(ph) * np.cos(th), -np.cos(ph) * np.sin(th)])


@dataclass(frozen=True, eq=False)
class StaticCalibration:
    """Result of :func:`calibrate_static`.

    Parameters
    ----------
    body_from_sensor
        ``(3, 3)`` rotation, sensor axes -> body axes, corrected for mounting tilt.
    gyro_bias_rads
        ``(3,)`` mean angular rate over the still window, sensor axes, rad/s;
        zero when the window was not still (a moving window's mean is
        movement, not bias: the filter's integral term estimates it instead).
    window_s
        ``(start, end)`` of the window used, sensor clock.
    gyro_sd_dps
        Standard deviation of the angular rate in the window (all axes), deg/s:
        how still the subject was.
    mounting_correction_deg
        Angle between the declared up axis and the measured gravity.
    posture_deg
        ``(tilt, obliquity)`` the pelvis was taken to have during the stand.
    still
        False when the stillest window still moved more than the limit: the
        bias estimate then contains movement.
    """

    body_from_sensor: np.ndarray
    gyro_bias_rads: np.ndarray
    window_s: tuple[float, float]
    gyro_sd_dps: float
    mounting_correction_deg: float
    posture_deg: tuple[float, float]
    still: bool


def _moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    return (c[w:] - c[:-w]) / w


def calibrate_static(
    rec: ImuRecording,
    axes: AxisMapping,
    *,
    window_s: tuple[float, float] | None = None,
    search_s: float = 10.0,
    length_s: float = 1.0,
    max_gyro_sd_dps: float = 2.0,
    posture_tilt_deg: float = 0.0,
    posture_obliquity_deg: float = 0.0,
) -> StaticCalibration:
    """Refine the axis mapping and estimate the gyroscope bias from a still stand.

    Parameters
    ----------
    rec
        The recording.
    axes
        Declared mapping.
    window_s
        ``(start, end)`` seconds on the sensor clock of a still stand. When
        None, the stillest ``length_s`` window (least angular-rate variance)
        within the first ``search_s`` seconds is used.
    max_gyro_sd_dps
        Above this standard deviation of the angular rate the window is not
        considered still (``still=False``; the caller should warn).
    posture_tilt_deg, posture_obliquity_deg
        The pelvis angles during the stand, when known (e.g. from video or a
        clinician's inclinometer). Zero means the stand *defines* zero: every
        angle is then relative to the subject's own standing posture.

    Returns
    -------
    StaticCalibration
    """
    t = rec.t_s
    fs = rec.sampling_rate_hz
    if window_s is None:
        w = max(round(length_s * fs), 2)
        limit = int(np.searchsorted(t, t[0] + search_s))
        if limit < w:
            if len(rec) < w:
                raise InsufficientDataError(f"{rec.source}: {len(rec)} samples, a {length_s} s still window needs {w}")
            limit = w
        g = rec.gyr_rads[:limit]
        var = (_moving_mean(g**2, w) - _moving_mean(g, w) ** 2).sum(axis=1)
        start = int(np.argmin(var))
        sl = slice(start, start + w)
    else:
        i0, i1 = np.searchsorted(t, window_s[0]), np.searchsorted(t, window_s[1])
        if i1 - i0 < 2:
            raise InsufficientDataError(f"{rec.source}: calibration window {window_s} holds {i1 - i0} samples")
        sl = slice(int(i0), int(i1))
    acc = rec.acc_mps2[sl]
    gyr = rec.gyr_rads[sl]
    gyro_sd_dps = float(np.degrees(np.sqrt(np.sum(np.var(gyr, axis=0)))))
    nominal = axes.body_from_sensor()
    measured_up = nominal @ acc.mean(axis=0)
    norm = float(np.linalg.norm(measured_up))
    if norm < 1.0:
        raise InsufficientDataError(
            f"{rec.source}: mean acceleration {norm:.2f} m/s^2 in the still window; expected about 9.81 (gravity)"
        )
    fix = _rotation_between(measured_up / norm, _posture_up(posture_tilt_deg, posture_obliquity_deg))
    body_from_sensor = fix @ nominal
    angle = float(np.degrees(np.arccos(np.clip((np.trace(fix) - 1.0) / 2.0, -1.0, 1.0))))
    still = gyro_sd_dps <= max_gyro_sd_dps
    bias = gyr.mean(axis=0) if still else np.zeros(3)
    bias.flags.writeable = False
    body_from_sensor.flags.writeable = False
    return StaticCalibration(
        body_from_sensor=body_from_sensor,
        gyro_bias_rads=bias,
        window_s=(float(t[sl.start]), float(t[sl.stop - 1])),
        gyro_sd_dps=gyro_sd_dps,
        mounting_correction_deg=angle,
        posture_deg=(posture_tilt_deg, posture_obliquity_deg),
        still=still,
    )
