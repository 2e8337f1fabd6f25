"""MediaPipe BlazePose Full through the maintained Tasks API (``PoseLandmarker``).

The only module that imports ``mediapipe``. Weights come from the bundle in
``models/`` (see ``models/README.md``); nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from kinematics.series import BLAZEPOSE33, LandmarkSchema
from vision.backends.base import PersonPose
from vision.models import ModelSpec, model_spec, verify

__all__ = ["Backend"]


@dataclass(frozen=True, kw_only=True)
class Options:
    """Detector settings; MediaPipe's defaults except ``num_poses``.

    ``num_poses=2`` lets the subject tracker see a second person instead of
    having the model silently swap to them when it loses the first.
    """

    num_poses: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    video: bool = True


class Backend:
    """BlazePose Full: 33 image landmarks, 33 world landmarks, visibility."""

    schema: LandmarkSchema = BLAZEPOSE33

    def __init__(self, spec: ModelSpec, options: Options = Options()) -> None:
        # MediaPipe's C++ logging would otherwise print graph warnings on every run.
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from mediapipe.tasks.python import BaseOptions, vision  # heavy import, only when used

        self.spec = verify(spec)
        self.name = f"mediapipe:{spec.name}"
        self.options = options
        mode = vision.RunningMode.VIDEO if options.video else vision.RunningMode.IMAGE
        self._landmarker = vision.PoseLandmarker.create_from_options(
            vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(spec.path)),
                running_mode=mode,
                num_poses=options.num_poses,
                min_pose_detection_confidence=options.min_detection_confidence,
                min_pose_presence_confidence=options.min_presence_confidence,
                min_tracking_confidence=options.min_tracking_confidence,
                output_segmentation_masks=False,
            )
        )
        self._last_ms = -1

    @classmethod
    def from_name(cls, name: str = "blazepose_full", *, video: bool = True, num_poses: int = 2) -> Backend:
        return cls(model_spec(name), Options(video=video, num_poses=num_poses))

    def estimate(self, rgb: np.ndarray, t_s: float) -> list[PersonPose]:
        import mediapipe as mp

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be (h, w, 3) uint8, got {rgb.shape} {rgb.dtype}")
        # mp.Image misreads row-padded arrays (e.g. PyAV's) without an error and finds nobody.
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.options.video:
            # VIDEO mode needs strictly increasing integer milliseconds.
            ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
            result = self._landmarker.detect_for_video(image, ms)
        else:
            result = self._landmarker.detect(image)
        people = []
        for i, landmarks in enumerate(result.pose_landmarks):
            image_xyz = np.array([[p.x, p.y, p.z] for p in landmarks], dtype=float)
            visibility = np.array([p.visibility if p.visibility is not None else 0.0 for p in landmarks])
            world = None
            if i < len(result.pose_world_landmarks):
                world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks[i]], dtype=float)
            people.append(PersonPose(image_xyz, world, visibility))
        return people

    def provenance(self) -> dict[str, object]:
        return {**self.spec.provenance(), "runtime": "mediapipe.tasks PoseLandmarker", **self.options.__dict__}

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
