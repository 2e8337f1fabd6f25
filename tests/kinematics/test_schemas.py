"""The landmark-schema registry: each skeleton laid onto the core's names, and what it cannot measure."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.errors import MotionscriptError
from kinematics.pipeline import KinematicsPipeline
from kinematics.schemas import CORE, SCHEMAS, get_schema
from kinematics.series import BLAZEPOSE33
from kinematics.synth import Camera, PoseAngles, render

# Joint counts of the producers' own documentation.
EXPECTED_COUNTS = {
    "blazepose33": 33,
    "coco17": 17,
    "openpose18": 18,
    "apple_vision19": 19,
    "kinect_v2_25": 25,
    "azure_kinect_32": 32,
}


def test_every_schema_is_registered_with_its_documented_joint_count():
    assert {n: len(s) for n, s in SCHEMAS.items()} == EXPECTED_COUNTS


def test_blazepose_lays_onto_the_core_unchanged():
    assert SCHEMAS["blazepose33"].layout == BLAZEPOSE33
    assert not SCHEMAS["blazepose33"].missing
    assert SCHEMAS["blazepose33"].limits() == []


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_every_schema_has_what_the_frontal_and_hip_angles_need(name):
    s = SCHEMAS[name]
    for joint in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee"):
        assert s.layout.has(joint), f"{name} lacks {joint}"
    for side in ("left", "right"):
        assert s.layout.has(f"{side}_ankle") and s.layout.has(f"{side}_wrist")


def test_what_each_schema_cannot_support_is_named():
    lost = {n: {lim.what for lim in s.limits()} for n, s in SCHEMAS.items()}
    assert lost["coco17"] == {"facing from the feet", "hands"}
    assert lost["openpose18"] == lost["apple_vision19"] == lost["coco17"]
    assert lost["azure_kinect_32"] == {"facing from the feet", "hands"}  # it has a nose and ears
    assert lost["kinect_v2_25"] == {"facing from the feet", "facing from the head", "hands"}  # no nose, no ears
    for s in SCHEMAS.values():
        for lim in s.limits():
            assert s.name in lim.reason


def test_depth_camera_feet_are_not_taken_as_toes():
    for name in ("kinect_v2_25", "azure_kinect_32"):
        s = SCHEMAS[name]
        assert "left_foot" in s.joints and not s.layout.has("left_foot_index") and not s.layout.has("left_heel")


def test_unknown_schema_is_refused_by_name():
    with pytest.raises(MotionscriptError, match="unknown landmark schema 'coco18'.*coco17"):
        get_schema("coco18")


def _walk(yaw_deg: float = 0.0):
    t = np.arange(0, 4, 1 / 30)
    angles = PoseAngles(
        pelvic_obliquity_deg=6 * np.sin(2 * np.pi * 0.5 * t),
        trunk_lean_lateral_deg=4 * np.sin(2 * np.pi * 0.3 * t),
        hip_abduction_left_deg=10 * np.sin(2 * np.pi * 0.4 * t) ** 2,
    )
    return render(angles, t, camera=Camera(yaw_deg=yaw_deg))


def _from_core(name: str, xyz_core: np.ndarray, vis_core: np.ndarray):
    """A core-named skeleton written out in schema ``name``'s order (the inverse of to_core)."""
    s = SCHEMAS[name]
    xyz = np.zeros((xyz_core.shape[0], len(s), 3))
    vis = np.ones((xyz_core.shape[0], len(s)))
    for joint, core in s.core.items():
        xyz[:, s.joints.index(joint)] = xyz_core[:, CORE.index(core)]
        vis[:, s.joints.index(joint)] = vis_core[:, CORE.index(core)]
    return xyz, vis


@pytest.mark.parametrize("name", ["coco17", "openpose18", "apple_vision19"])
def test_image_skeletons_give_blazepose_frontal_angles(name):
    """The same body in each 2D schema: frontal angles equal BlazePose's; nothing invented for missing joints."""
    image, _ = _walk()
    xyz, vis = _from_core(name, image.xyz, image.visibility)
    xyz[..., 2] = 0.0
    if SCHEMAS[name].image_y_up:
        xyz[..., 1] = 1.0 - xyz[..., 1]
    lm = SCHEMAS[name].to_core(image.t_s, xyz, vis, "image", image.image_size_wh)
    assert lm.schema.name == name
    assert np.isnan(lm.point("left_heel")).all() and not lm.vis("left_heel").any()
    ref = KinematicsPipeline().run(image.replace(xyz=np.where(np.isnan(lm.xyz), np.nan, image.xyz)))
    got = KinematicsPipeline().run(lm)
    assert got.view.view == "frontal"
    for series in ("pelvic_obliquity_deg", "trunk_lean_lateral_deg", "hip_abduction_left_deg"):
        a, b = got.series[series].values, ref.series[series].values
        ok = np.isfinite(a) & np.isfinite(b)
        assert ok.mean() > 0.9
        np.testing.assert_allclose(a[ok], b[ok], atol=1e-6)


def test_kinect_v2_camera_axes_become_the_cores_and_frontal_angles_equal_blazepose_worlds():
    """Kinect v2 camera space (x to the sensor's left, y up) turned into x right, y down."""
    _, world = _walk()
    core = world.xyz + np.array([0.0, 0.0, 2.5])  # 2.5 m from the camera
    xyz, vis = _from_core("kinect_v2_25", core, world.visibility)
    xyz *= np.array([-1.0, -1.0, 1.0])  # as the Kinect SDK reports it
    lm = SCHEMAS["kinect_v2_25"].to_core(world.t_s, xyz, vis, "camera")
    np.testing.assert_allclose(lm.point("left_hip"), core[:, CORE.index("left_hip")])
    res = KinematicsPipeline().run(lm)
    ref = KinematicsPipeline().run(world.replace(xyz=core))
    ob, ob_ref = res.series["pelvic_obliquity_deg"].values, ref.series["pelvic_obliquity_deg"].values
    ok = np.isfinite(ob) & np.isfinite(ob_ref)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(ob[ok], ob_ref[ok], atol=1e-6)
    assert "pelvic_obliquity_deg" not in res.unavailable


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0])
def test_kinect_v2_side_on_angles_are_signed_from_the_3d_hip_line(yaw_deg):
    """No nose, ears or feet: the facing comes from the depth of the hip and shoulder lines, and the
    hip flexion of a side-on recording is the rendered one, whichever way the subject faces."""
    t = np.arange(0, 6, 1 / 30)
    flexion = 40 * np.sin(2 * np.pi * 0.4 * t) ** 2  # 0..40 deg, repeated
    _, world = render(PoseAngles(hip_flexion_left_deg=flexion), t, camera=Camera(yaw_deg=yaw_deg))
    core = world.xyz + np.array([0.0, 0.0, 2.5])
    xyz, vis = _from_core("kinect_v2_25", core, world.visibility)
    lm = SCHEMAS["kinect_v2_25"].to_core(world.t_s, xyz * np.array([-1.0, -1.0, 1.0]), vis, "camera")
    res = KinematicsPipeline().run(lm)
    assert res.view.view == "sagittal"
    got = res.series["hip_flexion_left_deg"].values
    ok = np.isfinite(got)
    assert ok.mean() > 0.9 and "hip_flexion_left_deg" not in res.unavailable
    assert np.sqrt(np.mean((got[ok] - flexion[ok]) ** 2)) < 1.5
