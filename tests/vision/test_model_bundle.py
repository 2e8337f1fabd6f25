"""The shipped BlazePose bundle matches its manifest and runs in MediaPipe PoseLandmarker."""

import hashlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
VIDEO = REPO / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"


def _entry():
    with open(MODELS / "manifest.toml", "rb") as f:
        return tomllib.load(f)["models"]["blazepose_full"]


def test_manifest_matches_file():
    entry = _entry()
    path = MODELS / entry["file"]
    data = path.read_bytes()
    assert len(data) == entry["bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert (MODELS / entry["license_file"]).is_file()


def test_bundle_finds_pose_in_video_frame():
    if not VIDEO.is_file():
        pytest.skip(f"fixture video missing: {VIDEO} (copy pose2sim_demo/cam01.mp4 there)")
    av = pytest.importorskip("av")
    np = pytest.importorskip("numpy")
    mp = pytest.importorskip("mediapipe")
    from mediapipe.tasks.python import BaseOptions, vision

    with av.open(str(VIDEO)) as container:
        frame = next(container.decode(video=0))
        # to_ndarray() gives a row-padded view; mp.Image needs C-contiguous data
        # (otherwise mediapipe 1.2.2 silently reads a skewed image and finds nothing).
        rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(MODELS / _entry()["file"])),
        running_mode=vision.RunningMode.IMAGE,
    )
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))

    assert len(result.pose_landmarks) == 1
    lm = result.pose_landmarks[0]
    world = result.pose_world_landmarks[0]
    assert len(lm) == 33 and len(world) == 33
    assert all(p.visibility is not None and 0.0 <= p.visibility <= 1.0 for p in lm)
    shoulders_y = (lm[11].y + lm[12].y) / 2
    hips_y = (lm[23].y + lm[24].y) / 2
    ankles_y = (lm[27].y + lm[28].y) / 2
    assert lm[0].y < shoulders_y < hips_y < ankles_y  # upright person, image y points down
    assert min(lm[i].visibility for i in (11, 12, 23, 24)) > 0.5
