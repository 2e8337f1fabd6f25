"""Landmark documents sent by phone apps: valid ones parse exactly, bad ones say what is wrong."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from kinematics import synth
from kinematics.errors import LandmarkFormatError
from vision.landmark_json import parse_landmarks


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
        ("schema", "coco17", "schema: expected one of ['blazepose33']"),
        ("space", "camera", "space: expected 'image' or 'world'"),
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
    ],
)
def test_malformed_documents_name_the_problem(path, value, message):
    with pytest.raises(LandmarkFormatError) as info:
        parse_landmarks(_broken(path, value))
    assert message in str(info.value)


def test_not_an_object():
    with pytest.raises(LandmarkFormatError, match="top level: expected an object, got list"):
        parse_landmarks([1, 2, 3])
