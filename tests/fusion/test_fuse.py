"""Fused obliquity beats both of its inputs on synthetic data with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.errors import InputError
from kinematics.fusion import MOBILISED_LOWER_BACK, ClockSync, MahonyFilter, ObliquityFusion, pelvis_orientation
from kinematics.fusion.synth import pelvis_imu, rehab_motion, video_angle
from kinematics.series import Series

T = np.arange(0.0, 60.0, 0.01)
OFFSET_S = 3.217
GAPS = ((20.0, 21.5), (40.0, 40.6))


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a)
    return float(np.sqrt(np.mean((a[ok] - b[ok]) ** 2)))


@pytest.fixture
def session(rng):
    """The subject stands with the left hip 1.5 deg high: the IMU's zero is its own stand, the video's is level."""
    motion = rehab_motion(T, posture_obliquity_deg=1.5, rng=rng)
    rec = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, mounting_error_deg=(4, 2, -3), rng=rng, clock_offset_s=OFFSET_S)
    video, video_truth = video_angle(T, motion.obliquity_deg, rng=rng, gaps_s=GAPS)
    return motion, rec, video, video_truth


def test_fused_obliquity_beats_video_only_and_imu_only(session):
    motion, rec, video, video_truth = session
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    gyro_only = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK, estimator=MahonyFilter(kp=0, ki=0)).obliquity
    offset = ClockSync().estimate(imu, video)
    fused = ObliquityFusion().fuse(imu, video, offset=offset)
    truth_at_fused = np.interp(fused.angle.t_s, T, motion.obliquity_deg)
    rmse_video = _rmse(video.values, video_truth)  # ~1.9 deg
    rmse_imu = _rmse(imu.values, motion.obliquity_deg)  # ~1.5 deg: the stand's own obliquity
    rmse_gyro = _rmse(gyro_only.values, motion.obliquity_deg)
    rmse_fused = _rmse(fused.angle.values, truth_at_fused)  # ~0.3 deg
    assert rmse_fused < 0.5 * min(rmse_video, rmse_imu, rmse_gyro)
    assert rmse_fused < 0.5
    fused_gyro = ObliquityFusion().fuse(gyro_only, video, offset=offset)
    assert _rmse(fused_gyro.angle.values, truth_at_fused) < 0.6 * min(rmse_video, rmse_gyro)


def test_the_fused_series_is_on_the_video_clock_at_the_imu_rate(session):
    _, rec, video, _ = session
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    fused = ObliquityFusion().fuse(imu, video, offset=OFFSET_S)
    assert len(fused.angle) == len(rec)
    np.testing.assert_allclose(fused.angle.t_s, rec.t_s + OFFSET_S)
    assert fused.frames_used == int((video.valid & (video.confidence >= 0.05)).sum())
    assert 0.5 < fused.normalised_innovation_rms < 1.5  # the noise model fits the data


def test_confidence_drops_inside_a_video_gap_and_recovers(session):
    _, rec, video, _ = session
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    fused = ObliquityFusion().fuse(imu, video, offset=OFFSET_S)
    t = fused.angle.t_s
    in_gap = fused.sd_deg[np.argmin(np.abs(t - 20.75))]
    seen = fused.sd_deg[np.argmin(np.abs(t - 30.0))]
    assert in_gap > 1.15 * seen  # 0.32 vs 0.25 deg for a 1.5 s gap
    assert fused.angle.confidence[np.argmin(np.abs(t - 20.75))] < fused.angle.confidence[np.argmin(np.abs(t - 30.0))]


def test_without_any_video_the_imu_shape_is_kept_with_low_confidence(session):
    _, rec, video, _ = session
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    blind = Series(video.t_s, np.full(len(video), np.nan), "deg", np.zeros(len(video)))
    fused = ObliquityFusion().fuse(imu, blind, offset=OFFSET_S)
    np.testing.assert_allclose(fused.angle.values, imu.values)
    assert fused.frames_used == 0 and np.all(fused.angle.confidence < 0.02)


def test_units_are_checked(session):
    _, rec, video, _ = session
    imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
    with pytest.raises(InputError, match="deg"):
        ObliquityFusion().fuse(Series(imu.t_s, imu.values, "px", imu.confidence), video)
