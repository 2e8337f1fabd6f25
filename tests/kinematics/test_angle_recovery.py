"""Every angle series recovered through the whole pipeline, from image and from world landmarks.

A 10 s, 30 fps synthetic recording with BlazePose's measured jitter
(``conftest.NOISE_PX`` / ``NOISE_M``) is run through
:class:`~kinematics.pipeline.KinematicsPipeline`; the recovered series is
compared with the angles the body was posed with. Frontal-plane series are
filmed facing the camera (yaw 0) and back to it (180); sagittal-plane series
side-on facing either way along image x (+-90). Target: RMSE <= 1.0 deg.

Inside the frontal band but turned 20 deg, a planar angle is foreshortened
(the camera sees ``atan(cos(yaw) tan(angle))``): that geometric limit is
pinned separately, with and without noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline, KinematicsResult
from tests.kinematics.conftest import render_observed
from tests.kinematics.truth import FRONTAL, PLANE, SAGITTAL, pose, rmse, time_axis, truth

TARGET_DEG = 1.0

CASES = [(series, space, yaw) for series in FRONTAL for yaw in (0.0, 180.0) for space in ("image", "world")] + [
    (series, space, yaw) for series in SAGITTAL for yaw in (90.0, -90.0) for space in ("image", "world")
]

# Turned 20 deg: the worst RMSE of 20 noise draws, rounded up to 0.1 deg. Abduction
# is the angle the foreshortening hits (up to 35 deg here); the rest stay within target.
TURNED_LIMIT_DEG = {
    ("hip_abduction_left_deg", "image"): 1.8,
    ("hip_abduction_right_deg", "image"): 1.8,
    ("hip_abduction_left_deg", "world"): 1.6,
    ("hip_abduction_right_deg", "world"): 1.6,
}
TURNED = [(series, space, yaw) for series in FRONTAL for yaw in (20.0, -20.0) for space in ("image", "world")]


def _id(series: str, space: str, yaw: float) -> str:
    return f"{series.removesuffix('_deg')}-{space}-yaw{yaw:+.0f}"


@pytest.fixture(scope="module")
def recovered():
    """``recovered(plane, yaw, space)`` -> pipeline result, one noisy recording per ``(plane, yaw)``.

    Each recording draws its noise from a fresh ``np.random.default_rng(0)``, as
    the ``rng`` fixture would, and is run once for all the series it shows.
    """
    cache: dict[tuple[str, float, str], KinematicsResult] = {}

    def get(plane: str, yaw: float, space: str) -> KinematicsResult:
        if (plane, yaw, space) not in cache:
            t = time_axis()
            image, world = render_observed(pose(plane, t), t, yaw_deg=yaw, rng=np.random.default_rng(0))
            cache[(plane, yaw, "image")] = KinematicsPipeline().run(image)
            cache[(plane, yaw, "world")] = KinematicsPipeline().run(world)
        return cache[(plane, yaw, space)]

    return get


def _recovered_rmse(recovered, series: str, space: str, yaw: float) -> float:
    result = recovered(PLANE[series], yaw, space)
    assert series not in result.unavailable, result.unavailable.get(series)
    got = result.series[series]
    assert got.valid.all(), f"{int((~got.valid).sum())} samples not measured"
    return rmse(got.values, truth(PLANE[series], result.t_s)[series])


@pytest.mark.parametrize("series, space, yaw", CASES, ids=[_id(*c) for c in CASES])
def test_angle_series_recovered_within_one_degree(recovered, series, space, yaw):
    assert _recovered_rmse(recovered, series, space, yaw) <= TARGET_DEG


@pytest.mark.parametrize("series, space, yaw", TURNED, ids=[_id(*c) for c in TURNED])
def test_turned_twenty_degrees_stays_within_its_projection_limit(recovered, series, space, yaw):
    assert _recovered_rmse(recovered, series, space, yaw) <= TURNED_LIMIT_DEG.get((series, space), TARGET_DEG)


def test_the_turned_shortfall_is_geometry_not_noise(observe):
    """Noise-free, abduction is exact facing the camera and off by about a degree RMS turned
    20 deg (the camera plane is no longer the frontal plane), so the turned limits above
    measure the projection, not the filter."""
    t = time_axis()
    for yaw, low, high in ((0.0, 0.0, 0.01), (20.0, 0.8, 1.6)):
        image, _ = observe(pose("frontal", t), t, yaw_deg=yaw, noisy=False)
        result = KinematicsPipeline().run(image)
        for name in ("hip_abduction_left_deg", "hip_abduction_right_deg"):
            error = rmse(result.series[name].values, truth("frontal", t)[name])
            assert low <= error <= high, (yaw, name, error)


def test_noise_free_recovery_is_exact_in_the_viewed_plane(observe):
    """Without jitter, a frontal or side-on camera recovers every angle to 0.01 deg."""
    t = time_axis()
    for plane, yaws in (("frontal", (0.0, 180.0)), ("sagittal", (90.0, -90.0))):
        want = truth(plane, t)
        for yaw in yaws:
            for lm in observe(pose(plane, t), t, yaw_deg=yaw, noisy=False):
                result = KinematicsPipeline().run(lm)
                for name, values in want.items():
                    got = result.series[name].values
                    np.testing.assert_allclose(got, values, atol=0.01, err_msg=f"{name} {lm.space} yaw {yaw}")
