"""Sensor recordings for the live tests: synthetic files with known onsets, and a replayer.

A recording is replayed as a client would stream it: IMU and EMG blocks interleaved in time,
as JSON or in the binary form, each sensor on its own clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kinematics.fusion import MOBILISED_LOWER_BACK, EmgRecording, ImuRecording
from kinematics.fusion.synth import PelvisMotion, emg_bursts, pelvis_imu
from service.live_sensors import encode_sensor_block

MOVEMENT_STARTS_S = (4.0, 7.0, 10.0, 13.0)  # each: the pelvis tilts 10 deg in 0.7 s, holds 1 s, returns
ABDOMINALS_LEAD_S = 0.06  # the abdominals switch on 60 ms before each movement starts


def _min_jerk(t: np.ndarray, t0: float, duration_s: float, amp: float) -> np.ndarray:
    x = np.clip((t - t0) / duration_s, 0.0, 1.0)
    return amp * (10 * x**3 - 15 * x**4 + 6 * x**5)


def tilt_reps(t: np.ndarray, *, obliquity_deg: float = 0.0) -> PelvisMotion:
    """Quiet stand, then four anterior tilts (and, optionally, an obliquity of the same shape)."""
    shape = sum(_min_jerk(t, m, 0.7, 1.0) - _min_jerk(t, m + 1.7, 0.7, 1.0) for m in MOVEMENT_STARTS_S)
    zeros = np.zeros_like(t)
    return PelvisMotion(
        t_s=t,
        tilt_deg=10.0 * shape,
        obliquity_deg=obliquity_deg * shape,
        yaw_deg=zeros,
        position_m=np.column_stack([zeros, 0.9 + zeros, zeros]),
    )


def write_imu(path: Path, rec: ImuRecording) -> Path:
    rows = np.column_stack([rec.t_s, rec.acc_mps2, rec.gyr_rads])
    header = "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads,gyr_y_rads,gyr_z_rads"
    with path.open("w") as f:
        f.write(f"# placement: {rec.placement}\n# sampling_rate_hz: {rec.sampling_rate_hz:g}\n{header}\n")
        np.savetxt(f, rows, delimiter=",", fmt="%.9g")
    return path


def write_emg(path: Path, t: np.ndarray, columns: dict[str, np.ndarray], fs: float) -> Path:
    with path.open("w") as f:
        f.write(f"# sampling_rate_hz: {fs:g}\nt_s,{','.join(columns)}\n")
        np.savetxt(f, np.column_stack([t, *columns.values()]), delimiter=",", fmt="%.9g")
    return path


def synthetic_session(tmp: Path, rng: np.random.Generator, *, obliquity_deg: float = 0.0) -> tuple[Path, Path, dict]:
    """An IMU (100 Hz) and a two-channel EMG (1 kHz) of the same 18 s, on one clock, as files."""
    t = np.arange(0.0, 18.0, 0.01)
    imu = pelvis_imu(tilt_reps(t, obliquity_deg=obliquity_deg), axes=MOBILISED_LOWER_BACK, rng=rng)
    fs = 1000.0
    te = np.arange(0.0, 18.0, 1.0 / fs)
    abdominal = [(m - ABDOMINALS_LEAD_S, m + 2.0, 0.08) for m in MOVEMENT_STARTS_S]
    back = [(m + 0.15, m + 0.6, 0.05) for m in MOVEMENT_STARTS_S]
    columns = {
        "lower_abdominal_left_mV": emg_bursts(te, abdominal, sampling_rate_hz=fs, rng=rng),
        "gluteus_medius_left_mV": emg_bursts(te, back, sampling_rate_hz=fs, rng=rng),
    }
    truth = {"abdominal_onsets_s": [a for a, _, _ in abdominal], "gmed_onsets_s": [a for a, _, _ in back]}
    return write_imu(tmp / "sacrum.csv", imu), write_emg(tmp / "emg.csv", te, columns, fs), truth


def imu_start(rec: ImuRecording, name: str = "sacrum", **extra) -> dict:
    return {
        "type": "sensor_start",
        "sensor": name,
        "kind": "imu",
        "sampling_rate_hz": rec.sampling_rate_hz,
        "placement": rec.placement,
        "axes": "mobilised",
        **extra,
    }


def emg_start(rec: EmgRecording, name: str = "emg", **extra) -> dict:
    return {
        "type": "sensor_start",
        "sensor": name,
        "kind": "emg",
        "sampling_rate_hz": rec.sampling_rate_hz,
        "channels": [{"name": c.name, "site": c.site, "side": c.side} for c in rec.channels],
        **extra,
    }


def blocks(
    imu: ImuRecording | None = None,
    emg: EmgRecording | None = None,
    *,
    block_s: float = 0.05,
    binary: bool = False,
    imu_name: str = "sacrum",
    emg_name: str = "emg",
) -> list[dict | bytes]:
    """The recordings' sample blocks in time order, as messages (JSON dicts or binary)."""
    out: list[tuple[float, int, dict | bytes]] = []
    for order, (kind, name, rec) in enumerate((("imu", imu_name, imu), ("emg", emg_name, emg))):
        if rec is None:
            continue
        values = np.column_stack([rec.acc_mps2, rec.gyr_rads]) if kind == "imu" else rec.emg_mv  # type: ignore[union-attr]
        n = max(1, round(block_s * rec.sampling_rate_hz))
        for a in range(0, len(rec.t_s), n):
            t0 = float(rec.t_s[a])
            if binary:
                msg: dict | bytes = encode_sensor_block(kind, name, t0, values[a : a + n])
            else:
                msg = {"type": kind, "sensor": name, "t0_s": t0, "samples": values[a : a + n].tolist()}
            out.append((t0, order, msg))
    out.sort(key=lambda x: (x[0], x[1]))
    return [m for _, _, m in out]
