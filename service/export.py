"""Angle series out of an assessment, for spreadsheets (CSV) and OpenSim (.mot).

Both take the assessment document as a dict (what the API stores and
``motionscript analyze`` writes) and write every non-null series sampled at
``series.t_s``; a sample that was not measured is written as ``NaN``.
"""

from __future__ import annotations

import csv
import io
import math

__all__ = ["series_columns", "to_csv", "to_mot"]


def series_columns(doc: dict) -> tuple[list[float], list[tuple[str, list[float | None]]]]:
    series = doc.get("series") or {}
    t_s = series.get("t_s") or []
    columns = [(name, values) for name, values in series.items() if name != "t_s" and values is not None]
    return t_s, columns


def _cell(v: float | None) -> str:
    return "NaN" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


def to_csv(doc: dict) -> str:
    """``t_s`` and one column per series, named with their unit suffix (``_deg``, ``_px``, ``_m``)."""
    t_s, columns = series_columns(doc)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["t_s", *(name for name, _ in columns)])
    for i, t in enumerate(t_s):
        w.writerow([repr(float(t)), *(_cell(values[i]) for _, values in columns)])
    return out.getvalue()


def to_mot(doc: dict, name: str = "motionscript") -> str:
    """OpenSim motion file of the angle series (degrees), ``time`` first.

    Only the ``_deg`` series are written, since .mot columns are coordinates;
    column names drop the unit suffix. Convention per column: see the
    assessment's ``conventions`` (these are camera-plane angles, not OpenSim
    model coordinates).
    """
    t_s, columns = series_columns(doc)
    angles = [(n.removesuffix("_deg"), v) for n, v in columns if n.endswith("_deg")]
    lines = [
        name,
        "version=1",
        f"nRows={len(t_s)}",
        f"nColumns={len(angles) + 1}",
        "inDegrees=yes",
        "endheader",
        "\t".join(["time", *(n for n, _ in angles)]),
    ]
    for i, t in enumerate(t_s):
        lines.append("\t".join([f"{float(t):.6f}", *(_cell(v[i]) for _, v in angles)]))
    return "\n".join(lines) + "\n"
