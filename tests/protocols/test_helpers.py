"""The protocols' building blocks, against answers worked out by hand."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.protocols import _common as C
from kinematics.protocols.base import ProtocolEvent
from kinematics.protocols.events import HoldDetector, StanceDetector
from kinematics.series import BLAZEPOSE33, LandmarkSeries, Series
from kinematics.synth import Camera, PoseAngles, render
from tests.protocols.synthetic import bumps, time_axis

PARAMS = dataclasses.asdict(KinematicsPipeline())


def _result(t: np.ndarray) -> types.SimpleNamespace:
    """What the derived-signal helpers read from a pipeline result: the clock and the filter settings."""
    return types.SimpleNamespace(t_s=t, parameters=PARAMS)


def _world(points: dict[str, tuple[float, float]], n: int = 40) -> LandmarkSeries:
    """A still world-space pose from ``name -> (x, y)`` metres (y down); other landmarks at the origin."""
    xyz = np.zeros((n, 33, 3))
    for name, (x, y) in points.items():
        xyz[:, BLAZEPOSE33.index(name), :2] = (x, y)
    return LandmarkSeries(np.arange(n) / 30.0, xyz, np.ones((n, 33)), BLAZEPOSE33, "world_m")


def _legs(knee_dx: float, *, mirror: bool = False) -> dict[str, tuple[float, float]]:
    """Hips 0.3 m apart, knees 0.45 m and ankles 0.9 m below; each knee moved ``knee_dx`` toward the midline."""
    s = -1.0 if mirror else 1.0  # mirror: the subject's left on the image's left (back to the camera)
    pts = {}
    for side, x in (("left", 0.15), ("right", -0.15)):
        inward = -np.sign(x)
        pts[f"{side}_hip"] = (s * x, 0.0)
        pts[f"{side}_knee"] = (s * (x + inward * knee_dx), 0.45)
        pts[f"{side}_ankle"] = (s * x, 0.9)
    return pts


@pytest.mark.parametrize("mirror", [False, True], ids=["facing", "back-turned"])
@pytest.mark.parametrize("knee_dx, sign", [(0.05, 1), (-0.05, -1), (0.0, 0)], ids=["valgus", "varus", "straight"])
def test_fppa_is_the_thigh_shank_angle_positive_when_the_knee_is_medial(knee_dx, sign, mirror):
    lm = _world(_legs(knee_dx, mirror=mirror))
    want = sign * 2 * np.degrees(np.arctan(abs(knee_dx) / 0.45))  # isosceles: twice the thigh's tilt
    for side in ("left", "right"):
        got = C.fppa(lm, _result(lm.t_s), side=side)[0].values  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("direction", [1.0, -1.0], ids=["head-left", "head-right"])
@pytest.mark.parametrize("knee_up, sign", [(0.2, 1), (-0.1, -1)], ids=["knee-to-ceiling", "knee-below-line"])
def test_supine_hip_angle_is_signed_by_the_floor_whichever_way_the_subject_lies(direction, knee_up, sign):
    # lying along image x: shoulders at -0.5 (or +0.5), hips at 0, knees 0.4 further along, knee_up above the line
    pts = {}
    for side in ("left", "right"):
        pts[f"{side}_shoulder"] = (-0.5 * direction, 0.0)
        pts[f"{side}_hip"] = (0.0, 0.0)
        pts[f"{side}_knee"] = (0.4 * direction, -knee_up)  # y is down: up is negative
    lm = _world(pts)
    got = C.supine_hip_angle(lm, _result(lm.t_s))[0].values  # type: ignore[arg-type]
    np.testing.assert_allclose(got, sign * np.degrees(np.arctan(abs(knee_up) / 0.4)), atol=1e-9)


def test_lying_is_told_from_standing():
    t = time_axis(2.0)
    for pitch, want in ((0.0, False), (-90.0, True)):
        image, world = render(PoseAngles(body_pitch_deg=pitch), t, camera=Camera(yaw_deg=90.0))
        for lm in (image, world):
            assert C.lying(lm, _result(t)) is want  # type: ignore[arg-type]


def test_hold_is_the_plateau_trimmed_of_the_ramps_and_not_the_noisy_maximum():
    t = time_axis(6.0)
    rng = np.random.default_rng(0)
    angle = bumps(t, [1.0], rise_s=1.0, hold_s=2.0, fall_s=1.0, high=40.0)
    noisy = angle + 0.8 * rng.standard_normal(t.size)  # about the low-passed thigh angle's jitter
    rep = ProtocolEvent("rep", 1.0, 5.0, 3.0)
    for values, atol in ((angle, 0.25), (noisy, 0.5)):
        (hold,) = HoldDetector().detect(Series(t, values, "deg", np.ones(t.size)), [rep])
        assert hold.end_s - hold.start_s == pytest.approx(2.0, abs=atol)


def _stance_recording(hidden: slice | None) -> LandmarkSeries:
    t = time_axis(8.0)
    lift = bumps(t, [1.0], rise_s=0.4, hold_s=5.0, fall_s=0.4)
    image, _ = render(PoseAngles(hip_flexion_left_deg=40 * lift, knee_flexion_left_deg=80 * lift), t)
    if hidden is None:
        return image
    vis = np.array(image.visibility)
    vis[hidden, BLAZEPOSE33.index("left_ankle")] = 0.0  # the lifted foot hidden behind the standing leg
    return image.replace(visibility=vis)


def test_a_lifted_foot_hidden_for_a_moment_does_not_split_the_stance():
    whole = StanceDetector().detect(_stance_recording(None))
    hidden = StanceDetector().detect(_stance_recording(slice(90, 96)))  # 0.2 s
    assert len(whole) == len(hidden) == 1
    assert hidden[0].end_s - hidden[0].start_s == pytest.approx(whole[0].end_s - whole[0].start_s, abs=1e-9)
    assert whole[0].end_s - whole[0].start_s == pytest.approx(5.8, abs=0.5)  # foot off the floor 1.0-6.8 s


def test_derivative_of_a_ramp_is_its_slope_and_refuses_gaps():
    t = time_axis(3.0)
    values = 12.0 * t
    values[40:45] = np.nan
    got = C.derivative(Series(t, values, "deg", np.ones(t.size)), 0.1)
    ok = np.isfinite(got)
    np.testing.assert_allclose(got[ok], 12.0)
    assert not ok[:3].any() and not ok[-3:].any() and not ok[38:47].any()


def test_interval_of_a_difference_holds_the_instrument_error():
    lo, hi = C.ci_around(2.0, 0.0, instrument_sd=1.0)
    assert (lo, hi) == (pytest.approx(2.0 - 1.96), pytest.approx(2.0 + 1.96))
    assert C.abs_ci((-1.0, 3.0)) == (0.0, 3.0) and C.abs_ci((-5.0, -2.0)) == (2.0, 5.0)
