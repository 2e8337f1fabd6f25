#!/usr/bin/env python
"""Gait from a lower-back IMU: this project's detector beside mobgap's, on the Mobilise-D recordings.

    .venv/bin/python -m bench gait [--no-mobgap] [--mobgap-json FILE]

One run: this project's :class:`kinematics.fusion.InitialContactDetector` (in this
process) and mobgap's own pipelines and detectors (``bench/mobgap/run.py`` in the
benchmark-only venv ``.venv-mobgap``, ``make .venv-mobgap/.installed``) on the same
nine recordings (HA001, HA002, MS001 x Test5 Trial1/2, Test11 Trial1), scored by one
scorer (``validation/mobilised.py``):

* **optical**: contacts inside the Stereophoto bouts (its capture volume), matched within
  +-0.25 s: F1, signed and absolute median timing error (detected - reference), sides right;
* **whole recording**: every contact against the combined reference (INDIP bouts, plus the
  Stereophoto bouts INDIP lacks): contacts while sitting, standing or doing tasks count as
  false positives (an upper bound: walking neither system recorded counts too);
* **INDIP**: the same contacts against the other reference system's contacts inside its bouts
  (foot-worn pressure insoles and IMUs): F1 and signed / absolute median timing error;
* **reference row**: INDIP's own contacts scored against the optical ones like a detector
  (``validation.mobilised.reference_agreement``): how far the two references disagree, the
  floor below which no detector's optical timing error can be read as its own;
* **stride length / speed**: per stride matched to the optical strides (start and end within
  0.25 s): mean error and mean |error|.

Then, for this project's detector only, where the optical contacts disagree with the two
IMU-based systems (``validation.mobilised.contact_timing``): per optical bout the signed median
errors of INDIP's initial and final contacts and of this detector against the optical ones, and
this detector against INDIP; per trial the slope of the signed error over time (a drifting clock);
and in daily life by kind of contact (first or last of an optical bout, inside one of its turns,
straight, left, right).

Prints markdown; the figures in docs/validation.md ("Gait against mobgap") come from it, and
its timing blocks are written there by ``--write`` (``--check``: exit 1 when stale; both run
only this project's detector).
Speed is not measured here (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from kinematics.fusion import MOBILISED_LOWER_BACK, InitialContactDetector, InvertedPendulum
from validation import mobilised as M
from validation.docblocks import DOC_PATH

REPO = Path(__file__).resolve().parents[1]
MOBGAP_PYTHON = REPO / ".venv-mobgap" / "bin" / "python"
OURS = "this project"
REFERENCE = "reference: INDIP against optical"
TIMING_TARGET_MS = 20.0  # issue #18: median |error| against the optical reference on HA001


def _combined(pid: str, test: str, trial: str) -> list[M.ReferenceBout]:
    indip = M.reference_bouts(pid, test, trial, "INDIP")
    optical = M.reference_bouts(pid, test, trial, "Stereophoto")
    return indip + [b for b in optical if all(b.end_s < x.start_s or b.start_s > x.end_s for x in indip)]


def ours() -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for pid in M.PARTICIPANTS:
        leg = M.participant(pid).sensor_height_m
        for test, trial in M.TRIALS:
            rec = M.recording(pid, test, trial)
            gait = InitialContactDetector().detect(rec, axes=MOBILISED_LOWER_BACK)
            sl = InvertedPendulum().estimate(rec, gait, sensor_height_m=leg)
            out.setdefault(pid, {})[f"{test}/{trial}"] = {
                "ic_s": [e.t_s for e in gait.initial_contacts],
                "side": [e.side for e in gait.initial_contacts],
                "strides": np.column_stack([sl.start_s, sl.end_s, sl.length_m, sl.speed_mps]).tolist(),
            }
    return out


def mobgap(json_path: Path | None) -> tuple[dict, str]:
    """mobgap's results and its version, or ({}, why not)."""
    if json_path is not None:
        doc = json.loads(json_path.read_text())
        return doc["results"], f"mobgap {doc['mobgap_version']} (from {json_path})"
    if not MOBGAP_PYTHON.is_file():
        return (
            {},
            "mobgap not run: no .venv-mobgap (make .venv-mobgap/.installed builds it from requirements/bench-mobgap.txt)",
        )
    args = [f"{pid}={M.participant(pid).data_path}:{M.participant(pid).info_path}" for pid in M.PARTICIPANTS]
    proc = subprocess.run(
        [str(MOBGAP_PYTHON), str(REPO / "bench" / "mobgap" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        return {}, f"mobgap failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
    doc = json.loads(proc.stdout)
    return doc["results"], f"mobgap {doc['mobgap_version']}"


def _stride_errors(strides: list[list[float]], bouts: list[M.ReferenceBout]) -> tuple[np.ndarray, np.ndarray]:
    if not strides:
        return np.zeros(0), np.zeros(0)
    s = np.asarray(strides, dtype=float)
    dl, dv = [], []
    for b in bouts:
        for (a, e), length, speed in zip(b.stride_contacts_s, b.stride_length_m, b.stride_speed_mps, strict=True):
            k = int(np.argmin(np.abs(s[:, 0] - a)))
            if abs(s[k, 0] - a) <= 0.25 and abs(s[k, 1] - e) <= 0.25 and np.isfinite(length) and s.shape[1] >= 4:
                dl.append(s[k, 2] - length)
                dv.append(s[k, 3] - speed)
    return np.asarray(dl), np.asarray(dv)


def _fmt(x: float, spec: str) -> str:
    return "-" if not np.isfinite(x) else format(x, spec)


def report(results: dict[str, dict[str, dict]], note: str) -> tuple[str, list[str]]:
    lines = [
        f"Detectors: {OURS} (`InitialContactDetector`, `InvertedPendulum`) and {note}.",
        "",
        (
            "| trial | detector | optical: F1 | error median (signed / abs) | sides | INDIP: F1 | error median "
            "(signed / abs) | whole recording: F1 (FP) | stride length error mean / abs | speed error mean |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for pid in M.PARTICIPANTS:
        for test, trial in M.TRIALS:
            key = f"{test}/{trial}"
            optical = M.reference_bouts(pid, test, trial, "Stereophoto")
            indip = M.reference_bouts(pid, test, trial, "INDIP")
            combined = _combined(pid, test, trial)
            best_f1, our_f1, our_ms = -1.0, float("nan"), float("nan")
            agreement = M.reference_agreement(pid, test, trial)
            if agreement is not None:
                lines.append(
                    f"| {pid} {test} {trial} | {REFERENCE} | {agreement.f1:.2f} | "
                    f"{agreement.median_error_ms:+.0f} / {agreement.median_abs_error_ms:.0f} ms | "
                    f"{agreement.side_correct}/{agreement.tp} | | | | | |"
                )
            for name, res in results.items():
                r = res.get(pid, {}).get(key)
                if r is None:
                    continue
                t, side = np.asarray(r["ic_s"], dtype=float), r["side"]
                so = M.score_contacts(t, side, optical) if optical else None
                si = M.score_contacts(t, side, indip) if indip else None
                sw = M.score_contacts(t, side, combined, scope="recording") if combined else None
                dl, dv = _stride_errors(r.get("strides", []), optical)
                row = [
                    f"{pid} {test} {trial}",
                    name,
                    _fmt(so.f1, ".2f") if so else "no reference",
                    f"{_fmt(so.median_error_ms, '+.0f')} / {_fmt(so.median_abs_error_ms, '.0f')} ms" if so else "",
                    f"{so.side_correct}/{so.tp}" if so else "",
                    _fmt(si.f1, ".2f") if si else "no reference",
                    f"{_fmt(si.median_error_ms, '+.0f')} / {_fmt(si.median_abs_error_ms, '.0f')} ms" if si else "",
                    f"{sw.f1:.2f} ({sw.fp})" if sw else "-",
                    f"{dl.mean():+.2f} / {np.abs(dl).mean():.2f} m" if dl.size else "-",
                    f"{dv.mean():+.2f} m/s" if dv.size else "-",
                ]
                lines.append("| " + " | ".join(row) + " |")
                if so is not None:
                    if name == OURS:
                        our_f1, our_ms = so.f1, so.median_abs_error_ms
                    else:
                        best_f1 = max(best_f1, so.f1)
            if optical and best_f1 >= 0:
                verdicts.append(
                    f"{pid} {test} {trial}: F1 {our_f1:.2f} vs best mobgap {best_f1:.2f}: "
                    + ("at least as good" if our_f1 >= best_f1 else "WORSE")
                )
            if optical and np.isfinite(our_ms):
                floor = (
                    f"; INDIP itself {agreement.median_abs_error_ms:.0f} ms from the optical contacts"
                    if agreement is not None
                    else ""
                )
                verdicts.append(
                    f"{pid} {test} {trial}: median |error| {our_ms:.0f} ms against the optical reference: "
                    + (
                        f"within {TIMING_TARGET_MS:.0f} ms"
                        if our_ms <= TIMING_TARGET_MS
                        else f"NOT within {TIMING_TARGET_MS:.0f} ms"
                    )
                    + floor
                )
    return "\n".join(lines), verdicts


def timing_report(results: dict[str, dict[str, dict]]) -> dict[str, str]:
    """The optical-reference timing blocks of docs/validation.md for this project's detections."""
    detected: dict[tuple[str, str, str], np.ndarray] = {}
    for pid, trials in results.get(OURS, {}).items():
        for key, r in trials.items():
            test, trial = key.split("/")
            detected[(pid, test, trial)] = np.asarray(r["ic_s"], dtype=float)
    return M.timing_blocks(detected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-mobgap", action="store_true", help="only this project's detector")
    parser.add_argument("--mobgap-json", type=Path, help="mobgap results saved from bench/mobgap/run.py")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--write", action="store_true", help="only update the generated gait blocks of docs/validation.md"
    )
    mode.add_argument("--check", action="store_true", help="only check them: exit 1 if stale")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict]] = {OURS: ours()}
    if args.write or args.check:
        blocks = timing_report(results)
        doc = DOC_PATH.read_text(encoding="utf-8")
        if args.write:
            DOC_PATH.write_text(M.BLOCKS.write(doc, blocks), encoding="utf-8")
            print(f"updated {len(blocks)} blocks in {DOC_PATH}")
            return 0
        stale = M.BLOCKS.stale(doc, blocks)
        print("\n".join(stale) if stale else f"{DOC_PATH.name} is up to date")
        return 1 if stale else 0
    note = "mobgap not run (--no-mobgap)"
    if not args.no_mobgap:
        by_pid, note = mobgap(args.mobgap_json)
        for pid, trials in by_pid.items():
            for key, configs in trials.items():
                for name, r in configs.items():
                    results.setdefault(f"mobgap {name}", {}).setdefault(pid, {})[key] = r
    table, verdicts = report(results, note)
    print(table)
    print()
    for v in verdicts:
        print(f"- {v}")
    for name, text in timing_report(results).items():
        print(f"\n{name}:\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
