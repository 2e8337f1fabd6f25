"""Landmark documents sent by phone apps: valid ones parse exactly, bad ones say what is wrong."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from kinematics import synth
from kinematics.errors import LandmarkFormatError
from kinematics.schemas import CORE, SCHEMAS
from vision.landmark_json import parse_landmarks


def schema_document(name: str, n: int = 60, obliquity_deg: float = 4.0) -> dict:
    """A frontal synthetic recording (pelvis tilted ``obliquity_deg``) written in skeleton ``name``.

    Image skeletons carry x, y (Apple Vision with y up) and a confidence of
    0.9; depth cameras their SDK's camera axes in metres, 2.5 m away.
    """
    if name == "blazepose33":
        return document(n=n)
    image, world = synth.render(synth.PoseAngles(pelvic_obliquity_deg=obliquity_deg), np.arange(n) / 30)
    schema = SCHEMAS[name]
    camera = schema.spaces == ("camera",)
    src = (world.xyz + np.array([0.0, 0.0, 2.5])) * np.asarray(schema.camera_axes) if camera else image.xyz
    frames = []
    for i, t in enumerate(image.t_s):
        rows = []
        for joint in schema.joints:
            core = schema.core.get(joint)
            # a joint the core has no name for (a neck, a spine joint): placed at the shoulders' midpoint
            shoulders = src[i, CORE.indices("left_shoulder", "right_shoulder")].mean(axis=0)
            p = src[i, CORE.index(core)] if core else shoulders
            if camera:
                rows.append([float(p[0]), float(p[1]), float(p[2]), 0.9])
            else:
                y = 1.0 - p[1] if schema.image_y_up else p[1]
                rows.append([float(p[0]), float(y), 0.9])
        frames.append({"t_s": float(t), "landmarks": rows})
    doc = {"schema": name, "space": schema.spaces[0], "frames": frames}
    if not camera:
        doc["image_size"] = list(image.image_size_wh)
    return doc


def document(space: str = "image", n: int = 5) -> dict:
    image, world = synth.render(synth.PoseAngles(pelvic_obliquity_deg=4.0), np.arange(n) / 30)
    lm = image if space == "image" else world
    frames = [{"t_s": float(t), "landmarks": [[*map(float, p), 0.9] for p in lm.xyz[i]]} for i, t in enumerate(lm.t_s)]
    doc = {"schema": "blazepose33", "space": space, "fps": 30, "frames": frames}
    if space == "image":
        doc["image_size"] = [1080, 1920]
    return doc


@pytest.mark.parametrize("space", ["image", "world"])
def test_a_valid_document_round_trips(space):
    doc = parse_landmarks(document(space))
    lm = doc.landmarks
    assert lm.space == ("image_norm" if space == "image" else "world_m")
    assert lm.xyz.shape == (5, 33, 3)
    np.testing.assert_allclose(lm.t_s, np.arange(5) / 30)
    np.testing.assert_allclose(lm.visibility, 0.9)
    assert doc.visibility_given and not doc.timestamps_from_fps


def test_frames_without_a_pose_become_missing_samples():
    raw = document()
    raw["frames"][2]["landmarks"] = None
    raw["frames"][3]["landmarks"] = []
    lm = parse_landmarks(raw).landmarks
    assert np.isnan(lm.xyz[2]).all() and np.isnan(lm.xyz[3]).all()
    assert lm.visibility[2].max() == 0


def test_timestamps_can_come_from_fps_when_no_frame_has_one():
    raw = document()
    for fr in raw["frames"]:
        del fr["t_s"]
    doc = parse_landmarks(raw)
    assert doc.timestamps_from_fps
    np.testing.assert_allclose(doc.landmarks.t_s, np.arange(5) / 30)


def _broken(path: str, value) -> dict:
    raw = copy.deepcopy(document())
    target = raw
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("schema", "coco18", "schema: expected one of ['blazepose33', 'coco17', 'openpose18', 'apple_vision19'"),
        ("space", "camera", "space: expected 'image' or 'world' for blazepose33"),
        ("image_size", [1080], "image_size: expected [width, height]"),
        ("image_size", KeyError, "image_size: expected [width, height]"),
        ("frames", [], "frames: expected a non-empty list"),
        (
            "frames.1.landmarks",
            [[0.1, 0.2, 0.0, 1.0]] * 17,
            "frames[1].landmarks: expected 33 rows in blazepose33 order, got 17",
        ),
        ("frames.2.t_s", 0.0, "frames[2].t_s: timestamps must increase strictly"),
        ("frames.2.t_s", "soon", "frames[2].t_s: expected a finite number"),
        ("frames.1.t_s", KeyError, "frames[1].t_s: missing"),
        ("frames.0.landmarks.5", [0.1, "x", 0.0, 1.0], "frames[0].landmarks[5]: expected a finite number"),
        ("frames.0.landmarks.5", [0.1, 0.2, 0.0, 1.5], "visibility must be in [0, 1], got 1.5"),
        ("fps", -3, "fps: must be > 0"),
        ("frames.0.landmarks.5", [0.1, float("nan"), 0.0], "frames[0].landmarks[5]: expected a finite number, got NaN"),
        ("frames.3.landmarks.5", [540.0, 960.0, 0.0], "frames[3].landmarks: x, y must be normalised"),
        ("frames.0.landmarks.5", [0.1, 0.2], "frames[0].landmarks[5]: expected [x, y, z, visibility]"),
    ],
)
def test_malformed_documents_name_the_problem(path, value, message):
    with pytest.raises(LandmarkFormatError) as info:
        parse_landmarks(_broken(path, value))
    assert message in str(info.value)


def test_not_an_object():
    with pytest.raises(LandmarkFormatError, match="top level: expected an object, got list"):
        parse_landmarks([1, 2, 3])


def test_a_joint_that_was_not_found_may_be_null():
    raw = document()
    raw["frames"][1]["landmarks"][25] = None
    lm = parse_landmarks(raw).landmarks
    assert np.isnan(lm.point("left_knee")[1]).all() and lm.vis("left_knee")[1] == 0
    assert np.isfinite(lm.point("left_knee")[0]).all()


def _other(schema: str, space: str, rows: list, **extra) -> dict:
    return {"schema": schema, "space": space, "fps": 30, "frames": [{"landmarks": rows}] * 3, **extra}


@pytest.mark.parametrize(
    ("schema", "space", "rows", "extra", "message"),
    [
        (
            "coco17",
            "image",
            [[0.5, 0.5, 1.0]] * 33,
            {"image_size": [640, 480]},
            "expected 17 rows in coco17 order, got 33",
        ),
        ("coco17", "world", [[0.5, 0.5, 1.0]] * 17, {}, "space: expected 'image' for coco17"),
        ("coco17", "image", [[0.5, 0.5, 0.1, 1.0]] * 17, {"image_size": [640, 480]}, "expected [x, y, visibility]"),
        (
            "openpose18",
            "image",
            [[320.0, 240.0, 0.9]] * 18,
            {"image_size": [640, 480]},
            "pixels? divide x by the width",
        ),
        ("kinect_v2_25", "image", [[0.1, 0.2, 2.0]] * 25, {"image_size": [640, 480]}, "space: expected 'camera'"),
        ("azure_kinect_32", "camera", [[100.0, -300.0, 2500.0]] * 32, {}, "millimetres? divide by 1000"),
        ("kinect_v2_25", "camera", [[0.1, 0.2, -2.0]] * 25, {}, "z is the distance in front of the camera"),
    ],
)
def test_other_schemas_refuse_the_wrong_count_space_or_units(schema, space, rows, extra, message):
    with pytest.raises(LandmarkFormatError) as info:
        parse_landmarks(_other(schema, space, rows, **extra))
    assert message in str(info.value)


def test_apple_vision_y_up_is_flipped_to_the_cores_y_down():
    rows = [[0.5, 0.8, 1.0]] * 19  # y up: 0.8 is near the top of the picture
    doc = parse_landmarks(_other("apple_vision19", "image", rows, image_size=[1080, 1920]))
    assert doc.schema == "apple_vision19" and doc.landmarks.schema.name == "apple_vision19"
    np.testing.assert_allclose(doc.landmarks.point("nose")[:, 1], 0.2)
    assert np.isnan(doc.landmarks.point("left_heel")).all()


def test_kinect_v2_camera_space_is_turned_to_x_right_y_down():
    rows = [[0.3, -0.5, 3.0, 1.0]] * 25
    lm = parse_landmarks(_other("kinect_v2_25", "camera", rows)).landmarks
    assert lm.space == "world_m"
    np.testing.assert_allclose(lm.point("left_hip"), [[-0.3, 0.5, 3.0]] * 3)
