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


@pytest.mark.parametrize("yaw, first", [(38.0, "facing the camera"), (52.0, "side-on"), (-128.0, "side-on")])
def test_an_oblique_view_asks_for_the_nearer_view_first(observe, yaw, first):
    """As the protocols' wrong-view advice does: a body 38 deg from square is nearer facing the camera (30),
    one 52 deg from square (or 128 deg, its back to the camera) nearer side-on (60)."""
    result = KinematicsPipeline().run(_spaces(observe, yaw)["world"])
    assert result.view.view == "oblique"
    message = next(i.message for i in result.issues if i.code == "oblique_view")
    advice = message.split(": film ", 1)[1]
    assert advice.startswith(first), message


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


def test_the_recording_yaw_says_the_same_as_the_recording_view():
    """A subject walking to and fro (+-90 deg) and facing the camera in between: the mean of
    every sample's yaw (here 45 deg, "oblique") must not stand beside a sagittal view."""
    from kinematics.series import Series

    def classify(*runs: tuple[int, float]):
        yaw = np.concatenate([np.full(n, a) for n, a in runs])
        return ViewClassifier().classify(Series(np.arange(yaw.size) / 30.0, yaw, "deg", np.ones(yaw.size))), yaw

    est, yaw = classify((50, 90.0), (10, -90.0), (40, 0.0))
    everything = np.degrees(np.arctan2(np.sin(np.radians(yaw)).sum(), np.cos(np.radians(yaw)).sum()))
    assert fold_yaw(np.array(everything)) < 60.0  # what the recording's yaw used to say
    assert est.view == "sagittal"
    assert est.yaw_deg is not None and fold_yaw(np.array(est.yaw_deg)) >= 60.0
    # as often one way as the other: the side-on samples share no direction, so no yaw is claimed
    est, _ = classify((40, 90.0), (40, -90.0), (20, 0.0))
    assert est.view == "sagittal" and est.yaw_deg is None


@pytest.mark.parametrize(
    "yaw, sd, view, prob",
    [
        (5.0, 10.0, "frontal", 0.994),
        (25.0, 10.0, "frontal", 0.691),
        (45.0, 10.0, "oblique", 0.866),
        (170.0, 5.0, "frontal", 1.0),
    ],
)
def test_view_probability_from_the_yaw_uncertainty(yaw, sd, view, prob):
    """P(view) = mass of a Gaussian folded yaw inside the view's band: 25 +- 10 deg is frontal with 69 %."""
    from kinematics.series import Series

    n = 50
    est = ViewClassifier().classify(
        Series(np.arange(n) / 30.0, np.full(n, yaw), "deg", np.ones(n)), off_frontal_sd_deg=np.full(n, sd)
    )
    assert est.view == view
    assert est.view_prob == pytest.approx(prob, abs=1e-3)
    assert est.per_sample_view_prob is not None
    assert np.allclose(est.per_sample_view_prob, prob, atol=1e-3)


def test_a_frontal_view_near_its_limit_says_it_may_not_be_one(observe):
    image, _ = observe(MOVING, T, yaw_deg=27.0)
    result = KinematicsPipeline().run(image)
    assert result.view.view == "frontal"
    assert result.view.view_prob is not None and result.view.view_prob < 0.8
    issues = [i for i in result.issues if i.code == "view_uncertain"]
    assert len(issues) == 1 and issues[0].severity == "warning" and "30 deg limit" in issues[0].message
    square, _ = observe(MOVING, T, yaw_deg=0.0)
    assert not [i for i in KinematicsPipeline().run(square).issues if i.code == "view_uncertain"]
