"""One still image, analysed synchronously: for ``POST /v1/frames`` and live use."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from kinematics.errors import CorruptMediaError
from kinematics.pipeline import KinematicsPipeline
from kinematics.series import LandmarkSeries
from service.analysis import _conventions, _issue
from service.schemas import FrameResult, ViewOut
from vision._imagesize import check_image_pixels
from vision._sniff import sniff_bytes
from vision.backends.base import PersonPose, PoseBackend
from vision.tracking import SubjectTracker

__all__ = ["FrameAnalyzer", "decode_image"]


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """One uploaded image as upright RGB; a clear error for anything else."""
    kind = sniff_bytes(data, name)
    if kind != "image":
        raise CorruptMediaError(f"{name}: expected a JPEG, PNG, WebP or BMP image, found {kind}")
    check_image_pixels(data, name)  # from the header: a 249 KB PNG may declare 16000x16000
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    if rgb is None or rgb.size == 0:
        raise CorruptMediaError(f"{name}: cannot decode image ({len(data)} bytes; damaged or cut short)")
    return np.ascontiguousarray(rgb)


class FrameAnalyzer:
    """Holds one pose model; the lock serialises calls into it.

    ``/v1/frames`` shares one IMAGE-mode model (every frame on its own); each
    ``/v1/live`` connection has its own VIDEO-mode model, which tracks the
    person from frame to frame instead of searching the whole picture each time
    (about half the CPU per frame; docs/performance.md).
    """

    def __init__(self, backend: PoseBackend, pipeline: KinematicsPipeline = KinematicsPipeline()) -> None:
        self.backend, self.pipeline = backend, pipeline
        self._lock = threading.Lock()

    def analyze_bytes(self, data: bytes, name: str = "image", t_s: float = 0.0) -> FrameResult:
        return self.analyze_rgb(decode_image(data, name), t_s)

    def estimate(self, rgb: np.ndarray, t_s: float = 0.0) -> list[PersonPose]:
        """Everyone the pose model finds in one frame (a live session follows its subject itself)."""
        with self._lock:
            return self.backend.estimate(rgb, t_s)

    def analyze_rgb(self, rgb: np.ndarray, t_s: float = 0.0) -> FrameResult:
        """One frame. A VIDEO-mode backend (a live connection's own) needs increasing ``t_s``."""
        h, w = rgb.shape[:2]
        people = self.estimate(rgb, t_s)
        pose = SubjectTracker((w, h)).choose(people, 0.0)
        conventions = _conventions("image_norm")
        if pose is None:
            return FrameResult(
                image_size=(w, h),
                person_found=False,
                view=ViewOut(view="unknown", confidence=0.0, measurable_planes=[]),
                angles={},
                unavailable={"all": "no person found in the image"},
                quality=[],
                conventions=conventions,
            )
        lm = LandmarkSeries(
            np.zeros(1), pose.image_xyz[None], pose.visibility[None], self.backend.schema, "image_norm", (w, h)
        )
        r = self.pipeline.run(lm)
        plane = {"frontal": "frontal", "sagittal": "sagittal"}.get(r.view.view)
        angles = {
            name: None if name in r.unavailable or np.isnan(s.values[0]) else round(float(s.values[0]), 2)
            for name, s in r.series.items()
        }
        return FrameResult(
            image_size=(w, h),
            person_found=True,
            landmarks=[
                [round(float(v), 5) for v in (*p, vis)] for p, vis in zip(pose.image_xyz, pose.visibility, strict=True)
            ],
            world_landmarks=None
            if pose.world_xyz is None
            else [[round(float(v), 5) for v in p] for p in pose.world_xyz],
            view=ViewOut(
                view=r.view.view,
                yaw_deg=r.view.yaw_deg,
                off_frontal_deg=r.view.off_frontal_deg,
                confidence=round(r.view.confidence, 3),
                share=r.view.share,
                measurable_planes=[plane] if plane else [],
            ),
            angles=angles,
            unavailable=r.unavailable,
            quality=[_issue(q) for q in r.issues],
            conventions={k: v for k, v in conventions.items() if k in angles},
        )

    def close(self) -> None:
        self.backend.close()
