"""What a lower-back IMU alone answers of each exercise (kinematics.fusion.protocols)."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.fusion import MOBILISED_LOWER_BACK, InitialContactDetector, InvertedPendulum
from kinematics.fusion.protocols import CAMERA_ONLY, ImuProtocol
from kinematics.fusion.synth import daily_motion, pelvis_imu
from kinematics.protocols import PROTOCOLS
from kinematics.series import Series
from validation import mobilised as M


def _metrics(result):
    return {(m.name, m.side): m for m in result.metrics}


def test_gait_from_a_real_walk_with_strides():
    rec = M.recording("HA001", "Test5", "Trial2")
    gait = InitialContactDetector().detect(rec, axes=MOBILISED_LOWER_BACK)
    strides = InvertedPendulum().estimate(rec, gait, sensor_height_m=M.participant("HA001").sensor_height_m)
    result = ImuProtocol().assess("gait", gait=gait, strides=strides)
    m = _metrics(result)
    ref = M.reference_bouts("HA001", "Test5", "Trial2")[0]
    assert m["cadence_steps_per_min", None].value == pytest.approx(ref.cadence_steps_per_min, rel=0.05)
    low, high = m["stride_length_m", None].ci95
    assert low <= ref.mean_stride_length_m <= high  # 1.13 m on the optical reference
    assert m["rep_count", "left"].value + m["rep_count", "right"].value == m["rep_count", None].value
    assert [e.type for e in result.events].count("walking_bout") == 1 and not result.coaching
    assert {f.code.split("_")[0] for f in result.findings} >= {"cadence", "step"}


def test_gait_without_walking_gives_coaching_not_numbers(rng):
    t = np.arange(0.0, 30.0, 0.01)
    rec = pelvis_imu(daily_motion(t, "sit_to_stand", rng=rng), axes=MOBILISED_LOWER_BACK, rng=rng)
    result = ImuProtocol().assess("gait", gait=InitialContactDetector().detect(rec))
    assert result.coaching[0].code == "no_steps" and result.findings == []
    assert _metrics(result)["rep_count", None].value == 0


def test_obliquity_peaks_against_the_starting_stand():
    t = np.arange(0.0, 20.0, 0.01)
    values = np.where(t < 10, 3.0 * np.sin(np.pi * t / 10), -2.0 * np.sin(np.pi * (t - 10) / 10))
    result = ImuProtocol().assess("single_leg_stance", obliquity=Series(t, values, "deg", np.ones_like(t)))
    m = _metrics(result)
    assert m["pelvic_obliquity_peak_deg", "left"].value == pytest.approx(3.0, abs=0.01)
    assert m["pelvic_obliquity_peak_deg", "right"].value == pytest.approx(2.0, abs=0.01)
    assert "camera" in result.findings[0].message
    assert ImuProtocol().assess("standing_hip_abduction").coaching[0].code == "imu_axes"


def test_every_exercise_says_what_needs_a_camera():
    assert set(CAMERA_ONLY) == set(PROTOCOLS)
    assert ImuProtocol().assess("squat") is None
