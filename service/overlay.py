"""The annotated video of an assessment: its stored landmarks and its document, drawn by :mod:`vision.overlay`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from vision.overlay import Annotations, OverlayEvent, OverlayLandmarks, OverlayStats, render_overlay, unpack_landmarks

__all__ = ["ANGLE_LABELS", "annotations_from_document", "render_assessment_overlay"]

#: The angle series written on the video, with their short labels.
ANGLE_LABELS = {
    "pelvic_obliquity_deg": "pelvic obliquity",
    "hip_abduction_left_deg": "hip abduction L",
    "hip_abduction_right_deg": "hip abduction R",
    "trunk_lean_lateral_deg": "trunk lean lateral",
    "hip_flexion_left_deg": "hip flexion L",
    "hip_flexion_right_deg": "hip flexion R",
    "trunk_lean_forward_deg": "trunk lean forward",
}


def annotations_from_document(doc: dict[str, Any], landmarks: OverlayLandmarks) -> Annotations:
    """The measured angles (on the landmarks' clock) and the events of an assessment document."""
    series = doc.get("series") or {}
    t = np.asarray(series.get("t_s") or [], dtype=float)
    angles: dict[str, np.ndarray] = {}
    if t.size:
        idx = np.clip(np.searchsorted(t, landmarks.t_s), 1, t.size - 1) if t.size > 1 else np.zeros(len(landmarks), int)
        if t.size > 1:
            idx = np.where(np.abs(t[idx - 1] - landmarks.t_s) <= np.abs(t[idx] - landmarks.t_s), idx - 1, idx)
        for name, label in ANGLE_LABELS.items():
            values = series.get(name)
            if values is None:
                continue
            v = np.array([np.nan if x is None else float(x) for x in values], dtype=float)
            angles[label] = v[idx]
    events = [
        OverlayEvent(
            type=str(e.get("type")),
            start_s=float(e["start_s"]),
            end_s=None if e.get("end_s") is None else float(e["end_s"]),
            side=e.get("side"),
            label=e.get("label"),
        )
        for e in doc.get("events") or []
        if e.get("start_s") is not None
    ]
    title = f"{doc.get('exercise') or 'movement'} - {(doc.get('view') or {}).get('view', '?')} view"
    note = None
    if not angles:
        view = (doc.get("view") or {}).get("view")
        note = f"no angle measurable in this view ({view})" if view else "no angle measured"
    return Annotations(angles=angles, events=events, title=title, note=note)


def render_assessment_overlay(
    video: str | os.PathLike[str],
    landmarks_blob: bytes,
    doc: dict[str, Any],
    out: str | os.PathLike[str] | IO[bytes],
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> OverlayStats:
    landmarks = unpack_landmarks(landmarks_blob)
    return render_overlay(video, out, landmarks, annotations_from_document(doc, landmarks), progress=progress)
