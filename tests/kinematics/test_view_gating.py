"""A camera view reports only the plane it can see; the view classifier's bands."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics import angles
from kinematics.pipeline import ANGLE_SERIES, KinematicsPipeline
from kinematics.synth import PoseAngles, render
from kinematics.view import ViewClassifier, fold_yaw
from tests.kinematics.truth import FRONTAL, SAGITTAL, time_axis

T = time_axis()
# Some movement in both planes, so that a withheld series is withheld for the view
# and not because there was nothing to see.
MOVING = PoseAngles(
    pelvic_obliquity_deg=4 * np.sin(2 * np.pi * 0.3 * T),
    hip_abduction_left_deg=10 + 10 * np.sin(2 * np.pi * 0.2 * T),
    hip_flexion_right_deg=30 + 30 * np.sin(2 * np.pi * 0.25 * T),
    trunk_lean_forward_deg=5 * np.sin(2 * np.pi * 0.1 * T),
)


def _spaces(observe, yaw):
    image, world = observe(MOVING, T, yaw_deg=yaw)
    return {"image": image, "world": world}


@pytest.mark.parametrize("space", ["image", "world"])
@pytest.mark.parametrize(
    "yaw, view, shown, hidden",
    [
        (0.0, "frontal", FRONTAL, SAGITTAL),
        (180.0, "frontal", FRONTAL, SAGITTAL),
        (90.0, "sagittal", SAGITTAL, FRONTAL),
        (-90.0, "sagittal", SAGITTAL, FRONTAL),
    ],
)
def test_a_view_withholds_the_other_plane_and_says_so(observe, space, yaw, view, shown, hidden):
    result = KinematicsPipeline().run(_spaces(observe, yaw)[space])
    assert result.view.view == view
    for name in hidden:
        reason = result.unavailable[name]
        assert f"{view} view" in reason, reason
        assert not result.series[name].valid.any()
        assert np.isnan(result.series[name].values).all()
        assert (result.series[name].confidence == 0).all()
    for name in shown:
        assert name not in result.unavailable
        assert result.series[name].valid.all()
    withheld = {m.series for m in result.metrics if not m.measurable}
    assert withheld == set(hidden)


@pytest.mark.parametrize("space", ["image", "world"])
@pytest.mark.parametrize("yaw", [45.0, -45.0, 135.0])
def test_an_oblique_view_reports_neither_plane(observe, space, yaw):
    result = KinematicsPipeline().run(_spaces(observe, yaw)[space])
    assert result.view.view == "oblique"
    assert set(result.unavailable) == {spec.name for spec in ANGLE_SERIES}
    for name, reason in result.unavailable.items():
        assert "oblique view" in reason, reason
        assert not result.series[name].valid.any()
    oblique = [i for i in result.issues if i.code == "oblique_view"]
    assert len(oblique) == 1 and oblique[0].severity == "error"


@pytest.mark.parametrize("space", ["image", "world"])
@pytest.mark.parametrize(
    "yaw, view",
    [
        (25.0, "frontal"),
        (-25.0, "frontal"),
        (155.0, "frontal"),
        (-155.0, "frontal"),
        (70.0, "sagittal"),
        (-70.0, "sagittal"),
        (110.0, "sagittal"),
        (-110.0, "sagittal"),
        (45.0, "oblique"),
        (-45.0, "oblique"),
        (135.0, "oblique"),
        (-135.0, "oblique"),
    ],
)
def test_view_classifier_bands(observe, space, yaw, view):
    """Default bands: frontal within 30 deg of facing or backing the camera, sagittal beyond 60."""
    lm = _spaces(observe, yaw)[space]
    yaw_series = angles.body_yaw(lm)
    np.testing.assert_allclose(np.median(fold_yaw(yaw_series.values)), fold_yaw(np.array(yaw)), atol=1.0)
    estimate = ViewClassifier().classify(yaw_series)
    assert estimate.view == view
    assert estimate.share[view] > 0.95


def test_view_classifier_rejects_crossed_bands():
    yaw = angles.body_yaw(_standing_image())
    with pytest.raises(ValueError, match="frontal_max_deg"):
        ViewClassifier(frontal_max_deg=60.0, sagittal_min_deg=30.0).classify(yaw)


def test_unknown_view_when_no_hip_or_shoulder_is_seen():
    lm = _standing_image()
    vis = np.array(lm.visibility)
    for name in ("left_hip", "right_hip", "left_shoulder", "right_shoulder"):
        vis[:, lm.schema.index(name)] = 0.0
    estimate = ViewClassifier().classify(angles.body_yaw(lm.replace(visibility=vis)))
    assert estimate.view == "unknown" and estimate.confidence == 0.0


def _standing_image():
    image, _ = render(PoseAngles(), T[:30])
    return image
