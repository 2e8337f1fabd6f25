"""The instrument fingerprint: what Motionscript measures on every real fixture, summarised.

A clinic must get the same numbers from the same video on every install, and must be told
when an upgrade changes them. This package runs every real fixture recording (videos,
images, landmark files) through the same public path the CLI and the workers use
(``service.analysis.prepare_input`` once, then ``analyze_landmarks`` for no exercise and for
every exercise protocol), and reduces each assessment to a small, reviewable summary:

- per series: valid-sample count, mean, 5th and 95th percentiles and five samples at fixed
  fractions of the recording (or the reason it was withheld);
- per metric: its value (or why it is not measurable);
- events counted by type and side; findings as code and severity; coaching and quality codes;
  the detected view.

``tests/fingerprint/test_fingerprint.py`` compares the current summary with the stored one
(``values/<cpu>/<input>.json``) within :data:`TOLERANCE` per unit, counts and labels exactly, and
names every value that moved and by how much. ``python -m tests.fingerprint --update``
(``make fingerprint-update``) rewrites the stored values of this machine's CPU class and their
``environment.json`` (package versions and CPU flags they were made with); a reviewer reads
that diff.

One set per CPU class (:func:`cpu_class`): onnxruntime picks its kernels by the instruction
set (AVX-512 or AVX2), their results differ in the last bits, and on the clips where two
people cross or the subject is small, the pose tracker amplifies those bits into another
region of interest and other landmarks (tens of pixels on the two-person clips). Where a single
subject is followed, the sets agree within :data:`TOLERANCE` (a test says so), so what differs
between them is itself a finding: which fixtures the instrument reads differently by CPU.
"""

from __future__ import annotations

import json
import math
import platform
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
HERE = Path(__file__).resolve().parent
VALUES_ROOT = HERE / "values"

# How far a stored value may move before the fingerprint fails, per unit. Angles: 0.2 deg
# (well under the 4 deg MDC of pelvic drop and the ~1 deg synthetic-truth RMSE, well above
# the ~1e-4 deg differences between CPU instruction sets). Counts ("1") and labels: exact.
TOLERANCE: dict[str, float] = {
    "deg": 0.2,
    "deg/s": 1.0,  # a velocity is an angle over a ~0.1 s window: 0.2 deg / 0.1 s
    "px": 0.5,
    "s": 0.02,  # about one frame at 60 fps
    "1": 0.0,
    "norm": 0.002,
    "m": 0.002,
    "%": 0.2,
}
DEFAULT_TOLERANCE = 1e-3
SAMPLE_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True)
class FixtureInput:
    """One real recording and how it is read."""

    name: str  # file stem, also the stored file's name
    path: Path
    kind: str  # "file" (video, image, landmark JSON in our format) or "keraal" (dataset JSON)


def fixture_inputs() -> list[FixtureInput]:
    """Every real recording under ``tests/fixtures`` that the pose pipeline can read."""
    found = [FixtureInput(p.stem, p, "file") for p in sorted((FIXTURES / "video").glob("*.mp4"))]
    found += [FixtureInput(p.stem, p, "file") for p in sorted((FIXTURES / "images").glob("*.png"))]
    found += [FixtureInput(p.stem, p, "file") for p in sorted((FIXTURES / "landmarks").glob("*.json"))]
    found += [
        FixtureInput(p.stem, p, "keraal") for p in sorted((FIXTURES / "landmarks" / "keraal").glob("G3-BP-*.json"))
    ]
    return found


def _exercises() -> tuple[str | None, ...]:
    from kinematics.protocols import PROTOCOL_NAMES

    return (None, *PROTOCOL_NAMES)


def assessments(item: FixtureInput) -> Iterator[tuple[str, dict]]:
    """``(exercise or "none", assessment JSON)`` for every exercise, the pose model run once."""
    from service.analysis import analyze_landmarks, prepare_input
    from service.schemas import InputInfo

    if item.kind == "keraal":
        from validation.keraal import load_blazepose

        lm = load_blazepose(item.path)
        info = InputInfo(
            kind="landmarks",
            filename=item.path.name,
            frames_read=len(lm),
            frames_with_pose=len(lm),
            landmark_space="image",
        )
        prepared = dict(landmarks=lm, info=info, model=None, subject=None, issues=[])
    else:
        p = prepare_input(item.path)
        prepared = dict(landmarks=p.landmarks, info=p.info, model=p.model, subject=p.subject, issues=p.issues)
    for exercise in _exercises():
        a = analyze_landmarks(
            prepared["landmarks"],
            input_info=prepared["info"],
            exercise=exercise,
            model=prepared["model"],
            subject=prepared["subject"],
            extra_issues=list(prepared["issues"]),
        )
        yield exercise or "none", json.loads(a.model_dump_json())


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _series_summary(values: list[float | None] | None, unit: str, reason: str | None) -> dict:
    if values is None:
        return {"unit": unit, "withheld": _reason(reason)}
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    ok = np.flatnonzero(np.isfinite(v))
    if ok.size == 0:
        return {"unit": unit, "n_valid": 0}
    picks = ok[np.clip((np.array(SAMPLE_FRACTIONS) * ok.size).astype(int), 0, ok.size - 1)]
    return {
        "unit": unit,
        "n_valid": int(ok.size),
        "mean": _r(np.mean(v[ok])),
        "p5": _r(np.percentile(v[ok], 5)),
        "p95": _r(np.percentile(v[ok], 95)),
        "samples": {str(int(i)): _r(v[i]) for i in picks},
    }


def _reason(text: str | None) -> str:
    """A withheld value's reason with its numbers blanked: the numbers are compared elsewhere, within tolerance."""
    return re.sub(r"-?\d+(\.\d+)?", "#", text) if text else "null"


def _unit_of_series(name: str) -> str:
    for suffix, unit in (("_deg", "deg"), ("_px", "px"), ("_s", "s")):
        if name.endswith(suffix):
            return unit
    return "1"


def summarise(a: dict, *, protocol_only: bool = False) -> dict:
    """The reviewable summary of one assessment document.

    ``protocol_only`` leaves out the series and their summary metrics, which do not
    depend on the exercise and are stored once, under ``"none"``.
    """
    series = {
        name: _series_summary(values, _unit_of_series(name), a["unavailable"].get(name))
        for name, values in sorted(a["series"].items())
        if name != "t_s"
    }
    metrics = {}
    for m in a["metrics"]:
        if protocol_only and m.get("source") == "series":
            continue
        key = m["name"] + (f"[{m['side']}]" if m.get("side") else "")
        metrics[key] = (
            {"unit": m["unit"], "value": _r(m["value"])}
            if m["measurable"] and m["value"] is not None
            else {"unit": m["unit"], "not_measurable": _reason(m.get("reason"))}
        )
    events = Counter(f"{e['type']}[{e['side'] or '-'}]" for e in a["events"])
    head = {
        "view": {"view": a["view"]["view"], "yaw_deg": {"unit": "deg", "value": _r(a["view"]["yaw_deg"])}},
        "frames": len(a["series"]["t_s"]),
        "quality": sorted(q["code"] for q in a["quality"]),
    }
    return {
        **({} if protocol_only else head),
        **({} if protocol_only else {"series": series}),
        "metrics": dict(sorted(metrics.items())),
        "events": dict(sorted(events.items())),
        "findings": [f"{f['code']}:{f['severity']}" for f in a["findings"]],
        "coaching": [c["code"] for c in a["coaching"]],
    }


def fingerprint(item: FixtureInput) -> dict:
    return {exercise: summarise(a, protocol_only=exercise != "none") for exercise, a in assessments(item)}


EXACT_KEYS = frozenset({"n_valid", "frames"})  # counts inside a unit-bearing block


def compare(stored: object, current: object, path: str = "", unit: str | None = None) -> list[str]:
    """Every difference between two summaries, each as one readable line.

    Numbers are compared within the tolerance of the unit of the block that holds
    them (:data:`TOLERANCE`); counts, labels and codes must be equal.
    """
    if isinstance(stored, dict) and isinstance(current, dict):
        unit = stored.get("unit", unit) if isinstance(stored.get("unit"), str) else unit
        out = []
        for key in sorted(set(stored) | set(current), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in current:
                out.append(f"{where}: gone (was {json.dumps(stored[key])[:120]})")
            elif key not in stored:
                out.append(f"{where}: new ({json.dumps(current[key])[:120]})")
            else:
                out += compare(stored[key], current[key], where, None if key in EXACT_KEYS else unit)
        return out
    if _number(stored) and _number(current) and unit is not None:
        tol = TOLERANCE.get(unit, DEFAULT_TOLERANCE)
        if abs(current - stored) > tol + 1e-9:  # type: ignore[operator]
            return [f"{path}: moved {current - stored:+.3f} {unit} ({stored} -> {current}; tolerance {tol:g} {unit})"]  # type: ignore[operator]
        return []
    if stored != current:
        return [f"{path}: {json.dumps(stored)} -> {json.dumps(current)}"]
    return []


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def environment_flags() -> list[str]:
    """The CPU features that decide which kernels run (from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("avx", "avx2", "avx512f", "avx512_vnni", "fma", "sse4_2", "f16c", "amx_tile")
                return sorted(set(line.split(":", 1)[1].split()) & set(wanted))
    except OSError:
        pass
    return []


def environment() -> dict:
    """Package versions and the CPU features the stored values were made with."""
    import onnxruntime

    from service.version import software_versions

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_flags": environment_flags(),
        "packages": software_versions(),
        "onnxruntime_providers": onnxruntime.get_available_providers(),
    }


def cpu_class(flags: list[str] | None = None) -> str:
    """``avx512`` or ``avx2`` (or ``baseline``): what onnxruntime's CPU kernels are chosen by."""
    flags = environment_flags() if flags is None else flags
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "baseline"


def values_dir(cpu: str | None = None) -> Path:
    """The stored values of a CPU class (default: this machine's)."""
    return VALUES_ROOT / (cpu or cpu_class())


def stored_path(item: FixtureInput, cpu: str | None = None) -> Path:
    return values_dir(cpu) / f"{item.name}.json"


def dump(obj: object) -> str:
    """JSON with one line per series, metric or block, so that a diff reads line by line."""
    return _dump(obj, 0) + "\n"


def _dump(obj: object, depth: int) -> str:
    if depth >= 3 or not isinstance(obj, dict) or not obj:
        return json.dumps(obj, separators=(", ", ": "))
    pad = " " * (depth + 1)
    items = [f"{pad}{json.dumps(k)}: {_dump(v, depth + 1)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
