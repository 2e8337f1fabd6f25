"""MediaPipe BlazePose Full through the maintained Tasks API (``PoseLandmarker``).

The only module that imports ``mediapipe``. Weights come from the bundle in
``models/`` (see ``models/README.md``); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kinematics.series import BLAZEPOSE33, LandmarkSchema
from vision.backends.base import PersonPose
from vision.models import ModelSpec, model_spec, verify

__all__ = ["Backend"]


@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    MediaPipe's C++ graph prints start-up warnings (XNNPACK delegate, feedback
    tensors, NORM_RECT projection) straight to fd 2, past Python's logging.
    They are harmless here (landmarks on non-square frames were checked
    against the picture) but would bury a CLI user's one-line messages.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True, kw_only=True)
class Options:
    """Detector settings; MediaPipe's defaults except ``num_poses``.

    ``num_poses=2`` lets the subject tracker see a second person instead of
    having the model silently swap to them when it loses the first.
    """

    num_poses: int = 2
    quiet: bool = True  # silence the native start-up warnings (see _native_stderr_silenced)
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
        self._calls = 0
        with _native_stderr_silenced(options.quiet):
            self._landmarker = self._create(vision, BaseOptions, spec, options, mode)
        self._last_ms = -1

    @staticmethod
    def _create(vision, BaseOptions, spec: ModelSpec, options: Options, mode):
        return vision.PoseLandmarker.create_from_options(
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

    @classmethod
    def from_name(
        cls, name: str = "blazepose_full", *, video: bool = True, num_poses: int = 2, quiet: bool = True
    ) -> Backend:
        return cls(model_spec(name), Options(video=video, num_poses=num_poses, quiet=quiet))

    def estimate(self, rgb: np.ndarray, t_s: float) -> list[PersonPose]:
        import mediapipe as mp

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be (h, w, 3) uint8, got {rgb.shape} {rgb.dtype}")
        # mp.Image misreads row-padded arrays (e.g. PyAV's) without an error and finds nobody.
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        # The graph prints its last start-up warnings on the first frames.
        with _native_stderr_silenced(self.options.quiet and self._calls < 2):
            if self.options.video:
                # VIDEO mode needs strictly increasing integer milliseconds.
                ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
                self._last_ms = ms
                result = self._landmarker.detect_for_video(image, ms)
            else:
                result = self._landmarker.detect(image)
        self._calls += 1
        people = []
        for i, landmarks in enumerate(result.pose_landmarks):
            image_xyz = np.array([[p.x, p.y, p.z] for p in landmarks], dtype=float)
            visibility = np.array([p.visibility if p.visibility is not None else 0.0 for p in landmarks])
            world = None
            if i < len(result.pose_world_landmarks):
                world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks[i]], dtype=float)
            people.append(PersonPose(image_xyz, world, visibility, self.schema))
        return people

    def provenance(self) -> dict[str, object]:
        return {**self.spec.provenance(), "runtime": "mediapipe.tasks PoseLandmarker", **self.options.__dict__}

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
