"""Measure the figures quoted in docs/wearables.md and docs/validation.md ("## Wearables"), except gait.

Gait (walking bouts, contacts, sides, stride length, beside mobgap): ``python -m bench gait``.

Run: ``.venv/bin/python -m tests.fusion.measure [--uci-3a PATH]`` (about a minute).
Prints markdown. Synthetic figures use seeds 0..19; real-data figures use the
fixtures in tests/fixtures/wearables (and, when given, the UCI 3Amar.txt
recording, which is too large to be a fixture).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import signal

from kinematics.fusion import (
    MOBILISED_LOWER_BACK,
    AxisMapping,
    ClockSync,
    EmgAnalysis,
    MahonyFilter,
    ObliquityFusion,
    ThresholdOnsetDetector,
    pelvis_orientation,
    read_emg,
    tkeo,
)
from kinematics.fusion.synth import emg_bursts, pelvis_imu, rehab_motion, video_angle
from tests.fusion.data import UCI_5N

SEEDS = range(20)
T = np.arange(0.0, 60.0, 0.01)


def rmse(a, b):
    ok = np.isfinite(a)
    return float(np.sqrt(np.mean((a[ok] - b[ok]) ** 2)))


def orientation_and_fusion() -> None:
    print("### Synthetic IMU (20 draws, 60 s at 100 Hz)\n")
    rows = {}
    for name, axes in (
        ("mobilised", MOBILISED_LOWER_BACK),
        ("upside_down", AxisMapping(up="-z", anterior="+x", left="-y")),
    ):
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            m = rehab_motion(T, posture_tilt_deg=8.0, posture_obliquity_deg=1.0, rng=rng)
            rec = pelvis_imu(m, axes=axes, mounting_error_deg=(4.0, 2.0, -3.0), rng=rng)
            from kinematics.fusion import calibrate_static

            cal = calibrate_static(rec, axes, posture_tilt_deg=8.0, posture_obliquity_deg=1.0)
            po = pelvis_orientation(rec, axes=axes, calibration=cal)
            g = pelvis_orientation(rec, axes=axes, calibration=cal, estimator=MahonyFilter(kp=0, ki=0))
            rows.setdefault(name, []).append(
                (
                    rmse(po.tilt.values, m.tilt_deg),
                    rmse(po.obliquity.values, m.obliquity_deg),
                    rmse(g.tilt.values, m.tilt_deg),
                    rmse(g.obliquity.values, m.obliquity_deg),
                )
            )
    print(
        "| sensor worn | tilt RMSE median / worst | obliquity RMSE median / worst | gyro only: tilt / obliquity worst |"
    )
    print("|---|---|---|---|")
    for name, r in rows.items():
        r = np.array(r)
        print(
            f"| {name} | {np.median(r[:, 0]):.2f} / {r[:, 0].max():.2f} | {np.median(r[:, 1]):.2f} / {r[:, 1].max():.2f} "
            f"| {r[:, 2].max():.2f} / {r[:, 3].max():.2f} |"
        )
    print()
    errs, conf, fus = [], [], {0.0: [], 1.5: []}
    for stand in (1.5, 0.0):
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            m = rehab_motion(T, posture_obliquity_deg=stand, rng=rng)
            off = 3.217 + 0.37 * seed - 4.0
            rec = pelvis_imu(m, axes=MOBILISED_LOWER_BACK, mounting_error_deg=(4, 2, -3), rng=rng, clock_offset_s=off)
            imu = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK).obliquity
            gyro = pelvis_orientation(rec, axes=MOBILISED_LOWER_BACK, estimator=MahonyFilter(kp=0, ki=0)).obliquity
            video, vt = video_angle(T, m.obliquity_deg, rng=rng, gaps_s=((20, 21.5), (40, 40.6)))
            co = ClockSync().estimate(imu, video)
            if stand == 1.5:
                errs.append(co.offset_s - off)
                conf.append((co.peak_r, co.second_r, co.confidence))
            fa = ObliquityFusion().fuse(imu, video, offset=co)
            fg = ObliquityFusion().fuse(gyro, video, offset=co)
            truth = np.interp(fa.angle.t_s, T, m.obliquity_deg)
            fus[stand].append(
                (
                    rmse(video.values, vt),
                    rmse(imu.values, m.obliquity_deg),
                    rmse(gyro.values, m.obliquity_deg),
                    rmse(fa.angle.values, truth),
                    rmse(fg.angle.values, truth),
                    fa.normalised_innovation_rms,
                )
            )
    e = np.abs(errs) * 1000
    c = np.array(conf)
    print(
        f"Clock offset (obliquity rate, 30 fps video with 1.5 deg/sqrt(confidence) noise and two gaps; offsets "
        f"-0.8 to +6.3 s): |error| median {np.median(e):.1f} ms, worst {e.max():.1f} ms (one frame = 33.3 ms); "
        f"peak r {c[:, 0].min():.2f}-{c[:, 0].max():.2f}, next-best r {c[:, 1].min():.2f}-{c[:, 1].max():.2f}, "
        f"confidence {c[:, 2].min():.2f}-{c[:, 2].max():.2f}.\n"
    )
    print(
        "| stand obliquity | video only | IMU (Mahony) | IMU gyro only | fused (Mahony) | fused (gyro only) | NIS rms |"
    )
    print("|---|---|---|---|---|---|---|")
    for stand, r in fus.items():
        r = np.array(r)
        med = np.median(r, axis=0)
        worst = r.max(axis=0)
        print(
            f"| {stand} deg | {med[0]:.2f} / {worst[0]:.2f} | {med[1]:.2f} / {worst[1]:.2f} | {med[2]:.2f} / {worst[2]:.2f} "
            f"| {med[3]:.2f} / {worst[3]:.2f} | {med[4]:.2f} / {worst[4]:.2f} | {med[5]:.2f} |"
        )
    print("\n(obliquity RMSE in deg, median / worst of 20 draws)\n")


def emg_synthetic() -> None:
    print("### EMG onsets on synthetic bursts with known onsets (20 draws x 3 bursts)\n")
    print("| rate | onset path | onset |error| median / worst | offset |error| worst | spurious bursts |")
    print("|---|---|---|---|---|")
    for fs in (1000.0, 2000.0):
        t = np.arange(0.0, 8.0, 1.0 / fs)
        variants = {
            "TKEO, sustained (default)": {},
            "TKEO, window mean (Hodges & Bui)": {"rule": "mean"},
            "no TKEO, sustained": {"cond": "none"},
            "TKEO, + zero-phase notch 50 Hz & harmonics": {"notch": True},
        }
        for label, v in variants.items():
            on_e, off_e, extra = [], [], 0
            for seed in SEEDS:
                rng = np.random.default_rng(seed)
                truth = [
                    (1.5 + rng.uniform(0, 0.3), 2.4, 0.08),
                    (4.1 + rng.uniform(0, 0.3), 5.0, 0.03),
                    (6.3, 7.0, 0.15),
                ]
                x = emg_bursts(t, truth, sampling_rate_hz=fs, rng=rng)
                y = signal.sosfiltfilt(signal.butter(4, (20, 450), "bandpass", fs=fs, output="sos"), x)
                if v.get("notch"):
                    f = 50.0
                    while f < 450:
                        b, a = signal.iirnotch(f, 30, fs=fs)
                        y = signal.filtfilt(b, a, y)
                        f += 50.0
                z = y if v.get("cond") == "none" else tkeo(y)
                env = signal.sosfiltfilt(signal.butter(2, 50, fs=fs, output="sos"), np.abs(z))
                bb = ThresholdOnsetDetector(baseline_s=(0.2, 1.2), rule=v.get("rule", "sustained")).detect(t, env)
                extra += max(0, len(bb.onsets_s) - 3)
                for a, o, _ in truth:
                    if len(bb.onsets_s):
                        i = int(np.argmin(np.abs(bb.onsets_s - a)))
                        on_e.append(bb.onsets_s[i] - a)
                        off_e.append(bb.offsets_s[i] - o)
            on_e, off_e = np.abs(on_e) * 1000, np.abs(off_e) * 1000
            print(
                f"| {fs:.0f} Hz | {label} | {np.median(on_e):.1f} / {on_e.max():.1f} ms | {np.nanmax(off_e):.1f} ms | {extra} |"
            )
    print(
        "\nBursts of 0.08, 0.03 and 0.15 mV RMS (15 ms rise) on 0.005 mV white noise, 0.02 mV mains hum and "
        "0.05 mV artefact below 2 Hz; baseline 0.2-1.2 s; 3 SD, 25 ms.\n"
    )


def emg_real(extra: list[Path]) -> None:
    print("### UCI lower-limb gait EMG (real, no onset reference)\n")
    print(
        "| file | channel | bursts | per knee cycle | median burst | onset phase after knee-flexion peak, median (IQR) |"
    )
    print("|---|---|---|---|---|---|")
    for path in [UCI_5N, *extra]:
        rec = read_emg(path, sampling_rate_hz=None if path == UCI_5N else 1000.0)
        t = rec.t_s
        knee = signal.sosfiltfilt(
            signal.butter(2, 3, fs=rec.sampling_rate_hz, output="sos"), rec.aux["knee_flexion_deg"].values
        )
        pk, _ = signal.find_peaks(knee, prominence=15, distance=int(0.6 * rec.sampling_rate_hz))
        tp = t[pk]
        res = EmgAnalysis().run(rec)
        for ch in rec.channels:
            b = res.bursts[ch.name]
            ph = []
            for o in b.onsets_s:
                k = np.searchsorted(tp, o) - 1
                if 0 <= k < len(tp) - 1:
                    ph.append(100 * (o - tp[k]) / (tp[k + 1] - tp[k]))
            q = np.percentile(ph, [25, 50, 75]) if ph else [np.nan] * 3
            inside = ((b.onsets_s >= tp[0]) & (b.onsets_s < tp[-1])).sum()
            print(
                f"| {path.name} ({len(tp) - 1} cycles) | {ch.label} | {len(b.onsets_s)} | {inside / (len(tp) - 1):.1f} | "
                f"{1000 * np.nanmedian(b.offsets_s - b.onsets_s):.0f} ms | {q[1]:.0f} % ({q[0]:.0f}-{q[2]:.0f}) |"
            )
        print(
            f"| {path.name} | co-contraction | "
            + ", ".join(f"{k} {v:.0f} %" for k, v in res.co_contraction_pct.items())
            + " | | | |"
        )
    print()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--uci-3a", type=Path, help="path of the UCI 3Amar.txt recording")
    args = p.parse_args()
    orientation_and_fusion()
    emg_synthetic()
    emg_real([args.uci_3a] if args.uci_3a else [])


if __name__ == "__main__":
    main()
