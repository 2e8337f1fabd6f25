"""MediaPipe BlazePose's pre- and post-processing in numpy and OpenCV.

Everything around the two networks that MediaPipe's ``PoseLandmarker`` graph
does, so that :mod:`vision.backends.onnx` can run the converted models and get
MediaPipe's landmarks. No runtime is imported here: functions take and return
plain arrays. The constants and the order of operations follow MediaPipe's
Tasks graphs (``mediapipe/tasks/cc/vision/pose_detector/pose_detector_graph.cc``,
``pose_landmarker/pose_landmarks_detector_graph.cc``, ``pose_landmarker_graph.cc``)
and the calculators they configure; each function names its calculator.

Coordinates: a :class:`Rect` is MediaPipe's ``NormalizedRect``: centre and size
normalised to the image width and height, ``rotation`` in radians, positive
clockwise on screen (y points down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

__all__ = [
    "DETECTOR_INPUT",
    "LANDMARK_INPUT",
    "Detections",
    "Landmarks",
    "Picture",
    "Rect",
    "associate",
    "crop",
    "decode_detections",
    "decode_landmarks",
    "detection_rects",
    "letterbox",
    "rect_from_points",
    "remove_letterbox",
    "ssd_anchors",
    "weighted_nms",
]

DETECTOR_INPUT = 224  # pose_detection.tflite: 224x224 RGB in [-1, 1]
LANDMARK_INPUT = 256  # pose_landmark_full.tflite: 256x256 RGB in [0, 1]
NUM_LANDMARKS = 39  # 33 body + 2 ROI (hip centre, scale point) + 4 unused auxiliary
NUM_BODY = 33
HEATMAP_KERNEL = 7  # RefineLandmarksFromHeatmapCalculator kernel_size in the pose graph
HEATMAP_MIN_CONFIDENCE = 0.5  # its min_confidence_to_refine (proto default)
ROI_SCALE = 1.25  # RectTransformationCalculator scale_x/scale_y, detection and tracking alike
ROI_TARGET_ANGLE = math.pi / 2  # rotation_vector_target_angle_degrees: 90, hip centre -> scale point points up


@dataclass(frozen=True)
class Rect:
    """MediaPipe ``NormalizedRect``: centre, size (normalised), rotation (rad)."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0

    def scaled(self, factor: float) -> Rect:
        """``RectTransformationCalculator`` with ``scale_x = scale_y = factor``, ``square_long``.

        The rects made here are already square in pixels, so ``square_long``
        changes nothing and is not applied.
        """
        return Rect(self.x_center, self.y_center, self.width * factor, self.height * factor, self.rotation)


@dataclass(frozen=True, eq=False)
class Detections:
    """Person detections, normalised to the image.

    ``boxes`` ``(m, 4)`` xmin, ymin, xmax, ymax; ``keypoints`` ``(m, 4, 2)`` x, y
    of hip centre, full-body scale point, shoulder centre, upper-body scale
    point; ``scores`` ``(m,)`` in [0, 1].
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True, eq=False)
class Landmarks:
    """One pose from the landmark model, projected back to the image.

    ``image_xyz`` ``(33, 3)`` normalised x, y (z on the scale of x);
    ``world_xyz`` ``(33, 3)`` metres; ``visibility``/``presence`` ``(33,)``;
    ``score`` the pose-presence probability; ``next_rect`` the ROI for the next
    frame, from the two auxiliary landmarks.
    """

    image_xyz: np.ndarray
    world_xyz: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float
    next_rect: Rect


def _normalize_radians(angle: float) -> float:
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def ssd_anchors(
    input_size: int = DETECTOR_INPUT,
    strides: tuple[int, ...] = (8, 16, 32, 32, 32),
    offset: float = 0.5,
    interpolated_scale_aspect_ratio: float = 1.0,
) -> np.ndarray:
    """Anchor centres ``(n, 2)`` x, y in [0, 1] (``SsdAnchorsCalculator``).

    With the pose detector's options (5 layers, one aspect ratio 1.0,
    ``fixed_anchor_size``): 2 anchors per cell at strides 8 and 16 and 6 per
    cell for the three stride-32 layers, 28²·2 + 14²·2 + 7²·6 = 2254. With
    ``fixed_anchor_size`` every anchor is 1 x 1, so the calculator's
    ``min_scale``/``max_scale`` do not matter and only centres are returned.
    """
    centres = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (interpolated_scale_aspect_ratio > 0)  # aspect ratio 1.0 + interpolated scale
            last += 1
        size = math.ceil(input_size / strides[layer])
        yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        cells = np.stack([(xx + offset) / size, (yy + offset) / size], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(centres)


def decode_detections(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    anchors: np.ndarray,
    *,
    min_score: float,
    input_size: int = DETECTOR_INPUT,
    score_clip: float = 100.0,
) -> Detections:
    """``TensorsToDetectionsCalculator`` for the pose detector.

    Parameters
    ----------
    raw_boxes
        ``(n, 12)``: box centre x, y, width, height, then 4 keypoints x, y, in
        input pixels relative to the anchor centre (``reverse_output_order``).
    raw_scores
        ``(n,)`` logits; sigmoid after clipping to ±``score_clip``.
    anchors
        ``(n, 2)`` from :func:`ssd_anchors`.

    Returns
    -------
    Detections
        Normalised to the letterboxed detector input; boxes with a negative
        width or height are dropped, as MediaPipe does.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.astype(np.float64), -score_clip, score_clip)))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes[keep].astype(np.float64) / input_size
    centre = raw[:, :2] + anchors[keep]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anchors[keep][:, None, :]
    ok = (raw[:, 2] >= 0) & (raw[:, 3] >= 0)
    return Detections(boxes[ok], keypoints[ok], scores[keep][ok])


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` xmin, ymin, xmax, ymax box with ``(m, 4)`` boxes."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    union = np.prod(box[2:] - box[:2]) + np.prod(boxes[:, 2:] - boxes[:, :2], axis=1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(det: Detections, *, iou_threshold: float) -> Detections:
    """``NonMaxSuppressionCalculator`` with ``WEIGHTED`` and ``INTERSECTION_OVER_UNION``.

    The best-scored detection absorbs every detection that overlaps it by
    more than ``iou_threshold`` (itself included); its box and keypoints
    become their score-weighted mean, its score stays its own.
    """
    order = np.argsort(-det.scores, kind="stable")
    boxes, kps, scores = [], [], []
    while order.size:
        top = order[0]
        sim = _iou(det.boxes[top], det.boxes[order])
        group = order[sim > iou_threshold]
        if group.size == 0:  # a degenerate box does not overlap itself
            group = order[:1]
        w = det.scores[group]
        boxes.append((det.boxes[group] * w[:, None]).sum(axis=0) / w.sum())
        kps.append((det.keypoints[group] * w[:, None, None]).sum(axis=0) / w.sum())
        scores.append(det.scores[top])
        rest = order[sim <= iou_threshold]
        if rest.size == order.size:
            break
        order = rest
    if not scores:
        return det
    return Detections(np.array(boxes), np.array(kps), np.array(scores))


def letterbox(image_wh: tuple[int, int]) -> tuple[Rect, tuple[float, float]]:
    """The detector's crop of the whole image, padded to a square (``keep_aspect_ratio``).

    Returns the crop ``Rect`` (normalised to the image, may exceed [0, 1])
    and the padding ``(x, y)`` on each side as a fraction of the crop. The
    detector input is square, so only the image's aspect ratio matters.
    """
    w, h = image_wh
    if h / w < 1.0:  # landscape: pad top and bottom
        return Rect(0.5, 0.5, 1.0, w / h), (0.0, (1.0 - h / w) / 2)
    return Rect(0.5, 0.5, h / w, 1.0), ((1.0 - w / h) / 2, 0.0)


def remove_letterbox(det: Detections, pad_xy: tuple[float, float]) -> Detections:
    """``DetectionLetterboxRemovalCalculator``."""
    pad = np.asarray(pad_xy)
    scale = 1.0 - 2 * pad
    boxes = (det.boxes - np.tile(pad, 2)) / np.tile(scale, 2)
    return Detections(boxes, (det.keypoints - pad) / scale, det.scores)


def rect_from_points(centre: np.ndarray, scale_point: np.ndarray, image_wh: tuple[int, int]) -> Rect:
    """``AlignmentPointsRectsCalculator`` (+ ``DetectionsToRects`` rotation).

    A square (in pixels) centred on ``centre`` whose side is twice the
    distance to ``scale_point``, rotated so that ``scale_point`` is straight
    above the centre. Points are normalised ``(2,)`` x, y.
    """
    w, h = image_wh
    x0, y0 = centre[0] * w, centre[1] * h
    x1, y1 = scale_point[0] * w, scale_point[1] * h
    size = 2.0 * math.hypot(x1 - x0, y1 - y0)
    rotation = _normalize_radians(ROI_TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    return Rect(x0 / w, y0 / h, size / w, size / h, rotation)


def detection_rects(det: Detections, image_wh: tuple[int, int]) -> list[Rect]:
    """Landmark-model ROIs from detections: hip centre, full-body scale point, x1.25."""
    return [rect_from_points(k[0], k[1], image_wh).scaled(ROI_SCALE) for k in det.keypoints]


class Picture(Protocol):
    """A picture that resamples its own crops (``vision.yuv.YuvPicture``: no whole-frame RGB)."""

    shape: tuple[int, ...]  # (height, width, 3), as the RGB array it stands for

    def warp(self, matrix: np.ndarray, size: int, *, border_zero: bool) -> np.ndarray: ...


def crop(image: np.ndarray | Picture, rect: Rect, size: int, *, border_zero: bool) -> np.ndarray:
    """``ImageToTensorCalculator`` (OpenCV path): the rotated ROI as ``(size, size, 3)`` uint8 RGB.

    The ROI's corners go to the corners of the output (not pixel centres),
    bilinear, ``BORDER_CONSTANT`` 0 for the detector, ``BORDER_REPLICATE``
    for the landmark model. Value scaling is left to the caller. ``image``:
    an RGB array, or a :class:`Picture` that resamples the same crop from its
    YUV planes (the map from a rotated rectangle to a square is affine; its
    exact affine form is passed).
    """
    h, w = image.shape[:2]
    box = ((rect.x_center * w, rect.y_center * h), (rect.width * w, rect.height * h), math.degrees(rect.rotation))
    src = cv2.boxPoints(box).astype(np.float32)  # bottom-left, top-left, top-right, bottom-right
    dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], dtype=np.float32)
    if not isinstance(image, np.ndarray):
        affine = cv2.getAffineTransform(src[:3], dst[:3])
        return image.warp(np.vstack([affine, [0.0, 0.0, 1.0]]), size, border_zero=border_zero)
    matrix = cv2.getPerspectiveTransform(src, dst)
    border = cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE
    return cv2.warpPerspective(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def _refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """``RefineLandmarksFromHeatmapCalculator``: kernel-weighted mean of sigmoid(heatmap).

    ``xy`` ``(k, 2)`` normalised to the crop; ``heatmap`` ``(hh, hw, k)``
    logits. A landmark moves to the confidence-weighted mean cell of the
    7x7 cells around it when the most confident of them reaches 0.5.
    MediaPipe's quirks are kept: the cell index truncates toward zero, the
    result is ``index / size`` (cell corners, not centres), and the range
    check tests the column against the height, so a landmark up to 3 rows
    below the map is still refined from the map's last rows.
    """
    hh, hw, k = heatmap.shape
    off = (HEATMAP_KERNEL - 1) // 2
    col = np.trunc(xy[:, 0] * hw).astype(int)  # C++ float -> int truncates toward zero
    row = np.trunc(xy[:, 1] * hh).astype(int)
    ok = (col >= 0) & (col < min(hw, hh)) & (row >= 0) & (row < hh + off)  # sic: no row < hh check
    col, row = np.clip(col, 0, hw - 1), np.clip(row, 0, hh + off - 1)
    steps = np.arange(HEATMAP_KERNEL) - off
    rows, cols = row[:, None] + steps, col[:, None] + steps  # (k, 7) map indices, some outside the map
    # Cells outside the map weigh nothing (sigmoid 0): gather the in-map cells, zero the others
    # (no padded copy of the whole map: this runs for every pose in every frame).
    inside = ((rows >= 0) & (rows < hh))[:, :, None] & ((cols >= 0) & (cols < hw))[:, None, :]
    logits = heatmap[
        np.clip(rows, 0, hh - 1)[:, :, None], np.clip(cols, 0, hw - 1)[:, None, :], np.arange(k)[:, None, None]
    ]
    conf = np.where(inside, 1.0 / (1.0 + np.exp(-logits.astype(np.float64))), 0.0)  # (k, 7, 7)
    total = conf.sum(axis=(1, 2))
    refine = ok & (conf.max(axis=(1, 2)) >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    out = xy.copy()
    out[refine, 0] = ((conf * cols[:, None, :]).sum(axis=(1, 2)) / hw / safe)[refine]
    out[refine, 1] = ((conf * rows[:, :, None]).sum(axis=(1, 2)) / hh / safe)[refine]
    return out


def decode_landmarks(
    raw: np.ndarray,
    pose_flag: float,
    heatmap: np.ndarray,
    world: np.ndarray,
    rect: Rect,
    image_wh: tuple[int, int],
    *,
    size: int = LANDMARK_INPUT,
) -> Landmarks:
    """Landmark-model outputs to image and world landmarks.

    Parameters
    ----------
    raw
        ``(195,)`` = 39 x (x, y, z, visibility logit, presence logit), x/y/z
        in crop pixels.
    pose_flag
        Pose-presence probability (the model applies the sigmoid).
    heatmap
        ``(64, 64, 39)`` logits.
    world
        ``(117,)`` = 39 x (x, y, z) metres, in the crop's rotated frame.
    rect
        The ROI the crop was taken from.

    Notes
    -----
    ``TensorsToLandmarks`` (divide by the crop size, sigmoid on
    visibility/presence), heatmap refinement, ``LandmarkProjection`` (rotate
    about the crop centre, scale by the ROI, z scaled by its width),
    ``WorldLandmarkProjection`` (rotate x, y by the ROI rotation), and the
    next frame's ROI from auxiliary landmarks 33 (hip centre) and 34 (scale
    point) as in ``pose_landmarks_to_roi``.
    """
    lm = raw.reshape(NUM_LANDMARKS, 5).astype(np.float64)
    xy = _refine_from_heatmap(lm[:, :2] / size, heatmap)
    z = lm[:, 2] / size
    vis = 1.0 / (1.0 + np.exp(-lm[:, 3]))
    pres = 1.0 / (1.0 + np.exp(-lm[:, 4]))

    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    dx, dy = xy[:, 0] - 0.5, xy[:, 1] - 0.5
    px = (c * dx - s * dy) * rect.width + rect.x_center
    py = (s * dx + c * dy) * rect.height + rect.y_center
    image_xyz = np.stack([px, py, z * rect.width], axis=1)

    w = world.reshape(NUM_LANDMARKS, 3)[:NUM_BODY].astype(np.float64)
    world_xyz = np.stack([c * w[:, 0] - s * w[:, 1], s * w[:, 0] + c * w[:, 1], w[:, 2]], axis=1)

    next_rect = rect_from_points(image_xyz[33, :2], image_xyz[34, :2], image_wh).scaled(ROI_SCALE)
    return Landmarks(image_xyz[:NUM_BODY], world_xyz, vis[:NUM_BODY], pres[:NUM_BODY], float(pose_flag), next_rect)


def _rect_iou(a: Rect, b: Rect) -> float:
    """IoU of the axis-aligned boxes of two rects, rotation ignored (``NormRectToRectangle``)."""
    ax0, ay0, bx0, by0 = (
        a.x_center - a.width / 2,
        a.y_center - a.height / 2,
        b.x_center - b.width / 2,
        b.y_center - b.height / 2,
    )
    iw = min(ax0 + a.width, bx0 + b.width) - max(ax0, bx0)
    ih = min(ay0 + a.height, by0 + b.height) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def associate(*groups: list[Rect], min_similarity: float) -> list[Rect]:
    """``AssociationNormRectCalculator``: merge ROI lists, later ones win.

    Each rect, in order, removes every rect already kept whose IoU with it
    exceeds ``min_similarity`` and is then appended. With the tracked ROIs
    first and fresh detections second, a person who is both tracked and
    detected gets the detection's ROI.
    """
    kept: list[Rect] = []
    for group in groups:
        for rect in group:
            kept = [k for k in kept if _rect_iou(rect, k) <= min_similarity]
            kept.append(rect)
    return kept
