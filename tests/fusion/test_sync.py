"""Clock offset between IMU and video: known offsets are recovered within one video frame."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.fusion import MOBILISED_LOWER_BACK, ClockOffset, ClockSync, SynchronisationError, pelvis_orientation
from kinematics.fusion.sync import vertical_acceleration
from kinematics.fusion.synth import PelvisMotion, pelvis_imu, rehab_motion, video_angle
from kinematics.series import Series

T = np.arange(0.0, 60.0, 0.01)
FRAME_S = 1.0 / 30.0


@pytest.mark.parametrize("offset_s", [3.217, -4.05, 0.0])
def test_a_known_offset_is_recovered_within_one_video_frame(rng, offset_s):
    motion = rehab_motion(T, posture_obliquity_deg=1.5, rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, mounting_error_deg=(4, 2, -3), rng=rng, clock_offset_s=offset_s)
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    video, _ = video_angle(T, motion.obliquity_deg, rng=rng, gaps_s=((20.0, 21.5), (40.0, 40.6)))
    got = ClockSync().estimate(imu, video)
    assert abs(got.offset_s - offset_s) < FRAME_S  # measured <= 14 ms over 10 seeds
    assert got.method == "cross_correlation" and got.peak_r > 0.5
    assert got.peak_r > got.second_r and 0.0 < got.confidence <= 1.0
    assert 0.2 < got.lobe_width_s < 1.5 and got.overlap_s > 40.0


def test_vertical_acceleration_against_the_video_hip_height(rng):
    """Gait-like bounce: IMU vertical acceleration vs image y (down) of the hip midpoint, twice differentiated."""
    t = T[:3000]
    base = rehab_motion(t, rng=rng)
    cadence_hz = 1.8 + 0.15 * np.sin(2 * np.pi * 0.07 * t)
    pos = base.position_m.copy()
    pos[:, 1] = 0.02 * np.sin(2 * np.pi * np.cumsum(cadence_hz) * 0.01)
    motion = PelvisMotion(t, base.tilt_deg, base.obliquity_deg, base.yaw_deg, pos)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng, clock_offset_s=-1.234)
    t_video = np.arange(0.0, 30.0, FRAME_S)
    hip_y_px = 1000.0 - 400.0 * np.interp(t_video, t, pos[:, 1]) + rng.normal(0.0, 1.5, t_video.shape[0])
    video = Series(t_video, hip_y_px, "px", np.ones(t_video.shape[0]))
    got = ClockSync().estimate(vertical_acceleration(rec), video, imu_derivative=0, video_derivative=2, video_sign=-1.0)
    assert abs(got.offset_s - -1.234) < FRAME_S
    # steps repeat every ~0.55 s: the next-best lag correlates almost as well, and the confidence says so
    assert got.second_r > 0.8 and got.confidence < 0.3


def test_a_periodic_movement_gives_a_low_confidence(rng):
    motion = rehab_motion(T, rng=None)  # strictly periodic: every repetition looks the same
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng, clock_offset_s=2.0)
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    video, _ = video_angle(T, motion.obliquity_deg, rng=rng)
    got = ClockSync().estimate(imu, video)
    assert got.confidence < 0.1 and got.second_r > 0.9 * got.peak_r


def test_unrelated_signals_raise(rng):
    t = np.arange(0.0, 60.0, 0.01)
    a = Series(t, np.cumsum(rng.normal(0, 1, t.shape[0])), "deg", np.ones(t.shape[0]))
    tv = np.arange(0.0, 60.0, FRAME_S)
    b = Series(tv, np.cumsum(rng.normal(0, 1, tv.shape[0])), "deg", np.ones(tv.shape[0]))
    with pytest.raises(SynchronisationError, match="give the offset manually"):
        ClockSync().estimate(a, b)


def test_too_little_overlap_raises(rng):
    t = np.arange(0.0, 3.0, 0.01)
    a = Series(t, np.sin(t), "deg", np.ones(t.shape[0]))
    with pytest.raises(SynchronisationError, match="less than 5 s"):
        ClockSync().estimate(a, a)


def test_a_manual_offset_is_taken_as_given():
    got = ClockOffset.manual(1.5)
    assert got.offset_s == 1.5 and got.method == "manual" and got.confidence == 1.0
    with pytest.raises(SynchronisationError):
        ClockOffset.manual(float("nan"))
