"""Pelvic tilt and obliquity from synthetic sensors with known attitude, noise, bias and drift (ahrs style)."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.errors import InputError
from kinematics.fusion import (
    MOBILISED_LOWER_BACK,
    AxisMapping,
    MahonyFilter,
    SensorFormatError,
    calibrate_static,
    pelvis_orientation,
    tilt_obliquity_deg,
)
from kinematics.fusion.synth import ImuErrors, PelvisMotion, pelvis_imu, rehab_motion

T = np.arange(0.0, 60.0, 0.01)  # 60 s at 100 Hz
# worn upside down and sideways: sensor -z up, +x anterior, so left = up x anterior = -y
ODD = AxisMapping(up="-z", anterior="+x", left="-y")


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize("axes", [MOBILISED_LOWER_BACK, ODD], ids=["mobilised", "upside_down"])
def test_tilt_and_obliquity_within_1_deg_rmse(rng, axes):
    """60 s of tilts, weight shifts, rotation and squats; gyro bias 0.5-0.8 deg/s + drift, 4/2/-3 deg strap error."""
    motion = rehab_motion(T, posture_tilt_deg=8.0, posture_obliquity_deg=1.0, rng=rng)
    rec = pelvis_imu(motion, axes=axes, mounting_error_deg=(4.0, 2.0, -3.0), rng=rng)
    cal = calibrate_static(rec, axes, posture_tilt_deg=8.0, posture_obliquity_deg=1.0)
    assert cal.still and 2.0 < cal.mounting_correction_deg < 6.0
    got = pelvis_orientation(rec, axes=axes, calibration=cal)
    assert _rmse(got.tilt.values, motion.tilt_deg) < 1.0  # measured 0.2-0.3
    assert _rmse(got.obliquity.values, motion.obliquity_deg) < 1.0  # measured 0.3-0.4 (3 deg strap heading)
    assert got.tilt.unit == "deg" and np.all(got.tilt.confidence == 1.0)


def test_without_noise_or_strap_error_the_angles_are_exact(rng):
    motion = rehab_motion(T, rng=rng)
    rec = pelvis_imu(
        motion,
        axes=MOBILISED_LOWER_BACK,
        errors=ImuErrors(
            acc_noise_mps2=0,
            gyr_noise_rads=0,
            gyr_bias_rads=(0, 0, 0),
            gyr_drift_rads_per_sqrt_s=0,
            acc_bias_mps2=(0, 0, 0),
        ),
        lever_arm_m=(0, 0, 0),
        rng=rng,
    )
    got = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK, estimator=MahonyFilter(kp=0.0, ki=0.0))
    assert _rmse(got.tilt.values, motion.tilt_deg) < 0.05
    assert _rmse(got.obliquity.values, motion.obliquity_deg) < 0.05


def test_gravity_correction_removes_the_bias_drift_that_the_gyroscope_alone_accumulates(rng):
    motion = rehab_motion(T, rng=rng)
    # 1.1 deg/s about the body's left and anterior axes (sensor -y and +z), no random walk
    errors = ImuErrors(gyr_bias_rads=(0.0, -0.02, -0.02), gyr_drift_rads_per_sqrt_s=0.0)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, errors=errors, rng=rng)
    cal = calibrate_static(rec, MOBILISED_LOWER_BACK, window_s=(0.5, 2.5))
    cal_no_bias = type(cal)(**{**cal.__dict__, "gyro_bias_rads": np.zeros(3)})
    mahony = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK, calibration=cal_no_bias)
    gyro = pelvis_orientation(
        rec, axes=MOBILISED_LOWER_BACK, calibration=cal_no_bias, estimator=MahonyFilter(kp=0.0, ki=0.0)
    )
    assert _rmse(gyro.obliquity.values, motion.obliquity_deg) > 10.0  # ~60 deg by the end
    assert _rmse(mahony.obliquity.values, motion.obliquity_deg) < 1.0
    # the integral term found the bias on the two axes gravity observes (left and anterior)
    late = mahony.gyro_bias_rads[-500:].mean(axis=0)
    assert late[0] == pytest.approx(0.02, abs=0.003) and late[2] == pytest.approx(-0.02, abs=0.003)


def test_the_static_calibration_measures_the_gyro_bias(rng):
    motion = rehab_motion(T[:1000], rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, errors=ImuErrors(gyr_drift_rads_per_sqrt_s=0.0), rng=rng)
    cal = calibrate_static(rec, MOBILISED_LOWER_BACK)
    assert cal.window_s[1] < 3.0  # the stillest second lies in the 3 s stand
    np.testing.assert_allclose(cal.gyro_bias_rads, ImuErrors().gyr_bias_rads, atol=np.radians(0.05))


def test_a_moving_calibration_window_is_flagged_and_its_mean_not_taken_as_bias(rng):
    motion = rehab_motion(T[:2000], stand_s=0.0, rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng)
    cal = calibrate_static(rec, MOBILISED_LOWER_BACK, window_s=(5.0, 6.0))
    assert not cal.still and np.all(cal.gyro_bias_rads == 0.0)


def test_shifting_the_time_origin_changes_nothing(rng):
    motion = rehab_motion(T[:3000], rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng)
    a = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK)
    b = pelvis_orientation(rec.shifted(1000.0), axes=MOBILISED_LOWER_BACK)
    np.testing.assert_allclose(a.obliquity.values, b.obliquity.values, atol=1e-6)
    np.testing.assert_allclose(b.tilt.t_s, a.tilt.t_s + 1000.0)


def test_a_calibration_stand_in_the_middle_runs_the_filter_both_ways(rng):
    t = T[:3000]
    moving = rehab_motion(t, stand_s=0.0, rng=rng)
    x = np.clip(np.abs(t - 12.5) - 1.5, 0.0, 2.0) / 2.0  # 0 during 11-14 s, back to 1 by 9 s and 16 s
    gate = x * x * (3 - 2 * x)
    motion = PelvisMotion(
        t, moving.tilt_deg * gate, moving.obliquity_deg * gate, moving.yaw_deg * gate, moving.position_m * gate[:, None]
    )
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng)
    cal = calibrate_static(rec, MOBILISED_LOWER_BACK, window_s=(11.5, 13.5))
    assert cal.still
    got = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK, calibration=cal)
    i = int(np.searchsorted(t, 11.5))
    assert _rmse(got.obliquity.values[:i], motion.obliquity_deg[:i]) < 1.0  # before the stand: the backward pass
    assert _rmse(got.obliquity.values[i:], motion.obliquity_deg[i:]) < 1.0
    assert _rmse(got.tilt.values, motion.tilt_deg) < 1.0


def test_signs_follow_the_documented_convention():
    th, ob = np.radians(10.0), np.radians(5.0)
    up = np.array([[np.sin(ob), np.cos(ob) * np.cos(th), -np.cos(ob) * np.sin(th)]])
    tilt, obliquity = tilt_obliquity_deg(up)
    assert tilt[0] == pytest.approx(10.0) and obliquity[0] == pytest.approx(5.0)  # anterior tilt, left side up


def test_a_mirrored_or_degenerate_axis_mapping_is_refused():
    with pytest.raises(SensorFormatError, match="mirrored.*left is -y"):
        AxisMapping(up="+x", anterior="+z", left="+y").body_from_sensor()
    with pytest.raises(SensorFormatError, match="three different sensor axes"):
        AxisMapping(up="+x", anterior="-x", left="+y").body_from_sensor()
    with pytest.raises(SensorFormatError, match="expected one of"):
        AxisMapping(up="x", anterior="+z", left="-y").body_from_sensor()  # type: ignore[arg-type]


def test_pelvic_angles_refuse_a_thigh_sensor(rng):
    rec = pelvis_imu(rehab_motion(T[:500]), axes=MOBILISED_LOWER_BACK, rng=rng)
    thigh = type(rec)(**{**rec.__dict__, "placement": "thigh"})
    with pytest.raises(InputError, match="thigh"):
        pelvis_orientation(thigh, axes=MOBILISED_LOWER_BACK)
