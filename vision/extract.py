"""Media in, the subject's landmark sequences out: decode, pose, follow one person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from kinematics.series import LandmarkSchema, LandmarkSeries
from vision.backends.base import PoseBackend
from vision.decode import Picture, VideoReader, read_image
from vision.tracking import SubjectReport, SubjectTracker
from vision.yuv import YuvPicture

__all__ = [
    "Extraction",
    "LandmarkCollector",
    "MediaInfo",
    "SeamCheck",
    "extract_image",
    "extract_video",
    "median_sharpness",
    "pose_input",
    "subject_sharpness",
]

Progress = Callable[[int, int | None], None]  # (frames done, frames expected or None)


@dataclass(frozen=True)
class MediaInfo:
    kind: str
    container: str | None
    codec: str | None
    width: int
    height: int
    rotation_deg: int
    fps_nominal: float | None
    duration_s: float | None
    frames_read: int
    variable_frame_rate: bool | None
    truncated: bool
    notes: tuple[str, ...] = ()
    sharpness: float | None = None  # median variance of the Laplacian over the subject; see subject_sharpness


@dataclass(frozen=True)
class SeamCheck:
    """What the stitcher saw at the start of chunk ``chunk`` (overlap with the chunk before)."""

    chunk: int
    t_start_s: float
    overlap_frames: int
    #: frames in the overlap where the previous chunk's subject was found and the
    #: nearest of this chunk's people was within 0.5 torso lengths of it
    matched_frames: int
    #: median over the overlap of that distance, in torso lengths (None if never both found)
    median_distance_torso: float | None


@dataclass(frozen=True, eq=False)
class Extraction:
    """The followed subject's landmarks in image and world space, on one clock.

    ``seams``: what :func:`vision.parallel.extract_video_parallel` checked where its chunks
    meet; empty when one process read the whole video.
    """

    image: LandmarkSeries
    world: LandmarkSeries | None
    media: MediaInfo
    subject: SubjectReport
    model: dict[str, object] = field(default_factory=dict)
    seams: tuple[SeamCheck, ...] = ()


SHARPNESS_EVERY = 5  # frames; sharpness changes slowly, and each costs ~1 ms


def subject_sharpness(rgb: np.ndarray | YuvPicture, bbox: tuple[float, float, float, float]) -> float | None:
    """Focus measure of the subject: variance of the Laplacian over their bounding box.

    The box is scaled to 256 px high first, so that the figure does not depend on
    how large the person is in the picture (Pech-Pacheco et al., ICPR 2000, for
    the measure; the scale is ours). ``rgb``: the frame, or its YUV planes (only
    the box is converted).
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = bbox
    a, b = int(max(0.0, x0) * w), int(min(1.0, x1) * w)
    c, d = int(max(0.0, y0) * h), int(min(1.0, y1) * h)
    if b - a < 8 or d - c < 8:
        return None
    box = rgb[c:d, a:b] if isinstance(rgb, np.ndarray) else rgb.rgb((a, c, b, d))
    gray = cv2.cvtColor(np.ascontiguousarray(box), cv2.COLOR_RGB2GRAY)
    scale = 256.0 / gray.shape[0]
    gray = cv2.resize(gray, (max(8, int(gray.shape[1] * scale)), 256), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def median_sharpness(values: list[float]) -> float | None:
    """The recording's sharpness: the median of the per-frame values, to 0.1; None without any."""
    return round(float(np.median(values)), 1) if values else None


class LandmarkCollector:
    """Accumulates per-frame poses; NaN rows where the subject was not found."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.t_s: list[float] = []
        self.image: list[np.ndarray] = []
        self.world: list[np.ndarray] = []
        self.vis: list[np.ndarray] = []
        self.any_world = False

    def add(self, t_s: float, pose) -> None:  # pose: PersonPose | None
        nan = np.full((self.k, 3), np.nan)
        self.t_s.append(t_s)
        if pose is None:
            self.image.append(nan)
            self.world.append(nan)
            self.vis.append(np.zeros(self.k))
            return
        self.image.append(pose.image_xyz)
        self.world.append(pose.world_xyz if pose.world_xyz is not None else nan)
        self.any_world |= pose.world_xyz is not None
        self.vis.append(pose.visibility)

    def series(self, schema: LandmarkSchema, size_wh: tuple[int, int]) -> tuple[LandmarkSeries, LandmarkSeries | None]:
        t_s, vis = np.asarray(self.t_s), np.stack(self.vis)
        image = LandmarkSeries(t_s, np.stack(self.image), vis, schema, "image_norm", size_wh)
        world = LandmarkSeries(t_s, np.stack(self.world), vis, schema, "world_m") if self.any_world else None
        return image, world


def pose_input(backend: PoseBackend, picture: Picture) -> np.ndarray:
    """What ``backend.estimate`` takes of ``picture``.

    A backend that crops frames itself (``takes_yuv``: the ONNX one) gets the
    picture as it is, a strided RGB view or YUV planes; any other the whole
    frame as a C-contiguous RGB array. Typed as the RGB array
    `PoseBackend.estimate` declares: a ``YuvPicture`` goes only to a backend
    that says it takes one.
    """
    if getattr(backend, "takes_yuv", False):
        return cast(np.ndarray, picture.image)
    return picture.rgb()


def extract_video(
    path: str | Path, backend: PoseBackend, *, progress: Progress | None = None, crops_from_yuv: bool = False
) -> Extraction:
    """Run ``backend`` over every frame of a video, following one subject.

    Frames are streamed; only the landmarks are kept (~1 KB per frame).
    ``crops_from_yuv``: a backend that can (``takes_yuv``) resamples its crops
    straight from the decoder's planes (``VideoReader.pictures``) instead of
    cropping whole frames converted to RGB. Faster, but its crops differ from
    FFmpeg's conversion by rounding, and that moves angles on some recordings
    by as much as ±1 level of noise does (``python -m bench angles``,
    docs/performance.md): not the default.
    """
    with VideoReader(path) as video:
        info = video.info
        size = (info.width, info.height)
        tracker = SubjectTracker(size)
        collect = LandmarkCollector(len(backend.schema))
        expected = info.frame_count_reported
        sharpness: list[float] = []
        for picture in video.pictures(yuv=crops_from_yuv):
            pixels = pose_input(backend, picture)
            pose = tracker.choose(backend.estimate(pixels, picture.t_s), picture.t_s)
            collect.add(picture.t_s, pose)
            if pose is not None and picture.index % SHARPNESS_EVERY == 0:
                value = subject_sharpness(pixels, pose.bbox())
                if value is not None:
                    sharpness.append(value)
            if progress is not None:
                progress(picture.index + 1, expected)
        stats = video.stats
    image, world = collect.series(backend.schema, size)
    media = MediaInfo(
        "video",
        info.container,
        info.codec,
        info.width,
        info.height,
        info.rotation_deg,
        info.nominal_fps,
        info.duration_s,
        stats.frames_read,
        stats.variable_frame_rate,
        stats.truncated,
        tuple(stats.notes),
        median_sharpness(sharpness),
    )
    return Extraction(image, world, media, tracker.report, backend.provenance())


def extract_image(path: str | Path, backend: PoseBackend) -> Extraction:
    """Pose of the most prominent person in a single image."""
    frame = read_image(path)
    h, w = frame.rgb.shape[:2]
    tracker = SubjectTracker((w, h))
    collect = LandmarkCollector(len(backend.schema))
    pose = tracker.choose(backend.estimate(frame.rgb, 0.0), 0.0)
    collect.add(0.0, pose)
    image, world = collect.series(backend.schema, (w, h))
    sharp = None if pose is None else subject_sharpness(frame.rgb, pose.bbox())
    media = MediaInfo(
        "image", None, None, w, h, 0, None, None, 1, None, False, (), median_sharpness([sharp] if sharp else [])
    )
    return Extraction(image, world, media, tracker.report, backend.provenance())
