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

Prints markdown; the figures in docs/validation.md ("Gait against mobgap") come from it.
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


def _med(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return f"{1000 * np.median(x):+.0f}" if x.size else "-"


def _med_abs(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return f"{_med(x)} / {1000 * np.median(np.abs(x)):.0f} ms (n={x.size})" if x.size else "-"


def _slope(t: np.ndarray, e: np.ndarray) -> str:
    slope, se = M.error_drift(t, e)
    return f"{slope:+.1f} +- {se:.1f} ms/min" if np.isfinite(slope) else "-"


def timing_report(results: dict[str, dict[str, dict]]) -> str:
    """Where the optical initial contacts disagree with this detector's and INDIP's (both IMU-based)."""
    bouts = [
        (
            "| trial | optical bout | speed | contacts (in turns) | INDIP - optical: initial / final contact | "
            "this project - optical | this project - INDIP |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    drift = [
        "| trial | INDIP - optical: slope over time | this project - optical: slope over time | span |",
        "|---|---|---|---|",
    ]
    kinds = [
        "| trial | contacts | this project - optical: median signed / abs | INDIP - optical: median signed / abs |",
        "|---|---|---|---|",
    ]
    for pid in M.PARTICIPANTS:
        for test, trial in M.TRIALS:
            r = results.get(OURS, {}).get(pid, {}).get(f"{test}/{trial}")
            contacts = M.contact_timing(pid, test, trial, np.asarray(r["ic_s"], dtype=float)) if r else []
            if not contacts:
                continue
            name = f"{pid} {test} {trial}"
            optical = M.reference_bouts(pid, test, trial)
            fc = M.final_contact_errors(pid, test, trial)
            t = np.array([c.t_s for c in contacts])
            det = np.array([c.detector_error_s for c in contacts])
            ind = np.array([c.indip_error_s for c in contacts])
            bout = np.array([c.bout for c in contacts])
            for k, b in enumerate(optical):
                sel = bout == k
                turns = sum(c.in_turn for c, s in zip(contacts, sel, strict=True) if s)
                bouts.append(
                    f"| {name} | {b.start_s:.1f}-{b.end_s:.1f} s | {b.walking_speed_mps:.2f} m/s | "
                    f"{int(sel.sum())} ({turns}) | {_med(ind[sel])} / {_med(fc[k])} ms | {_med(det[sel])} ms | "
                    f"{_med(det[sel] - ind[sel])} ms |"
                )
            if t[-1] - t[0] >= 60.0:  # a slope within one short bout says nothing about a clock
                drift.append(f"| {name} | {_slope(t, ind)} | {_slope(t, det)} | {t[0]:.0f}-{t[-1]:.0f} s |")
            if test != "Test11":
                continue
            groups = {
                "first of an optical bout": [c.position == "first" for c in contacts],
                "last of an optical bout": [c.position == "last" for c in contacts],
                "inside a bout, in an optical turn": [c.position == "inside" and c.in_turn for c in contacts],
                "inside a bout, straight": [c.position == "inside" and not c.in_turn for c in contacts],
                "left foot": [c.side == "left" for c in contacts],
                "right foot": [c.side == "right" for c in contacts],
            }
            for label, mask in groups.items():
                m = np.asarray(mask, dtype=bool)
                kinds.append(f"| {name} | {label} | {_med_abs(det[m])} | {_med_abs(ind[m])} |")
    return "\n".join(
        [
            "Signed median errors by optical bout (this project - INDIP: where both matched the same optical contact):",
            "",
            *bouts,
            "",
            "Drift: least-squares slope of the signed error over the trial (+- standard error; trials over 60 s):",
            "",
            *drift,
            "",
            "Daily life, by kind of optical contact:",
            "",
            *kinds,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-mobgap", action="store_true", help="only this project's detector")
    parser.add_argument("--mobgap-json", type=Path, help="mobgap results saved from bench/mobgap/run.py")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict]] = {OURS: ours()}
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
    print()
    print(timing_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
