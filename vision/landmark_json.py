"""Landmark sequences computed on a phone or a depth camera, sent as JSON instead of video.

Format (documented in ``docs/landmarks.md``; the skeletons in :mod:`kinematics.schemas`)::

    {"schema": "blazepose33",     # or coco17, openpose18, apple_vision19, kinect_v2_25, azure_kinect_32
     "space": "image",            # "image" or "world" (BlazePose), "camera" (depth cameras)
     "image_size": [1080, 1920],  # [w, h]; required for image space
     "fps": 30,                   # optional; only used when frames carry no t_s
     "frames": [{"t_s": 0.0, "landmarks": [[x, y, z, visibility], ...one row per joint]}]}

A row holds the schema's coordinates (x, y for the 2D skeletons; x, y, z for
BlazePose and the depth cameras), optionally followed by the joint's
confidence in [0, 1] (taken as 1 when absent). A row may be ``null`` (that
joint was not found); a frame whose ``landmarks`` is ``null`` or ``[]`` had no
pose. The schema turns the rows into the core's names and axes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinematics.errors import LandmarkFormatError
from kinematics.schemas import SCHEMAS
from kinematics.series import LandmarkSeries

__all__ = ["MAX_FRAMES", "LandmarkDocument", "load_landmark_file", "parse_landmarks"]

MAX_FRAMES = 216_000  # two hours at 30 fps
SPACES = ("image", "world", "camera")
# Plausibility of the units: normalised image coordinates of a person in view lie near [0, 1]
# (MediaPipe extrapolates a little beyond the frame); a depth camera sees a person 0.3-10 m away.
MAX_IMAGE_COORD = 4.0
MAX_CAMERA_M = 20.0
MAX_IMAGE_SIDE = 100_000  # pixels; 10**400 used to pass and overflow later (OverflowError)


@dataclass(frozen=True, eq=False)
class LandmarkDocument:
    landmarks: LandmarkSeries  # on the core's names and axes (kinematics.schemas)
    fps: float | None
    timestamps_from_fps: bool
    visibility_given: bool
    schema: str = "blazepose33"
    space: str = "image"  # as the document declared it: image, world or camera


def _fail(where: str, message: str) -> LandmarkFormatError:
    return LandmarkFormatError(f"landmark JSON: {where}: {message}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, f"expected a finite number, got {json.dumps(value)[:40]}")
    return float(value)


def load_landmark_file(path: str | Path) -> LandmarkDocument:
    """Read and validate a landmark JSON file."""
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise LandmarkFormatError(
            f"landmark JSON: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except UnicodeDecodeError:
        raise LandmarkFormatError("landmark JSON: not UTF-8 text") from None
    return parse_landmarks(doc)


def parse_landmarks(doc: Any) -> LandmarkDocument:
    """Validate a decoded landmark document and turn it into a :class:`LandmarkSeries`."""
    if not isinstance(doc, dict):
        raise _fail("top level", f"expected an object, got {type(doc).__name__}")
    schema_name = doc.get("schema")
    if not isinstance(schema_name, str) or schema_name not in SCHEMAS:
        raise _fail("schema", f"expected one of {list(SCHEMAS)}, got {json.dumps(schema_name)[:60]}")
    schema = SCHEMAS[schema_name]
    space = doc.get("space")
    if not isinstance(space, str) or space not in schema.spaces:
        allowed = " or ".join(repr(s) for s in schema.spaces)
        raise _fail("space", f"expected {allowed} for {schema.name}, got {json.dumps(space)[:60]}")
    size = None
    if space == "image":
        raw = doc.get("image_size")
        if not (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_IMAGE_SIDE for v in raw)
        ):
            raise _fail(
                "image_size",
                f"expected [width, height] in pixels (two integers from 1 to {MAX_IMAGE_SIDE}), "
                f"got {json.dumps(raw)[:60]}",
            )
        size = (raw[0], raw[1])
    fps = doc.get("fps")
    if fps is not None:
        fps = _number(fps, "fps")
        if fps <= 0:
            raise _fail("fps", f"must be > 0, got {fps}")
    frames = doc.get("frames")
    if not isinstance(frames, list) or not frames:
        raise _fail("frames", 'expected a non-empty list of {"t_s": ..., "landmarks": [...]}')
    if len(frames) > MAX_FRAMES:
        raise _fail("frames", f"{len(frames)} frames; at most {MAX_FRAMES} are accepted per document")

    n, k, dims = len(frames), len(schema), schema.dims
    t_s = np.empty(n)
    xyz = np.full((n, k, 3), np.nan)
    vis = np.zeros((n, k))
    has_t = [isinstance(fr, dict) and "t_s" in fr for fr in frames]
    if any(has_t) and not all(has_t):
        missing = has_t.index(False)
        raise _fail(f"frames[{missing}].t_s", "missing; give t_s in every frame or in none (then fps is required)")
    if not any(has_t) and fps is None:
        raise _fail("frames[0].t_s", "missing, and no fps to derive timestamps from")
    coords = "[x, y, z, visibility]" if dims == 3 else "[x, y, visibility]"
    visibility_given = True
    for i, fr in enumerate(frames):
        where = f"frames[{i}]"
        if not isinstance(fr, dict):
            raise _fail(where, f"expected an object, got {type(fr).__name__}")
        t_s[i] = _number(fr["t_s"], f"{where}.t_s") if has_t[i] else i / fps  # type: ignore[operator]
        rows = fr.get("landmarks")
        if rows is None or rows == []:
            continue  # no pose in this frame
        if not isinstance(rows, list) or len(rows) != k:
            got = len(rows) if isinstance(rows, list) else type(rows).__name__
            raise _fail(f"{where}.landmarks", f"expected {k} rows in {schema.name} order, got {got}")
        for j, row in enumerate(rows):
            if row is None:
                continue  # this joint was not found
            if not isinstance(row, list) or len(row) not in (dims, dims + 1):
                raise _fail(f"{where}.landmarks[{j}]", f"expected {coords}, got {json.dumps(row)[:60]}")
            xyz[i, j, :dims] = [_number(v, f"{where}.landmarks[{j}]") for v in row[:dims]]
            if dims == 2:
                xyz[i, j, 2] = 0.0  # no depth
            if len(row) == dims + 1:
                v = _number(row[dims], f"{where}.landmarks[{j}][{dims}]")
                if not 0 <= v <= 1:
                    raise _fail(f"{where}.landmarks[{j}][{dims}]", f"visibility must be in [0, 1], got {v}")
                vis[i, j] = v
            else:
                vis[i, j] = 1.0
                visibility_given = False
    bad = np.flatnonzero(np.diff(t_s) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise _fail(f"frames[{i}].t_s", f"timestamps must increase strictly; {t_s[i]} follows {t_s[i - 1]}")
    _check_units(xyz, space, schema.name)
    series = schema.to_core(t_s, xyz, vis, space, size)
    return LandmarkDocument(series, fps, not any(has_t), visibility_given, schema.name, space)


def _check_units(xyz: np.ndarray, space: str, schema: str) -> None:
    """Refuse coordinates whose size shows they are in other units than the schema's (first such frame named)."""
    with np.errstate(invalid="ignore"):
        size = np.nanmax(np.abs(xyz[..., :2] if space == "image" else xyz), axis=(1, 2), initial=0.0)
        limit = MAX_IMAGE_COORD if space == "image" else MAX_CAMERA_M
        over = np.flatnonzero(size > limit)
        if over.size:
            i = int(over[0])
            if space == "image":
                hint = "x, y must be normalised to the image width and height (0 to 1); pixels? divide x by the width and y by the height"
            elif space == "world":
                hint = "world landmarks are in metres"
            else:
                hint = f"{schema} camera coordinates must be in metres; millimetres? divide by 1000"
            raise _fail(f"frames[{i}].landmarks", f"{hint} (got values up to {size[i]:g})")
        if space == "camera":
            behind = np.flatnonzero(np.nanmin(xyz[..., 2], axis=1, initial=np.inf) <= 0)
            if behind.size:
                i = int(behind[0])
                raise _fail(
                    f"frames[{i}].landmarks",
                    f"{schema} camera coordinates: z is the distance in front of the camera and must be > 0 m, "
                    f"got {np.nanmin(xyz[i, :, 2]):g}",
                )


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a landmark document in skeleton ``name``.

    Published in ``service/schema/landmarks/`` by ``make schema``. It states
    the shape; the parser also checks what a JSON Schema cannot (strictly
    increasing ``t_s``, plausible units), with the place named.
    """
    schema = SCHEMAS[name]
    dims = schema.dims
    coords = ["x", "y", "z"][:dims]
    row = {
        "description": f"[{', '.join(coords)}] or [{', '.join(coords)}, visibility]; null: joint not found",
        "oneOf": [
            {"type": "null"},
            {
                "type": "array",
                "minItems": dims,
                "maxItems": dims + 1,
                "prefixItems": [{"type": "number"}] * dims + [{"type": "number", "minimum": 0, "maximum": 1}],
            },
        ],
    }
    joints = ", ".join(f"{i} {j}" for i, j in enumerate(schema.joints))
    limits = schema.limits()
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://motionscript.example/schema/landmarks/{name}.schema.json",
        "title": f"Motionscript landmark document: {name}",
        "description": (
            f"{schema.title}. Rows in this order: {joints}. Axes and units: {schema.axes}. "
            "left/right are the subject's. "
            + (
                "Not measurable from this skeleton: " + " ".join(f"{lim.what}: {lim.reason}." for lim in limits)
                if limits
                else "Every angle and event can be measured from this skeleton."
            )
        ),
        "type": "object",
        "required": ["schema", "space", "frames"],
        "properties": {
            "schema": {"const": name},
            "space": {"enum": list(schema.spaces)},
            "fps": {"type": "number", "exclusiveMinimum": 0, "description": "only used when no frame carries t_s"},
            "frames": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_FRAMES,
                "items": {
                    "type": "object",
                    "properties": {
                        "t_s": {"type": "number", "description": "seconds, strictly increasing"},
                        "landmarks": {
                            "description": "null or [] when no pose was found in the frame",
                            "oneOf": [
                                {"type": "null"},
                                {"type": "array", "maxItems": 0},
                                {"type": "array", "minItems": len(schema), "maxItems": len(schema), "items": row},
                            ],
                        },
                    },
                    "required": ["landmarks"],
                },
            },
        },
        "x-joints": [
            {"index": i, "name": j, "vendor_name": v, "core_name": schema.core.get(j)}
            for i, (j, v) in enumerate(zip(schema.joints, schema.vendor_names, strict=True))
        ],
        "x-not-measurable": [{"what": lim.what, "reason": lim.reason} for lim in limits],
    }
    if "image" in schema.spaces:
        out["properties"]["image_size"] = {
            "type": "array",
            "items": {"type": "integer", "exclusiveMinimum": 0},
            "minItems": 2,
            "maxItems": 2,
            "description": "[width, height] of the upright image in pixels; required for image space",
        }
        out["if"] = {"properties": {"space": {"const": "image"}}}
        out["then"] = {"required": ["image_size"]}
    return out
