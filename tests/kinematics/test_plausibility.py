"""The physiological plausibility gate (kinematics.plausibility): impossible angles never reach a user.

Synthetic series with known pose failures (a wrap at +-180 deg, a one-sample spike, a short
excursion, a level shift) and a synthetic recording whose knee is thrown above the hip for a
few frames, run through the whole pipeline. The real clip that reported a 280.7 deg hip
flexion range is in tests/protocols/test_real_footage.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.pipeline import ANGLE_SERIES, KinematicsPipeline
from kinematics.plausibility import PLAUSIBLE, Plausible, gate, sign_breaks
from kinematics.series import Series
from tests.kinematics.conftest import render_observed
from tests.kinematics.truth import pose, rmse, time_axis, truth

T = np.arange(300) / 30.0  # 10 s at 30 fps
HIP_FLEXION = PLAUSIBLE["hip_flexion_right_deg"]
TRUNK = PLAUSIBLE["trunk_lean_forward_deg"]


def _series(values: np.ndarray) -> Series:
    return Series(T, values, "deg", np.ones_like(T))


def test_every_angle_series_has_a_stated_band_and_source():
    assert set(PLAUSIBLE) == {spec.name for spec in ANGLE_SERIES}
    for band in PLAUSIBLE.values():
        assert band.source and band.max_rate_deg_s > 0
        assert (band.min_deg is None) == (band.max_deg is None)
        if band.min_deg is not None:
            assert band.min_deg < 0 < band.max_deg  # type: ignore[operator]


def test_a_wrapped_hip_flexion_is_withheld_and_the_range_stays_physiological():
    """-178 deg after 103 deg (the real clip's failure): the wrapped samples go, nothing else."""
    real = 40 + 60 * np.sin(2 * np.pi * 0.2 * T)  # -20..100 deg
    values = real.copy()
    values[150:160] = -178.0 + np.arange(10)  # a knee thrown above the hip: wrapped past -180
    gated, count = gate(_series(values), HIP_FLEXION)
    assert count.out_of_range == 10 and count.jumps == 0
    assert np.isnan(gated.values[150:160]).all() and (gated.confidence[150:160] == 0).all()
    np.testing.assert_array_equal(gated.values[gated.valid], real[np.r_[0:150, 160:300]])
    span = np.ptp(gated.values[gated.valid])
    assert span <= HIP_FLEXION.max_deg - HIP_FLEXION.min_deg  # type: ignore[operator]
    assert np.ptp(values) > 200  # what an ungated range would have said


def test_a_one_sample_spike_inside_the_band_is_withheld_as_a_jump():
    real = 10 * np.sin(2 * np.pi * 0.5 * T)
    values = real.copy()
    values[100] = 100.0  # 90 deg in 33 ms: 2,700 deg/s
    gated, count = gate(_series(values), HIP_FLEXION)
    assert (count.out_of_range, count.jumps) == (0, 1)
    assert np.isnan(gated.values[100]) and np.isfinite(gated.values[np.r_[0:100, 101:300]]).all()


def test_a_trunk_lean_that_wraps_at_180_never_gives_a_range_near_360():
    """Against the camera vertical there is no band: the jump test alone catches the wrap."""
    real = 170 + 5 * np.sin(2 * np.pi * 0.3 * T)  # close to upside down, never past it
    values = real.copy()
    values[200:210] = real[200:210] + 15  # crosses +180 for a third of a second ...
    values[200:210] = (values[200:210] + 180) % 360 - 180  # ... and wraps to about -175
    assert np.ptp(values) > 340
    gated, count = gate(_series(values), TRUNK)
    assert count.jumps > 0 and count.out_of_range == 0
    assert np.ptp(gated.values[gated.valid]) < 20


def test_a_short_excursion_goes_and_a_level_shift_between_long_runs_stays():
    """Which side of a lone jump is right cannot be told: only a short piece is withheld."""
    values = np.where(T < 7.0, 20.0, 120.0)  # 7 s at 20 deg, then 3 s at 120 deg
    gated, count = gate(_series(values), HIP_FLEXION)
    assert count.total == 0 and gated.valid.all()
    values[60:69] = 120.0  # 0.3 s at 120 deg inside the first run: jumps out and back
    gated, count = gate(_series(values), HIP_FLEXION)
    assert (count.out_of_range, count.jumps) == (0, 9)
    assert np.isnan(gated.values[60:69]).all() and gated.valid[np.r_[0:60, 69:300]].all()
    values[60:69] = 120.0 - np.linspace(0, 100, 9)  # a failure that jumps out and fades back: only the jump
    _, count = gate(_series(values), HIP_FLEXION)
    assert count.jumps == 0


def test_jumps_are_measured_across_gaps_in_time():
    """90 deg over a one-second gap is a movement, not a failure."""
    values = np.where(T < 5.0, 0.0, 90.0)
    confidence = np.where((T >= 4.5) & (T < 5.5), 0.0, 1.0)
    s = Series(T, np.where(confidence > 0, values, np.nan), "deg", confidence)
    gated, count = gate(s, HIP_FLEXION)
    assert count.total == 0 and gated is s


def test_a_jump_where_the_sign_convention_flips_is_not_tested():
    """A sagittal angle is signed by the facing direction: its flip is not the joint's."""
    facing = np.ones_like(T)
    facing[150:159] = -1.0  # the facing read flips for 0.3 s
    facing[10] = np.nan  # unknown facing is not a flip
    values = 90.0 * np.nan_to_num(facing, nan=1.0)  # lying: trunk along the floor, read +90 then -90
    breaks = sign_breaks(facing)
    assert np.flatnonzero(breaks).tolist() == [150, 159]
    gated, count = gate(_series(values), TRUNK, breaks=breaks)
    assert count.total == 0 and gated.valid.all()
    _, unbroken = gate(_series(values), TRUNK)
    assert unbroken.jumps == 9


def test_the_gate_refuses_what_it_cannot_test():
    with pytest.raises(ValueError, match="deg"):
        gate(Series(T, T, "m", np.ones_like(T)), HIP_FLEXION)
    with pytest.raises(ValueError, match="breaks"):
        gate(_series(T), HIP_FLEXION, breaks=np.zeros(3, bool))
    band = Plausible(-10.0, 10.0, 1e9, "test")
    _, count = gate(_series(np.full(T.shape, 11.0)), band)
    assert count.out_of_range == T.size


@pytest.mark.parametrize("space", ["image", "world"])
def test_a_knee_thrown_above_the_hip_is_withheld_by_the_pipeline(space):
    """Side-on squats; frames 150-157 put the right knee at the shoulders (a pose failure)."""
    t = time_axis()
    image, world = render_observed(pose("sagittal", t), t, yaw_deg=90.0, rng=np.random.default_rng(0))
    lm = image if space == "image" else world
    clean = KinematicsPipeline().run(lm)
    xyz = np.array(lm.xyz)
    knee, shoulder = lm.schema.index("right_knee"), lm.schema.index("right_shoulder")
    bad = slice(150, 158)
    xyz[bad, knee] = xyz[bad, shoulder]
    result = KinematicsPipeline().run(lm.replace(xyz=xyz))

    name = "hip_flexion_right_deg"
    got = result.series[name]
    issue = [q for q in result.issues if q.code == "implausible_angle"]
    assert issue and issue[0].severity == "warning" and "hip flexion right" in issue[0].message
    assert not [q for q in clean.issues if q.code == "implausible_angle"]
    # the failure's samples are withheld; every sample left is one a body can make
    assert np.isnan(got.values[153:156]).all() and (got.confidence[153:156] == 0).all()
    band = PLAUSIBLE[name]
    kept = got.values[got.valid]
    assert kept.min() >= band.min_deg and kept.max() <= band.max_deg  # type: ignore[operator]
    rng_metric = next(m for m in result.metrics if m.name == "hip_flexion_right_range")
    assert rng_metric.value == pytest.approx(np.ptp(kept), abs=0.01)
    # away from the failure (and the filter's reach of it) the angle is the true one, as before
    far = np.r_[0:140, 170 : len(t)]
    far = far[got.valid[far]]
    assert rmse(got.values[far], truth("sagittal", t)[name][far]) <= 1.0
