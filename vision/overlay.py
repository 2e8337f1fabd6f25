"""An annotated copy of a video: the skeleton, the pelvis line, the measured angles and the events, burned in.

The video is decoded and re-encoded one frame at a time (PyAV, H.264): memory does not grow with its
length. Frames are written upright, as the input displays (its rotation is applied, so a player shows
the same picture), with the input's own timestamps: the same frame count, each frame at the same time.

The landmarks come from :func:`pack_landmarks` (what an assessment stores): every landmark of every
frame, as quarter pixels in int16 and visibility in uint8, ~170 bytes a frame before compression.

Examples
--------
>>> from vision.overlay import Annotations, render_overlay, unpack_landmarks
>>> render_overlay("clip.mp4", "clip.overlay.mp4", unpack_landmarks(blob), Annotations())  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO

import av
import cv2
import numpy as np

from kinematics.errors import MotionscriptError
from kinematics.series import BLAZEPOSE33, LandmarkSeries
from vision.decode import VideoReader

__all__ = [
    "HIP_MARKER_RGB",
    "SKELETON",
    "Annotations",
    "OverlayEvent",
    "OverlayLandmarks",
    "OverlayStats",
    "h264_encoder",
    "hip_marker_radius",
    "pack_landmarks",
    "render_overlay",
    "unpack_landmarks",
]

PathLike = str | os.PathLike[str]

#: The hip joints are drawn as filled discs of this colour, used nowhere else in the picture
#: (tests find them by it).
HIP_MARKER_RGB = (255, 0, 255)
_LEFT_RGB = (255, 150, 0)  # the subject's left: orange
_RIGHT_RGB = (0, 190, 255)  # the subject's right: blue
_MID_RGB = (235, 235, 235)
_PELVIS_RGB = (255, 230, 0)
_TEXT_RGB = (255, 255, 255)
_EVENT_RGB = (120, 255, 120)

_NAMES = BLAZEPOSE33.names
_I = {n: i for i, n in enumerate(_NAMES)}

#: BlazePose's 35 connections (MediaPipe ``POSE_CONNECTIONS``), as landmark index pairs.
SKELETON: tuple[tuple[int, int], ...] = tuple(
    (_I[a], _I[b])
    for a, b in (
        ("nose", "left_eye_inner"),
        ("left_eye_inner", "left_eye"),
        ("left_eye", "left_eye_outer"),
        ("left_eye_outer", "left_ear"),
        ("nose", "right_eye_inner"),
        ("right_eye_inner", "right_eye"),
        ("right_eye", "right_eye_outer"),
        ("right_eye_outer", "right_ear"),
        ("mouth_left", "mouth_right"),
        ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("left_wrist", "left_pinky"),
        ("left_wrist", "left_index"),
        ("left_wrist", "left_thumb"),
        ("left_pinky", "left_index"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
        ("right_wrist", "right_pinky"),
        ("right_wrist", "right_index"),
        ("right_wrist", "right_thumb"),
        ("right_pinky", "right_index"),
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("left_ankle", "left_heel"),
        ("left_heel", "left_foot_index"),
        ("left_ankle", "left_foot_index"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
        ("right_ankle", "right_heel"),
        ("right_heel", "right_foot_index"),
        ("right_ankle", "right_foot_index"),
    )
)
_HIPS = (_I["left_hip"], _I["right_hip"])
#: A landmark below this visibility is not drawn.
MIN_VISIBILITY = 0.3

# -- the stored landmarks ------------------------------------------------------------------------------------------

_QUARTER = 4.0  # int16 quarter pixels: +-8191 px, 0.125 px rounding
_MISSING = np.iinfo(np.int16).min
PACK_VERSION = 1


@dataclass(frozen=True, eq=False)
class OverlayLandmarks:
    """Every landmark of every frame in pixels of the upright frame (NaN where no person was found)."""

    t_s: np.ndarray  # (n,)
    xy_px: np.ndarray  # (n, 33, 2), x right, y down
    visibility: np.ndarray  # (n, 33) in [0, 1]
    size_wh: tuple[int, int]

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


def pack_landmarks(lm: LandmarkSeries) -> bytes:
    """Image landmarks as a compressed ``.npz``: ``t_s`` float64, ``xy_q4`` int16, ``vis_u8`` uint8."""
    if lm.space != "image_norm" or lm.image_size_wh is None:
        raise MotionscriptError("only image landmarks (image_norm with a frame size) can be drawn on a video")
    w, h = lm.image_size_wh
    xy = np.asarray(lm.xyz[:, :, :2], dtype=float) * np.array([w, h], dtype=float)
    q = np.rint(np.clip(xy * _QUARTER, -32767, 32767))
    q = np.where(np.isfinite(xy), q, _MISSING).astype(np.int16)
    vis = np.rint(np.clip(np.nan_to_num(np.asarray(lm.visibility, dtype=float)), 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        version=np.array(PACK_VERSION),
        schema=np.array(lm.schema.name),
        size_wh=np.array([w, h], dtype=np.int32),
        t_s=np.asarray(lm.t_s, dtype=np.float64),
        xy_q4=q,
        vis_u8=vis,
    )
    return buf.getvalue()


def unpack_landmarks(blob: bytes) -> OverlayLandmarks:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        if int(z["version"]) != PACK_VERSION or str(z["schema"]) != BLAZEPOSE33.name:
            raise MotionscriptError(f"stored landmarks of an unknown layout ({z['version']}, {z['schema']})")
        q = z["xy_q4"]
        xy = np.where(q == _MISSING, np.nan, q.astype(np.float64) / _QUARTER)
        w, h = (int(v) for v in z["size_wh"])
        return OverlayLandmarks(z["t_s"].astype(float), xy, z["vis_u8"].astype(float) / 255.0, (w, h))


# -- what is written beside the skeleton ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OverlayEvent:
    type: str
    start_s: float
    end_s: float | None = None
    side: str | None = None
    label: str | None = None

    def text(self) -> str:
        words = [self.type.replace("_", " ")]
        if self.label and self.label != self.type:
            words.append(self.label.replace("_", " "))
        if self.side:
            words.append(f"({self.side})")
        return " ".join(words)


@dataclass(frozen=True)
class Annotations:
    """The measured angles (one value per frame, NaN where not measured) and the events."""

    angles: dict[str, np.ndarray] = field(default_factory=dict)  # label -> (n,) deg, on the landmarks' clock
    events: Sequence[OverlayEvent] = ()
    title: str | None = None
    note: str | None = None  # shown when no angle is, e.g. why none was measured


@dataclass(frozen=True)
class OverlayStats:
    frames: int
    codec: str
    size_wh: tuple[int, int]
    t_s_first: float
    t_s_last: float


def hip_marker_radius(size_wh: tuple[int, int]) -> int:
    """Radius in pixels of the hip discs on frames of this size (6 px at 540 px across the short side)."""
    return max(4, round(6 * max(min(size_wh) / 540.0, 0.6)))


def h264_encoder() -> str:
    """The H.264 encoder this PyAV build has: libx264 (PyPI wheels), else libopenh264."""
    for name in ("libx264", "libopenh264"):
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        return name
    raise MotionscriptError("this PyAV build has no H.264 encoder (libx264 or libopenh264)")


# -- drawing --------------------------------------------------------------------------------------------------------


class _Painter:
    def __init__(self, size_wh: tuple[int, int], annotations: Annotations, duration_s: float) -> None:
        w, h = size_wh
        self.w, self.h = w, h
        self.unit = max(min(w, h) / 540.0, 0.6)  # 1 at 540 px across the short side
        self.thick = max(1, round(2 * self.unit))
        self.joint_r = max(2, round(3 * self.unit))
        self.hip_r = hip_marker_radius(size_wh)
        self.font = 0.5 * self.unit
        self.line_h = round(20 * self.unit)
        self.ann = annotations
        self.duration_s = max(duration_s, 1e-6)

    def _ok(self, xy: np.ndarray, vis: np.ndarray, i: int) -> bool:
        return bool(np.all(np.isfinite(xy[i])) and vis[i] >= MIN_VISIBILITY)

    def _pt(self, p: np.ndarray) -> tuple[int, int]:
        return int(round(float(p[0]))), int(round(float(p[1])))

    def skeleton(self, img: np.ndarray, xy: np.ndarray, vis: np.ndarray) -> None:
        for a, b in SKELETON:
            if (a, b) == _HIPS or not (self._ok(xy, vis, a) and self._ok(xy, vis, b)):
                continue
            na, nb = _NAMES[a], _NAMES[b]
            color = _LEFT_RGB if na.startswith("left") and nb.startswith("left") else _MID_RGB
            if na.startswith("right") and nb.startswith("right"):
                color = _RIGHT_RGB
            cv2.line(img, self._pt(xy[a]), self._pt(xy[b]), color, self.thick, cv2.LINE_AA)
        if self._ok(xy, vis, _HIPS[0]) and self._ok(xy, vis, _HIPS[1]):
            # The pelvis line, drawn across and beyond both hips so that a tilt is easy to see.
            left, right = xy[_HIPS[0]], xy[_HIPS[1]]
            d = left - right
            cv2.line(
                img, self._pt(right - 0.35 * d), self._pt(left + 0.35 * d), _PELVIS_RGB, self.thick + 1, cv2.LINE_AA
            )
        for i in range(len(_NAMES)):
            if i in _HIPS or not self._ok(xy, vis, i):
                continue
            name = _NAMES[i]
            color = _LEFT_RGB if name.startswith("left") else _RIGHT_RGB if name.startswith("right") else _MID_RGB
            cv2.circle(img, self._pt(xy[i]), self.joint_r, color, -1, cv2.LINE_AA)
        for i in _HIPS:
            if self._ok(xy, vis, i):
                # No anti-aliasing: the disc is one colour, so its centre can be found again in the picture.
                cv2.circle(img, self._pt(xy[i]), self.hip_r, HIP_MARKER_RGB, -1, cv2.LINE_8)

    def _text(self, img: np.ndarray, text: str, org: tuple[int, int], color=_TEXT_RGB) -> None:
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, self.font, (0, 0, 0), self.thick + 2, cv2.LINE_AA)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, self.font, color, self.thick, cv2.LINE_AA)

    def panel(self, img: np.ndarray, index: int, t_s: float) -> None:
        lines: list[tuple[str, tuple[int, int, int]]] = []
        if self.ann.title:
            lines.append((self.ann.title, _TEXT_RGB))
        lines.append((f"t = {t_s:.2f} s", _TEXT_RGB))
        if not self.ann.angles and self.ann.note:
            lines.append((self.ann.note, _TEXT_RGB))
        for label, values in self.ann.angles.items():
            v = float(values[index]) if index < len(values) else float("nan")
            lines.append((f"{label}: {'--' if not np.isfinite(v) else f'{v:+.1f} deg'}", _TEXT_RGB))
        for e in self.ann.events:
            end = e.end_s if e.end_s is not None else e.start_s + 0.25
            if e.start_s <= t_s <= end:
                lines.append((e.text(), _EVENT_RGB))
        x, y = round(8 * self.unit), round(8 * self.unit)
        width = max(cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, self.font, self.thick)[0][0] for s, _ in lines)
        box = img[y : y + self.line_h * len(lines) + round(6 * self.unit), x : x + width + round(12 * self.unit)]
        box[:] = (box * 0.45).astype(np.uint8)  # a dark veil under the text
        for k, (s, color) in enumerate(lines):
            self._text(img, s, (x + round(6 * self.unit), y + self.line_h * (k + 1) - round(4 * self.unit)), color)

    def timeline(self, img: np.ndarray, t_s: float) -> None:
        """The events as spans on a bar along the bottom, with the current time."""
        if not self.ann.events:
            return
        margin, bar = round(8 * self.unit), max(4, round(8 * self.unit))
        y1 = self.h - margin
        y0 = y1 - bar
        x0, x1 = margin, self.w - margin
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * 0.35).astype(np.uint8)

        def x_at(t: float) -> int:
            return x0 + round((x1 - x0) * min(max(t / self.duration_s, 0.0), 1.0))

        for e in self.ann.events:
            end = e.end_s if e.end_s is not None else e.start_s
            a, b = x_at(e.start_s), max(x_at(end), x_at(e.start_s) + 2)
            color = _LEFT_RGB if e.side == "left" else _RIGHT_RGB if e.side == "right" else _EVENT_RGB
            img[y0:y1, a:b] = color
        cx = x_at(t_s)
        cv2.line(img, (cx, y0 - bar // 2), (cx, y1 + bar // 2), _TEXT_RGB, max(1, self.thick // 2 + 1))


def _nearest(t_s: np.ndarray, t: float) -> int:
    i = int(np.searchsorted(t_s, t))
    if i <= 0:
        return 0
    if i >= len(t_s):
        return len(t_s) - 1
    return i if abs(t_s[i] - t) < abs(t_s[i - 1] - t) else i - 1


def render_overlay(
    video: PathLike,
    out: PathLike | IO[bytes],
    landmarks: OverlayLandmarks,
    annotations: Annotations | None = None,
    *,
    crf: int = 20,
    progress: Callable[[int, int | None], None] | None = None,
) -> OverlayStats:
    """Write ``video`` with the skeleton and ``annotations`` drawn on it to ``out`` (MP4, H.264).

    Each decoded frame is matched to the landmarks of the same time (the nearest sample; the
    assessment's landmarks were taken from the same frames). The output keeps the input's time base
    and each frame's timestamp; it has no audio.
    """
    annotations = annotations or Annotations()
    codec = h264_encoder()
    with VideoReader(video) as reader:
        info = reader.info
        if (info.width, info.height) != tuple(landmarks.size_wh):
            raise MotionscriptError(
                f"the landmarks were measured on {landmarks.size_wh[0]}x{landmarks.size_wh[1]} frames, "
                f"the video has {info.width}x{info.height}"
            )
        tb = reader.time_base
        # yuv420p needs even sizes: one black row/column is added when a side is odd (coordinates are unchanged).
        ew, eh = info.width + info.width % 2, info.height + info.height % 2
        rate = Fraction(info.nominal_fps).limit_denominator(1001) if info.nominal_fps else None
        container = av.open(out, "w", format="mp4", options={"movflags": "+faststart"})
        try:
            stream = container.add_stream(codec, rate=rate, options={"crf": str(crf), "preset": "veryfast"})
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
            stream.time_base = tb
            stream.codec_context.time_base = tb
            painter = _Painter(
                (info.width, info.height), annotations, float(landmarks.t_s[-1]) if len(landmarks) else 0
            )
            canvas = np.zeros((eh, ew, 3), dtype=np.uint8)
            last_pts, n, first_t, last_t = -1, 0, 0.0, 0.0
            for frame in reader:
                canvas[: info.height, : info.width] = frame.rgb
                if len(landmarks):
                    k = _nearest(landmarks.t_s, frame.t_s)
                    painter.skeleton(canvas, landmarks.xy_px[k], landmarks.visibility[k])
                    painter.panel(canvas, k, frame.t_s)
                painter.timeline(canvas, frame.t_s)
                av_frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                pts = max(round(frame.t_s / tb), last_pts + 1)  # never two frames on one tick
                av_frame.pts, av_frame.time_base, last_pts = pts, tb, pts
                for packet in stream.encode(av_frame):
                    container.mux(packet)
                first_t = frame.t_s if n == 0 else first_t
                last_t, n = frame.t_s, n + 1
                if progress is not None:
                    progress(n, info.frame_count_reported)
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    return OverlayStats(n, codec, (ew, eh), first_t, last_t)
