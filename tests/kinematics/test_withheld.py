"""Why a sample is not measured (``KinematicsResult.withheld``): the first cause, where the pipeline withheld it."""

from __future__ import annotations

import numpy as np

from kinematics import synth
from kinematics.pipeline import KinematicsPipeline
from kinematics.series import BLAZEPOSE33
from kinematics.withheld import NOT_MEASURED, first_cause


def test_first_cause_takes_the_first_true_cause_and_leaves_measured_samples_alone():
    withheld = np.array([True, True, True, False, True])
    a = np.array([True, False, False, True, False])
    b = np.array([True, True, False, True, False])
    codes = first_cause(withheld, [("pose_settling", a), ("hips_collapsed", b)])
    assert list(codes) == ["pose_settling", "hips_collapsed", "not_visible", None, "not_visible"]


def _frontal_stand(n: int = 150):
    t = np.arange(n) / 30.0
    image, _ = synth.render(
        synth.PoseAngles(hip_abduction_left_deg=10.0 + 5.0 * np.sin(t)), t, noise_px=0.3, rng=np.random.default_rng(0)
    )
    return t, image


def test_every_withheld_sample_has_the_code_of_why_and_no_measured_sample_has_one():
    t, image = _frontal_stand()
    vis = np.array(image.visibility)
    knee = BLAZEPOSE33.index("left_knee")
    vis[60:75, knee] = 0.2  # 0.5 s below the visibility threshold: too long to bridge
    vis[:3] = 0.0  # nobody in the first 3 frames, then the person appears (2 frames settling)
    result = KinematicsPipeline().run(image.replace(visibility=vis))
    assert result.view.view == "frontal" and result.withheld is not None
    for name, s in result.series.items():
        codes = result.withheld.codes[name]
        assert [c is None for c in codes] == list(s.valid), name  # a code exactly where the value is null
        assert set(codes) - {None} <= set(NOT_MEASURED)
    left = result.withheld.codes["hip_abduction_left_deg"]
    assert list(left[:5]) == ["frames_without_pose"] * 3 + ["pose_settling"] * 2
    assert set(left[61:74]) == {"not_visible"}  # the knee it needs (the edges are bridged, half confidence)
    assert set(result.withheld.codes["hip_abduction_right_deg"][5:]) == {None}  # the right knee was seen
    assert set(result.withheld.codes["hip_flexion_left_deg"][5:]) == {"plane_not_in_view"}
    # the reasons: the run's own words where it reported an issue of that code, else the general one
    assert result.withheld.at("hip_abduction_left_deg", 3) == (
        "pose_settling",
        next(q.message for q in result.issues if q.code == "pose_settling"),
    )
    assert result.withheld.at("hip_abduction_left_deg", 65) == ("not_visible", NOT_MEASURED["not_visible"])
    assert result.withheld.at("hip_flexion_left_deg", 50) == (
        "plane_not_in_view",
        result.unavailable["hip_flexion_left_deg"],
    )
    assert result.withheld.at("hip_abduction_left_deg", 50) is None
