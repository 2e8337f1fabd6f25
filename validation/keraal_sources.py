"""KERAAL through every skeleton source: BlazePose, AlphaPose (COCO-17), OpenPose (BODY_18), Kinect v2.

The KERAAL sample holds the same trial as four skeletons besides the optical
reference (tests/fixtures/landmarks/keraal/README.md). Each source is written
out as the landmark document an app or a clinic would send
(``docs/landmarks.md``), read back through :func:`vision.landmark_json.parse_landmarks`
(so the registry in :mod:`kinematics.schemas` lays it onto the core's names),
aligned to the optical recording on its own (:func:`keraal.align`: the sources
start at different frames) and compared with the optical pelvis and trunk as
:mod:`validation.keraal` does for BlazePose. ``docs/validation.md``'s
"sources" block is generated from here (``bench/validate_keraal.py --write``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinematics.pipeline import KinematicsPipeline
from kinematics.schemas import SCHEMAS
from kinematics.series import LandmarkSeries
from vision.landmark_json import parse_landmarks

from . import keraal as K

__all__ = ["SOURCES", "SourceReport", "analyse_sources", "document", "render_sources", "source_path"]

# file prefix -> (schema the source is read as, what produced it)
SOURCES: dict[str, tuple[str, str]] = {
    "BP": ("blazepose33", "BlazePose (MediaPipe)"),
    "AP": ("coco17", "AlphaPose, COCO-17"),
    "OP": ("openpose18", "OpenPose, BODY_18"),
    "Kinect": ("kinect_v2_25", "Kinect v2, 3D"),
}
QUANTITIES = (
    ("obliquity", "Pelvic obliquity", "pelvic_obliquity_deg", "pelvis_obliquity"),
    ("lean", "Trunk lateral lean", "trunk_lean_lateral_deg", "trunk_lean"),
)


def source_path(source: str, exercise: str) -> Path:
    ext = "txt" if source == "Kinect" else "json"
    return K.DATA_DIR / f"G3-{source}-{exercise}-P1T1-Unknown-C-0.{ext}"


def _rows(values: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in values]


def document(source: str, exercise: str) -> dict[str, Any]:
    """The trial in ``source`` as a landmark document (docs/landmarks.md), timestamps at 30 fps."""
    path = source_path(source, exercise)
    schema_name = SOURCES[source][0]
    schema = SCHEMAS[schema_name]
    frames: list[dict[str, Any]] = []
    if source == "BP":  # the dataset ran BlazePose on mirrored frames: K.load_blazepose undoes it
        lm = K.load_blazepose(path)
        for t, xyz in zip(lm.t_s, lm.xyz, strict=True):
            frames.append({"t_s": float(t), "landmarks": _rows(xyz)})
        return {"schema": schema_name, "space": "image", "image_size": list(K.IMAGE_SIZE_WH), "frames": frames}
    if source == "Kinect":  # 25 joints x (x y z in metres, quaternion), CameraSpacePoint axes
        data = np.loadtxt(path).reshape(-1, len(schema), 7)
        for i, joints in enumerate(data):
            frames.append({"t_s": i / K.VIDEO_FPS, "landmarks": _rows(joints[:, :3])})
        return {"schema": schema_name, "space": "camera", "frames": frames}
    positions = json.loads(path.read_text(encoding="utf-8"))["positions"]
    keys = sorted(positions, key=float)
    first = float(keys[0])
    for key in keys:
        joints = positions[key]
        if source == "AP":  # keys "0".."16" in COCO order, x and y normalised
            rows: list[list[float] | None] = [joints[str(j)] for j in range(len(schema))]
        else:  # OpenPose names ("rShoulder"); a joint it did not find is absent
            by_name = {k.lower(): v for k, v in joints.items()}
            rows = [by_name.get(v.lower()) for v in schema.vendor_names]
        frames.append({"t_s": (float(key) - first) / K.VIDEO_FPS, "landmarks": rows if any(rows) else None})
    return {"schema": schema_name, "space": "image", "image_size": list(K.IMAGE_SIZE_WH), "frames": frames}


def load(source: str, exercise: str) -> LandmarkSeries:
    return parse_landmarks(document(source, exercise)).landmarks


@dataclass(frozen=True, eq=False)
class SourceReport:
    source: str
    exercise: str
    frames: int
    alignment: K.Alignment
    view: str
    agreement: dict[str, K.Agreement]  # "obliquity" / "lean" -> gate-off agreement with the optical reference
    shipped: dict[str, K.Agreement | None]  # the same, pipeline as shipped (None: nothing measured)


def analyse_source(source: str, exercise: str) -> SourceReport:
    lm = load(source, exercise)
    trial = K.load_vicon(K.vicon_path(exercise))
    axes = K.infer_global_axes(trial)
    pelvis = K.infer_target_axes(trial, "pelvis", axes)
    al = K.align(lm, trial, axes)
    optical = {"pelvis_obliquity": K.segment_angles(trial, pelvis, axes)["obliquity"]}
    optical["trunk_lean"] = K.trunk_lateral_lean(trial, axes)
    gate_off = KinematicsPipeline(**K.GATE_OFF).run(lm)
    shipped = KinematicsPipeline().run(lm)
    agree: dict[str, K.Agreement] = {}
    as_shipped: dict[str, K.Agreement | None] = {}
    for key, _, series, ref in QUANTITIES:
        reference = al.optical_at(lm.t_s, optical[ref])
        agree[key] = K.agreement(np.array(gate_off.series[series].values), reference)
        values = np.array(shipped.series[series].values)
        both = np.isfinite(values) & np.isfinite(reference)
        as_shipped[key] = K.agreement(values, reference) if both.sum() >= 3 else None
    return SourceReport(source, exercise, len(lm), al, shipped.view.view, agree, as_shipped)


def analyse_sources() -> dict[tuple[str, str], SourceReport]:
    return {(src, ex): analyse_source(src, ex) for ex in K.EXERCISES for src in SOURCES}


def render_sources(reports: dict[tuple[str, str], SourceReport]) -> str:
    """The "sources" block of docs/validation.md."""
    f = K._f
    lines = [
        "| Exercise | source (schema) | frames | alignment r | pipeline view | frames kept as shipped |",
        "|---|---|---|---|---|---|",
    ]
    for (src, ex), r in reports.items():
        kept = r.shipped["obliquity"]
        lines.append(
            f"| {ex} | {SOURCES[src][1]} (`{SOURCES[src][0]}`) | {r.frames} | {f(r.alignment.r, 3)} | {r.view} "
            f"| {0 if kept is None else kept.n} / {r.agreement['obliquity'].available} |"
        )
    lines.append("")
    for key, quantity, _, _ in QUANTITIES:
        lines += [
            f"**{quantity}**, view gate off (all frames), against the optical reference (deg)",
            "",
            (
                "| Exercise | source (schema) | frames compared | bias | 95 % limits of agreement | RMSE "
                "| RMSE, offset removed | r | slope |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for (src, ex), r in reports.items():
            a = r.agreement[key]
            lo, hi = a.loa
            lines.append(
                f"| {ex} | {SOURCES[src][1]} (`{SOURCES[src][0]}`) | {a.n} / {a.available} | {f(a.bias)} "
                f"| {f(lo)} to {f(hi)} | {f(a.rmse)} | {f(a.sd_diff)} | {f(a.r)} | {f(a.slope)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n")
