"""Sign conventions, checked on hand-moved landmarks of a still, noise-free subject.

Each test starts from a neutral standing pose and moves one landmark in a
direction named anatomically (the left hip up, the knee forward, the knee away
from the midline), so the expected sign follows from the anatomy and not from
the synthetic body's own angle definitions. Where the geometry is planar the
expected value is computed too (``atan2`` of the move over the segment).
Every check runs through the whole pipeline on a 1 s recording of the pose.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics import angles
from kinematics.pipeline import KinematicsPipeline
from kinematics.series import LandmarkSeries
from kinematics.synth import PoseAngles
from tests.kinematics.truth import time_axis

T = time_axis(duration_s=1.0)
MOVE_PX = 40.0
MOVE_M = 0.08


def _move(lm: LandmarkSeries, **moves: tuple[float, float, float]) -> LandmarkSeries:
    """Shift landmarks by ``(dx, dy, dz)`` in pixels (image) or metres (world); y is down."""
    xyz = np.array(lm.xyz)
    scale = np.array([*lm.image_size_wh, lm.image_size_wh[0]], float) if lm.space == "image_norm" else np.ones(3)
    for name, d in moves.items():
        xyz[:, lm.schema.index(name)] += np.asarray(d, float) / scale
    return lm.replace(xyz=xyz)


def _run(lm: LandmarkSeries, name: str) -> float:
    result = KinematicsPipeline().run(lm)
    assert name not in result.unavailable, result.unavailable.get(name)
    return float(np.median(result.series[name].values))


def _px(lm: LandmarkSeries, name: str) -> np.ndarray:
    return lm.metric_xyz()[0, lm.schema.index(name)]


@pytest.fixture
def standing(observe):
    """``standing(yaw_deg)`` -> (image, world) of a still, upright, noise-free subject."""
    return lambda yaw: observe(PoseAngles(), T, yaw_deg=yaw, noisy=False)


# Which way the subject's left points along image x: facing the camera their left
# is on the image's right; with their back to the camera it is on the left.
LEFT_ALONG_X = {0.0: 1.0, 180.0: -1.0}
# Which way the subject faces along image x when side-on (see Camera.yaw_deg and
# facing_direction): checked in test_side_on_yaw_faces_along_image_x.
FACING_ALONG_X = {90.0: 1.0, -90.0: -1.0}


@pytest.mark.parametrize("yaw", [0.0, 180.0])
def test_left_hip_higher_gives_positive_obliquity(standing, yaw):
    image, world = standing(yaw)
    up = -MOVE_PX / 4
    got = _run(_move(image, left_hip=(0, up, 0)), "pelvic_obliquity_deg")
    width = abs(_px(image, "left_hip")[0] - _px(image, "right_hip")[0])
    assert got == pytest.approx(np.degrees(np.arctan2(-up, width)), abs=1e-6)
    assert got > 0
    assert _run(_move(image, right_hip=(0, up, 0)), "pelvic_obliquity_deg") < 0
    assert _run(_move(world, left_hip=(0, -MOVE_M / 4, 0)), "pelvic_obliquity_deg") > 0
    assert _run(_move(world, right_hip=(0, -MOVE_M / 4, 0)), "pelvic_obliquity_deg") < 0


@pytest.mark.parametrize("yaw", [0.0, 180.0])
@pytest.mark.parametrize("side", ["left", "right"])
def test_knee_away_from_midline_gives_positive_abduction(standing, yaw, side):
    image, world = standing(yaw)
    outward = LEFT_ALONG_X[yaw] * (1.0 if side == "left" else -1.0)  # image x away from the midline
    name = f"hip_abduction_{side}_deg"
    thigh = np.linalg.norm(_px(image, f"{side}_knee") - _px(image, f"{side}_hip"))
    got = _run(_move(image, **{f"{side}_knee": (outward * MOVE_PX, 0, 0)}), name)
    assert got == pytest.approx(np.degrees(np.arctan2(MOVE_PX, thigh)), abs=1e-6)
    assert _run(_move(image, **{f"{side}_knee": (-outward * MOVE_PX, 0, 0)}), name) < 0  # adduction
    # World: facing the camera the subject's left is +x; back to it, -x.
    assert _run(_move(world, **{f"{side}_knee": (outward * MOVE_M, 0, 0)}), name) > 0
    assert _run(_move(world, **{f"{side}_knee": (-outward * MOVE_M, 0, 0)}), name) < 0


@pytest.mark.parametrize("yaw", [0.0, 180.0])
def test_shoulders_toward_the_left_give_positive_lateral_lean(standing, yaw):
    image, world = standing(yaw)
    left = LEFT_ALONG_X[yaw]
    shift_px = {n: (left * MOVE_PX, 0, 0) for n in ("left_shoulder", "right_shoulder")}
    shift_m = {n: (left * MOVE_M, 0, 0) for n in ("left_shoulder", "right_shoulder")}
    assert _run(_move(image, **shift_px), "trunk_lean_lateral_deg") > 0
    assert _run(_move(world, **shift_m), "trunk_lean_lateral_deg") > 0
    back_px = {n: (-left * MOVE_PX, 0, 0) for n in shift_px}
    assert _run(_move(image, **back_px), "trunk_lean_lateral_deg") < 0


@pytest.mark.parametrize("yaw", [90.0, -90.0])
@pytest.mark.parametrize("side", ["left", "right"])
def test_knee_forward_gives_positive_flexion(standing, yaw, side):
    image, world = standing(yaw)
    forward = FACING_ALONG_X[yaw]
    name = f"hip_flexion_{side}_deg"
    thigh = np.linalg.norm(_px(image, f"{side}_knee") - _px(image, f"{side}_hip"))
    got = _run(_move(image, **{f"{side}_knee": (forward * MOVE_PX, 0, 0)}), name)
    assert got == pytest.approx(np.degrees(np.arctan2(MOVE_PX, thigh)), abs=1e-6)
    assert _run(_move(image, **{f"{side}_knee": (-forward * MOVE_PX, 0, 0)}), name) < 0  # extension
    assert _run(_move(world, **{f"{side}_knee": (forward * MOVE_M, 0, 0)}), name) > 0
    assert _run(_move(world, **{f"{side}_knee": (-forward * MOVE_M, 0, 0)}), name) < 0


@pytest.mark.parametrize("yaw", [90.0, -90.0])
def test_shoulders_forward_give_positive_forward_lean(standing, yaw):
    image, world = standing(yaw)
    forward = FACING_ALONG_X[yaw]
    names = ("left_shoulder", "right_shoulder")
    assert _run(_move(image, **{n: (forward * MOVE_PX, 0, 0) for n in names}), "trunk_lean_forward_deg") > 0
    assert _run(_move(world, **{n: (forward * MOVE_M, 0, 0) for n in names}), "trunk_lean_forward_deg") > 0
    assert _run(_move(image, **{n: (-forward * MOVE_PX, 0, 0) for n in names}), "trunk_lean_forward_deg") < 0


def test_depth_alone_moves_no_angle(standing):
    """Angles live in the camera plane: a knee moved only toward the camera (world -z)
    changes no angle, and a frontal recording reports flexion as not measurable."""
    _, world = standing(0.0)
    moved = _move(world, left_knee=(0, 0, -MOVE_M))
    for fn in (angles.pelvic_obliquity, lambda lm: angles.hip_abduction(lm, side="left")):
        np.testing.assert_allclose(fn(moved).values, fn(world).values, atol=1e-9)
    result = KinematicsPipeline().run(moved)
    assert "hip_flexion_left_deg" in result.unavailable


@pytest.mark.parametrize("yaw", [90.0, -90.0])
def test_side_on_yaw_faces_along_image_x(standing, yaw):
    """Pins the synthetic camera's yaw sign: +90 faces image +x, and body_yaw reads the camera's yaw."""
    image, world = standing(yaw)
    np.testing.assert_array_equal(angles.facing_direction(image), FACING_ALONG_X[yaw])
    np.testing.assert_allclose(angles.body_yaw(image).values, yaw, atol=0.1)
    np.testing.assert_allclose(angles.body_yaw(world).values, yaw, atol=0.1)


def test_synthetic_obliquity_raises_the_left_hip(observe):
    """The synthetic body agrees with the anatomy: +obliquity puts the left hip higher in the picture."""
    for yaw in (0.0, 180.0):
        image, world = observe(PoseAngles(pelvic_obliquity_deg=5.0), T, yaw_deg=yaw, noisy=False)
        assert (image.point("left_hip")[:, 1] < image.point("right_hip")[:, 1]).all()  # y down
        assert (world.point("left_hip")[:, 1] < world.point("right_hip")[:, 1]).all()
