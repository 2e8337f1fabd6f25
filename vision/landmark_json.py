"""Landmark sequences computed on a phone, sent as JSON instead of video.

Format (documented in ``docs/landmarks.md``)::

    {"schema": "blazepose33",
     "space": "image",            # or "world"
     "image_size": [1080, 1920],  # [w, h]; required for image space
     "fps": 30,                   # optional; only used when frames carry no t_s
     "frames": [{"t_s": 0.0, "landmarks": [[x, y, z, visibility], ...33 rows]}]}

MediaPipe's axes: image x, y normalised to width/height, y down, z relative
depth; world in metres, origin between the hips, y down. A frame whose
``landmarks`` is ``null`` or ``[]`` had no pose. Rows may omit visibility
(three numbers), which is then taken as 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinematics.errors import LandmarkFormatError
from kinematics.series import BLAZEPOSE33, LandmarkSeries

__all__ = ["MAX_FRAMES", "LandmarkDocument", "load_landmark_file", "parse_landmarks"]

MAX_FRAMES = 216_000  # two hours at 30 fps
SCHEMAS = {"blazepose33": BLAZEPOSE33}
SPACES = {"image": "image_norm", "world": "world_m"}


@dataclass(frozen=True, eq=False)
class LandmarkDocument:
    landmarks: LandmarkSeries
    fps: float | None
    timestamps_from_fps: bool
    visibility_given: bool


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
        raise _fail("schema", f"expected one of {sorted(SCHEMAS)}, got {json.dumps(schema_name)}")
    schema = SCHEMAS[schema_name]
    space = doc.get("space")
    if not isinstance(space, str) or space not in SPACES:
        raise _fail("space", f"expected 'image' or 'world', got {json.dumps(space)}")
    size = None
    if space == "image":
        raw = doc.get("image_size")
        if not (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw)
        ):
            raise _fail(
                "image_size", f"expected [width, height] in pixels (two positive integers), got {json.dumps(raw)[:60]}"
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

    n, k = len(frames), len(schema)
    t_s = np.empty(n)
    xyz = np.full((n, k, 3), np.nan)
    vis = np.zeros((n, k))
    has_t = [isinstance(fr, dict) and "t_s" in fr for fr in frames]
    if any(has_t) and not all(has_t):
        missing = has_t.index(False)
        raise _fail(f"frames[{missing}].t_s", "missing; give t_s in every frame or in none (then fps is required)")
    if not any(has_t) and fps is None:
        raise _fail("frames[0].t_s", "missing, and no fps to derive timestamps from")
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
            if not isinstance(row, list) or len(row) not in (3, 4):
                raise _fail(f"{where}.landmarks[{j}]", f"expected [x, y, z, visibility], got {json.dumps(row)[:60]}")
            xyz[i, j] = [_number(v, f"{where}.landmarks[{j}]") for v in row[:3]]
            if len(row) == 4:
                v = _number(row[3], f"{where}.landmarks[{j}][3]")
                if not 0 <= v <= 1:
                    raise _fail(f"{where}.landmarks[{j}][3]", f"visibility must be in [0, 1], got {v}")
                vis[i, j] = v
            else:
                vis[i, j] = 1.0
                visibility_given = False
    bad = np.flatnonzero(np.diff(t_s) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise _fail(f"frames[{i}].t_s", f"timestamps must increase strictly; {t_s[i]} follows {t_s[i - 1]}")
    series = LandmarkSeries(t_s, xyz, vis, schema, SPACES[space], size)  # type: ignore[arg-type]
    return LandmarkDocument(series, fps, not any(has_t), visibility_given)
