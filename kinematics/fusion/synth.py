"""Synthetic wearable signals with known ground truth, for the tests.

In the style of the ``ahrs`` package's tests: a pelvis follows known tilt,
obliquity and heading trajectories, a sensor strapped to it (with a mounting
error and a lever arm from the pelvis centre) reads the angular rate and the
specific force that motion produces, and the sensor adds the errors real
MEMS units have: white noise, a turn-on gyroscope bias, a bias that wanders
(random walk) and an accelerometer offset. A video "sees" the true obliquity
at its own frame times with noise, gaps and confidence. EMG bursts start at
known times.

Default error magnitudes are those of consumer/wearable MEMS IMUs (e.g. the
Bosch BMI160 data sheet: gyroscope noise density 0.007 deg/s/sqrt(Hz), zero-rate
offset up to +-3 deg/s; accelerometer noise 180 ug/sqrt(Hz)), rounded up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from kinematics.fusion.axes import AxisMapping
from kinematics.fusion.imu_io import STANDARD_GRAVITY_MPS2, ImuRecording
from kinematics.series import Series

__all__ = ["ImuErrors", "PelvisMotion", "daily_motion", "emg_bursts", "pelvis_imu", "rehab_motion", "video_angle"]


@dataclass(frozen=True, kw_only=True)
class ImuErrors:
    """Sensor errors (per-sample standard deviations at the generated rate)."""

    acc_noise_mps2: float = 0.03
    gyr_noise_rads: float = math.radians(0.15)
    gyr_bias_rads: tuple[float, float, float] = (math.radians(0.8), math.radians(-0.5), math.radians(0.6))
    gyr_drift_rads_per_sqrt_s: float = math.radians(0.02)  # bias random walk
    acc_bias_mps2: tuple[float, float, float] = (0.03, -0.02, 0.02)


@dataclass(frozen=True, eq=False)
class PelvisMotion:
    """Ground truth: angles in deg and the pelvis centre in m, all ``(n,)`` / ``(n, 3)``.

    ``position_m`` is in the world frame at zero heading: (left, up, anterior).
    """

    t_s: np.ndarray
    tilt_deg: np.ndarray
    obliquity_deg: np.ndarray
    yaw_deg: np.ndarray
    position_m: np.ndarray


def _smooth_on(t_s: np.ndarray, start_s: float, ramp_s: float = 2.0) -> np.ndarray:
    x = np.clip((t_s - start_s) / ramp_s, 0.0, 1.0)
    return x * x * (3 - 2 * x)  # smoothstep: no jump in rate or acceleration


def _irregular(t: np.ndarray, sd: float, rng: np.random.Generator | None) -> np.ndarray:
    """Smooth random movement below ~0.8 Hz with standard deviation ``sd``."""
    if rng is None or sd == 0:
        return np.zeros_like(t)
    fs = 1.0 / float(np.median(np.diff(t)))
    sos: np.ndarray = signal.butter(2, 0.8, fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, rng.normal(0.0, 1.0, (t.shape[0],)))
    return sd * x / x.std()


def rehab_motion(
    t_s: np.ndarray,
    *,
    stand_s: float = 3.0,
    posture_tilt_deg: float = 0.0,
    posture_obliquity_deg: float = 0.0,
    irregular_deg: float = 2.0,
    rng: np.random.Generator | None = None,
) -> PelvisMotion:
    """A still stand, then slow rehabilitation-like movement.

    Anterior/posterior pelvic tilts (+-10 deg, 0.2 Hz), weight shifts with
    obliquity (+-6 deg, 0.3 Hz) and a 3 cm lateral sway, trunk rotation
    (+-25 deg heading, 0.07 Hz) and squat-like 8 cm vertical motion (0.25 Hz),
    all fading in over 2 s after ``stand_s``. With ``rng``, tilt and obliquity
    also wander irregularly (``irregular_deg`` standard deviation, below
    0.8 Hz), as a person does between repetitions; without it the movement is
    periodic, which makes a clock offset ambiguous by one repetition.
    """
    t = np.asarray(t_s, dtype=float)
    on = _smooth_on(t, stand_s)
    tilt = posture_tilt_deg + on * (
        10.0 * np.sin(2 * np.pi * 0.2 * t)
        + 3.0 * np.sin(2 * np.pi * 0.53 * t + 1.0)
        + _irregular(t, irregular_deg, rng)
    )
    obliquity = posture_obliquity_deg + on * (
        6.0 * np.sin(2 * np.pi * 0.3 * t + 0.4) + 1.5 * np.sin(2 * np.pi * 0.9 * t) + _irregular(t, irregular_deg, rng)
    )
    yaw = on * 25.0 * np.sin(2 * np.pi * 0.07 * t)
    position = np.column_stack(
        [
            on * 0.03 * np.sin(2 * np.pi * 0.3 * t + 0.4),
            on * 0.08 * (np.cos(2 * np.pi * 0.25 * t) - 1.0) / 2.0,
            on * 0.02 * np.sin(2 * np.pi * 0.2 * t),
        ]
    )
    return PelvisMotion(t, tilt, obliquity, yaw, position)


def daily_motion(
    t_s: np.ndarray,
    activity: str,
    *,
    step_hz: float = 1.8,
    turn_s: tuple[float, float] | None = None,
    rng: np.random.Generator,
) -> PelvisMotion:
    """Pelvis motion of an everyday activity, for testing gait detection.

    ``activity``:

    * ``"stand"``: postural sway only (+-3 mm, +-0.5 deg, below 0.5 Hz).
    * ``"sit_to_stand"``: every 8 s the pelvis drops 0.45 m onto a chair in 1.5 s
      with 30 deg of anterior tilt on the way, sits 2.5 s tilted 15 deg back,
      and rises again: large, non-periodic vertical acceleration.
    * ``"arms"``: standing while moving the arms rhythmically at 1.2 Hz (wiping,
      reaching): the trunk's reaction, +-5 deg of pelvic rotation, +-2 deg of
      tilt, +-1 cm of lateral and +-3.5 mm of vertical motion (0.2 m/s^2 of
      vertical acceleration, the upper end of what the lower-back sensor of the
      Mobilise-D recordings shows during their non-walking tasks: band RMS
      0.02-0.18 m/s^2).
    * ``"walk"``: straight walking at ``step_hz`` steps/s: the pelvis rises and
      falls 2.5 cm per step, sways 2 cm sideways and rotates +-4 deg per
      stride; with ``turn_s`` = (start, end) the heading turns 180 deg over that
      interval (a smooth ramp). By construction of the rotation phase the pelvis
      turns clockwise (seen from above) at the first contact, so contacts are
      left, right, left, ... in McCamley's convention. Step ``k`` (k = 1, 2,
      ...) is the pelvis's ``k``-th lowest point, at ``k / step_hz``; this
      sinusoidal model has no heel-strike impact, so it tests step counting,
      cadence and sides, not contact timing.
    """
    t = np.asarray(t_s, dtype=float)
    sway = _irregular(t, 1.0, rng)
    zero = np.zeros_like(t)
    if activity == "stand":
        pos = 0.003 * np.column_stack([_irregular(t, 1.0, rng), 0.3 * sway, _irregular(t, 1.0, rng)])
        return PelvisMotion(t, 0.5 * sway, 0.5 * _irregular(t, 1.0, rng), 0.5 * _irregular(t, 1.0, rng), pos)
    if activity == "sit_to_stand":
        phase = np.mod(t, 8.0)
        down = _smooth_on(phase, 2.0, 1.5) - _smooth_on(phase, 6.0, 1.5)  # 0 standing .. 1 seated
        lean = np.sin(np.pi * np.clip((phase - 2.0) / 1.5, 0, 1)) + np.sin(np.pi * np.clip((phase - 6.0) / 1.5, 0, 1))
        tilt = 30.0 * lean - 15.0 * down * (1 - lean)
        pos = np.column_stack([zero, -0.45 * down, 0.12 * down])
        return PelvisMotion(t, tilt + 0.5 * sway, 0.5 * sway, zero, pos)
    if activity == "arms":
        w = 2 * np.pi * 1.2 * t
        pos = np.column_stack([0.01 * np.sin(w), 0.0035 * np.sin(w + 0.5), zero])
        return PelvisMotion(t, 2.0 * np.sin(w + 1.0) + 0.5 * sway, 0.5 * sway, 5.0 * np.sin(w), pos)
    if activity == "walk":
        w = 2 * np.pi * step_hz * t
        heading = zero if turn_s is None else 180.0 * _smooth_on(t, turn_s[0], turn_s[1] - turn_s[0])
        pos = np.column_stack([0.02 * np.sin(w / 2), 0.0125 * (1 - np.cos(w)), zero])
        # yaw -4 sin(w/2 + pi) = 4 sin(w/2): its rate is negative (clockwise) at odd k, where cos(w/2) = -1
        return PelvisMotion(t, 1.5 * np.sin(w), 1.5 * np.sin(w / 2), heading - 4.0 * np.sin(w / 2 + np.pi), pos)
    raise ValueError(f"activity must be stand, sit_to_stand, arms or walk; got {activity!r}")


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _small_rotation(deg: tuple[float, float, float]) -> np.ndarray:
    a = np.radians(np.asarray(deg, dtype=float))
    return _rx(a[0:1])[0] @ _ry(a[1:2])[0] @ _rz(a[2:3])[0]


def pelvis_imu(
    motion: PelvisMotion,
    *,
    axes: AxisMapping,
    mounting_error_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    lever_arm_m: tuple[float, float, float] = (0.0, 0.05, -0.10),
    errors: ImuErrors = ImuErrors(),
    rng: np.random.Generator,
    clock_offset_s: float = 0.0,
) -> ImuRecording:
    """What a sacrum IMU reads while the pelvis follows ``motion``.

    Parameters
    ----------
    motion
        Ground truth on a uniform time grid.
    axes
        How the sensor is nominally worn (sensor axes -> body axes).
    mounting_error_deg
        Extra rotation of the sensor about the body's left, up and anterior
        axes (applied in that order): the strap is never exactly as declared.
    lever_arm_m
        Sensor position relative to the pelvis centre in body axes (left, up,
        anterior): the sacrum is behind and above it, so rotation adds
        tangential and centripetal acceleration.
    errors
        Noise, bias and drift.
    clock_offset_s
        The IMU clock reads ``t_true - clock_offset_s``: a video clock that
        reads the true time is then ``t_imu + clock_offset_s``.

    Returns
    -------
    ImuRecording
        ``placement="sacrum"``, sensor axes, SI units.
    """
    t = motion.t_s
    dt = float(np.median(np.diff(t)))
    th, ph, ps = (np.radians(a) for a in (motion.tilt_deg, motion.obliquity_deg, motion.yaw_deg))
    rx, rz, ry = _rx(th), _rz(ph), _ry(ps)
    rot = ry @ rz @ rx  # body -> world (Baker: rotation, obliquity, tilt)
    d_th, d_ph, d_ps = (np.gradient(a, t, edge_order=2) for a in (th, ph, ps))
    ex, ey, ez = np.eye(3)
    rxt, rzt = np.swapaxes(rx, 1, 2), np.swapaxes(rz, 1, 2)
    omega_body = (
        d_th[:, None] * ex
        + np.einsum("nij,nj->ni", rxt, d_ph[:, None] * ez)
        + np.einsum("nij,njk,nk->ni", rxt, rzt, d_ps[:, None] * ey)
    )
    sensor_pos = motion.position_m + np.einsum("nij,j->ni", rot, np.asarray(lever_arm_m, dtype=float))
    acc_world = np.gradient(np.gradient(sensor_pos, t, axis=0, edge_order=2), t, axis=0, edge_order=2)
    f_body = np.einsum("nji,nj->ni", rot, acc_world + STANDARD_GRAVITY_MPS2 * ey)
    body_from_sensor = _small_rotation(mounting_error_deg) @ axes.body_from_sensor()
    gyr = omega_body @ body_from_sensor  # v_sensor = M^T v_body, row-wise: v_body @ M
    acc = f_body @ body_from_sensor
    n = t.shape[0]
    drift = np.cumsum(rng.normal(0.0, errors.gyr_drift_rads_per_sqrt_s * math.sqrt(dt), (n, 3)), axis=0)
    gyr = gyr + np.asarray(errors.gyr_bias_rads) + drift + rng.normal(0.0, errors.gyr_noise_rads, (n, 3))
    acc = acc + np.asarray(errors.acc_bias_mps2) + rng.normal(0.0, errors.acc_noise_mps2, (n, 3))
    return ImuRecording(
        t_s=t - clock_offset_s,
        acc_mps2=acc,
        gyr_rads=gyr,
        placement="sacrum",
        sampling_rate_hz=1.0 / dt,
        source="synthetic",
        format="generic",
    )


def video_angle(
    motion_t_s: np.ndarray,
    truth_deg: np.ndarray,
    *,
    fps: float = 30.0,
    noise_deg: float = 1.5,
    gaps_s: tuple[tuple[float, float], ...] = (),
    frame_jitter_s: float = 0.002,
    rng: np.random.Generator,
) -> tuple[Series, np.ndarray]:
    """A video-derived angle: the truth at frame times, noisy, with gaps.

    Frame times are ``i / fps`` plus jitter (a phone's variable frame
    timing). Each frame gets a confidence in [0.4, 1]; its noise standard
    deviation is ``noise_deg / sqrt(confidence)``. Frames inside ``gaps_s``
    are NaN with confidence 0.

    Returns
    -------
    series, truth
        The measured Series (deg) and the true angle at its timestamps.
    """
    t0, t1 = float(motion_t_s[0]), float(motion_t_s[-1])
    n = math.floor((t1 - t0) * fps)
    t_v = t0 + np.arange(n) / fps + rng.uniform(-frame_jitter_s, frame_jitter_s, n)
    t_v = np.clip(np.sort(t_v), t0, t1)
    truth = np.interp(t_v, motion_t_s, truth_deg)
    conf = rng.uniform(0.4, 1.0, n)
    values = truth + rng.normal(0.0, 1.0, n) * noise_deg / np.sqrt(conf)
    for a, b in gaps_s:
        inside = (t_v >= a) & (t_v <= b)
        values[inside] = np.nan
        conf[inside] = 0.0
    return Series(t_v, values, "deg", conf), truth


def emg_bursts(
    t_s: np.ndarray,
    bursts: list[tuple[float, float, float]],
    *,
    sampling_rate_hz: float,
    baseline_mv: float = 0.005,
    rise_s: float = 0.015,
    hum_mv: float = 0.02,
    hum_hz: float = 50.0,
    wander_mv: float = 0.05,
    rng: np.random.Generator,
) -> np.ndarray:
    """One surface-EMG channel, mV: bursts ``(onset_s, offset_s, rms_mv)`` on a noisy baseline.

    Muscle activity is Gaussian noise band-limited to 20-450 Hz (the surface
    EMG band), amplitude-modulated by a trapezoid that starts rising at the
    burst's onset and reaches its RMS after ``rise_s``. Added: white
    amplifier noise (``baseline_mv`` RMS), mains hum, and a slow baseline
    wander (movement artefact below 2 Hz).
    """
    t = np.asarray(t_s, dtype=float)
    n = t.shape[0]
    sos = signal.butter(4, (20.0, min(450.0, 0.45 * sampling_rate_hz)), "bandpass", fs=sampling_rate_hz, output="sos")
    carrier = signal.sosfilt(sos, rng.normal(0.0, 1.0, n + 2000))[2000:]
    carrier /= carrier.std()
    envelope = np.zeros(n)
    for onset, offset, rms in bursts:
        up = np.clip((t - onset) / rise_s, 0.0, 1.0)
        down = np.clip((offset - t) / rise_s, 0.0, 1.0)
        envelope = np.maximum(envelope, rms * np.minimum(up, down))
    slow_sos = signal.butter(2, 2.0, fs=sampling_rate_hz, output="sos")
    slow = signal.sosfilt(slow_sos, rng.normal(0.0, 1.0, n + 2000))[2000:]
    slow *= wander_mv / max(slow.std(), 1e-12)
    hum = hum_mv * np.sin(2 * np.pi * hum_hz * t + rng.uniform(0, 2 * np.pi))
    return envelope * carrier + rng.normal(0.0, baseline_mv, n) + hum + slow
