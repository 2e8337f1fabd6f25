"""Wearable sensors on a live connection: their messages, clocks, causal analysis and cues.

A client declares each sensor once (``sensor_start``), then streams sample blocks on the
sensor's own clock, as JSON or as a compact binary message (docs/sdk.md, "Sensors"). Every
number comes from the causal forms of the offline code in :mod:`kinematics.streaming`, with the
offline parameters: pelvic tilt and obliquity (:class:`~kinematics.streaming.CausalPelvis`),
movement onsets from the tilt (:class:`~kinematics.streaming.CausalMovement`), EMG onsets
(:class:`~kinematics.streaming.CausalEmg`) and the muscle-minus-movement timing per repetition
(:class:`~kinematics.streaming.MuscleTiming`). An IMU's clock is put on the video's by the
offline estimator (:class:`~kinematics.fusion.ClockSync`, pelvic obliquity against the
camera's) or by a manual offset; an EMG shares an IMU's clock or has its own offset.
"""

from __future__ import annotations

import math
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kinematics.errors import InputError, MotionscriptError
from kinematics.fusion import (
    SITES,
    ClockOffset,
    ClockSync,
    EmgAnalysis,
    EmgChannel,
    EmgFilter,
    SynchronisationError,
    ThresholdOnsetDetector,
)
from kinematics.series import Series
from kinematics.streaming import CausalEmg, CausalMovement, CausalPelvis, EmgStream, MovementStream, PelvisStream
from kinematics.streaming.timing import MuscleTiming, TimingRow

__all__ = [
    "HOLD_DISPLACEMENT_DEG",
    "MAX_SENSOR_LAG_S",
    "SENSOR_MAGIC",
    "SensorHub",
    "encode_sensor_block",
    "is_sensor_binary",
]

SENSOR_MAGIC = b"MSS1"  # no image format starts so (JPEG FF D8, PNG 89 50, WebP RIFF, BMP BM)
_KINDS = {1: "imu", 2: "emg"}
_HEADER = struct.Struct("<4sBB")  # magic, kind, length of the sensor's name
_TIMING = struct.Struct("<dIH")  # t0_s, samples, columns
MAX_SENSOR_LAG_S = 1.0  # a sensor block waiting longer than this stops its sensor (never a growing lag)
MAX_SENSORS = 4
MAX_BLOCK_SAMPLES = 10_000
OBLIQUITY_CUE_DEG = 5.0  # as the camera's cue (service.live)
HOLD_DISPLACEMENT_DEG = 3.0  # an IMU hold: the pelvis this far from the stand, continuously
_OBLIQUITY_EXERCISES = ("single_leg_stance", "standing_hip_abduction")
_HOLDING = ("bridge", "single_leg_stance", "standing_hip_abduction", "standing_hip_flexion")
_PLAIN = {
    "lower_abdominal": "abdominals",
    "transversus_abdominis": "deep abdominals",
    "rectus_abdominis": "abdominals",
    "external_oblique": "obliques",
    "lumbar_multifidus": "multifidus",
    "erector_spinae": "back muscles",
}
TRUNK_SITES = tuple(_PLAIN)
_ACC = {"mps2": 1.0, "g": 9.80665}
_GYR = {"rads": 1.0, "dps": math.pi / 180.0}


def is_sensor_binary(data: bytes) -> bool:
    return data[:4] == SENSOR_MAGIC


def encode_sensor_block(kind: str, sensor: str, t0_s: float, values: np.ndarray) -> bytes:
    """The binary form: ``MSS1``, kind (1 IMU, 2 EMG), name length and UTF-8 name, then
    ``t0_s`` (float64), samples (uint32), columns (uint16) and the samples row by row
    (float32), all little-endian. IMU columns: acc x y z, gyr x y z in the declared units."""
    name = sensor.encode()
    values = np.ascontiguousarray(values, dtype="<f4")
    code = {v: k for k, v in _KINDS.items()}[kind]
    return (
        _HEADER.pack(SENSOR_MAGIC, code, len(name))
        + name
        + _TIMING.pack(float(t0_s), values.shape[0], values.shape[1])
        + values.tobytes()
    )


def decode_sensor_block(data: bytes) -> tuple[str, str, float, np.ndarray]:
    """``(kind, sensor, t0_s, values (m, c))`` from the binary form."""
    if len(data) < _HEADER.size:
        raise InputError("sensor block: shorter than its header")
    magic, code, n = _HEADER.unpack_from(data)
    if magic != SENSOR_MAGIC or code not in _KINDS:
        raise InputError(f"sensor block: kind {code} is not 1 (IMU) or 2 (EMG)")
    start = _HEADER.size + n
    if len(data) < start + _TIMING.size:
        raise InputError("sensor block: shorter than its header")
    sensor = data[_HEADER.size : start].decode(errors="replace")
    t0, m, c = _TIMING.unpack_from(data, start)
    body = data[start + _TIMING.size :]
    if len(body) != 4 * m * c:
        raise InputError(f"sensor block: {m} x {c} float32 samples need {4 * m * c} bytes, got {len(body)}")
    return _KINDS[code], sensor, float(t0), np.frombuffer(body, dtype="<f4").reshape(m, c).astype(float)


def _seconds(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected a number of seconds, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{what}: expected a finite number, got {value!r}")
    return v


def _window(value: Any, what: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InputError(f"{what}: expected [start_s, end_s], got {value!r}")
    a, b = _seconds(value[0], what), _seconds(value[1], what)
    if not a < b:
        raise InputError(f"{what}: start must be before end, got {value!r}")
    return a, b


def _channel(spec: Any) -> EmgChannel:
    """``"lower_abdominal_left"`` or ``{"name", "site", "side"}``."""
    if isinstance(spec, str):
        name, site, side = spec, spec, None
        for s in ("left", "right"):
            if spec.endswith("_" + s):
                site, side = spec[: -len(s) - 1], s
    elif isinstance(spec, dict):
        name, site, side = str(spec.get("name", "")), str(spec.get("site", "")), spec.get("side")
    else:
        raise InputError(f"EMG channel: expected a name or {{name, site, side}}, got {spec!r}")
    if site not in SITES:
        raise InputError(f"EMG channel {name!r}: unknown site {site!r}; accepted: {', '.join(SITES)}")
    if side not in (None, "left", "right"):
        raise InputError(f"EMG channel {name!r}: side must be 'left' or 'right', got {side!r}")
    return EmgChannel(name=name, site=site, side=side)


@dataclass
class _Imu:
    name: str
    fs: float
    acc_scale: float
    gyr_scale: float
    pelvis: PelvisStream
    movement: MovementStream | None = None
    offset: ClockOffset | None = None
    last_t: float = -math.inf
    latest: dict[str, float | None] = field(default_factory=dict)
    history: deque = field(default_factory=lambda: deque(maxlen=6000))  # (t, obliquity) for sync
    hold_since: float | None = None
    stopped: str | None = None
    tried_at: float = -math.inf  # sensor time of the last clock estimate
    placement: str = "lower_back"
    axes_text: str = ""
    samples: list = field(default_factory=list)  # (t, (m, 6) SI) blocks, when recording


@dataclass
class _Emg:
    name: str
    fs: float
    stream: EmgStream
    clock: str | None  # the IMU whose clock it shares
    offset_s: float | None  # t_video = t_emg + offset_s
    timing: MuscleTiming | None
    last_t: float = -math.inf
    analysed_s: float = -math.inf
    stopped: str | None = None
    samples: list = field(default_factory=list)  # (t, (m, k) mV) blocks, when recording


class SensorHub:
    """The sensors of one live connection.

    ``exercise`` selects the cues (obliquity in single-leg stance and hip abduction, holds in
    the holding exercises); the timing cue needs an EMG with a trunk channel and an IMU.
    """

    def __init__(self, exercise: str | None, *, recording: bool = False) -> None:
        self.exercise = exercise
        self.recording = recording  # keep every sample (service.live_record)
        self.latencies: dict[str, dict] = {}  # each sensor's stated latency, s
        self.imus: dict[str, _Imu] = {}
        self.emgs: dict[str, _Emg] = {}
        self.timing: list[TimingRow] = []  # every settled row (the recorder keeps them)
        self.cues_given: list[dict] = []  # each change of a sensor's cues: {t_s, sensor, cues}
        self._last_cues: dict[str, list[str]] = {}
        self._video: deque = deque(maxlen=3600)  # (t_s, obliquity) the camera published
        self._video_now: float | None = None

    # -- declarations ---------------------------------------------------------------------------------

    def start(self, msg: dict) -> dict:
        name = str(msg.get("sensor") or "")
        if not name or len(name) > 64:
            raise InputError("sensor_start: 'sensor' must name the sensor (1-64 characters)")
        if name not in self.imus and name not in self.emgs and len(self.imus) + len(self.emgs) >= MAX_SENSORS:
            raise InputError(f"sensor_start: at most {MAX_SENSORS} sensors per connection")
        self.imus.pop(name, None)
        self.emgs.pop(name, None)
        kind = msg.get("kind")
        fs = _seconds(msg.get("sampling_rate_hz"), "sampling_rate_hz")
        if not 10.0 <= fs <= 10_000.0:
            raise InputError(f"sampling_rate_hz must be 10-10000, got {fs:g}")
        if kind == "imu":
            return self._start_imu(name, fs, msg)
        if kind == "emg":
            return self._start_emg(name, fs, msg)
        raise InputError(f"sensor_start: kind must be 'imu' or 'emg', got {kind!r}")

    def _start_imu(self, name: str, fs: float, msg: dict) -> dict:
        from service.wearables import parse_axes  # the offline path's axis names

        try:
            axes = parse_axes(str(msg.get("axes") or ""))
        except (ValueError, MotionscriptError) as exc:
            raise InputError(f"sensor_start {name}: {exc}") from None
        acc_unit, gyr_unit = msg.get("acc_unit", "mps2"), msg.get("gyr_unit", "rads")
        if acc_unit not in _ACC or gyr_unit not in _GYR:
            raise InputError(f"sensor_start {name}: acc_unit is mps2 or g, gyr_unit rads or dps")
        config = CausalPelvis(
            axes=axes,
            calibration_window_s=_window(msg.get("calibration_window_s"), "calibration_window_s"),
            posture_tilt_deg=_seconds(msg.get("posture_tilt_deg", 0.0), "posture_tilt_deg"),
            posture_obliquity_deg=_seconds(msg.get("posture_obliquity_deg", 0.0), "posture_obliquity_deg"),
        )
        placement = str(msg.get("placement", "lower_back"))
        imu = _Imu(name, fs, _ACC[acc_unit], _GYR[gyr_unit], config.start(fs, placement=placement))
        imu.placement, imu.axes_text = placement, str(msg.get("axes"))
        if msg.get("offset_s") is not None:
            imu.offset = ClockOffset.manual(_seconds(msg["offset_s"], "offset_s"))
        self.imus[name] = imu
        latency = {"pelvis": 0.0, "movement_onset": round(CausalMovement().start(fs).decision_latency_s, 3)}
        self.latencies[name] = latency
        return {
            "type": "sensor_ready",
            "sensor": name,
            "kind": "imu",
            "latency_s": latency,
            "stand": "stand still for a second: angles start once the sensor has been still",
        }

    def _start_emg(self, name: str, fs: float, msg: dict) -> dict:
        raw = msg.get("channels")
        if not isinstance(raw, list) or not 1 <= len(raw) <= 16:
            raise InputError(f"sensor_start {name}: 'channels' must list 1-16 channels")
        channels = tuple(_channel(c) for c in raw)
        if len({c.name for c in channels}) != len(channels):
            raise InputError(f"sensor_start {name}: channel names must be different")
        clock = msg.get("clock")
        offset = None if msg.get("offset_s") is None else _seconds(msg["offset_s"], "offset_s")
        if clock is not None and clock not in self.imus:
            raise InputError(f"sensor_start {name}: clock {clock!r} is not a started IMU ({', '.join(self.imus)})")
        mains = msg.get("mains_hz", 50.0)
        analysis = EmgAnalysis(
            filter=EmgFilter(mains_hz=None if mains is None else _seconds(mains, "mains_hz")),
            detector=ThresholdOnsetDetector(baseline_s=_window(msg.get("baseline_s"), "baseline_s")),
            hardware_delay_s=None
            if msg.get("hardware_delay_s") is None
            else _seconds(msg["hardware_delay_s"], "hardware_delay_s"),
        )
        stream = CausalEmg(analysis=analysis).start(channels, fs)
        trunk = tuple(c for c in channels if c.site in TRUNK_SITES)
        det = analysis.detector
        timing = MuscleTiming(trunk, analysis.timing_window_s, max(det.window_s, det.min_burst_s)) if trunk else None
        self.emgs[name] = _Emg(name, fs, stream, clock, offset, timing)
        self.latencies[name] = {
            "onset_envelope": round(stream.onset_delay_s, 3),
            "onset_reported": round(stream.decision_latency_s, 3),
            "amplitude_envelope": round(stream.envelope_delay_s, 3),
        }
        return {
            "type": "sensor_ready",
            "sensor": name,
            "kind": "emg",
            "channels": [{"name": c.name, "site": c.site, "side": c.side, "label": c.label} for c in channels],
            "latency_s": self.latencies[name],
            "timing_channels": [c.name for c in trunk],
            "hardware_delay_assumed": analysis.hardware_delay_s is None,
        }

    def sync(self, msg: dict) -> dict:
        """A manual offset: ``{"type": "sync", "sensor", "offset_s"}`` (``t_video = t_sensor + offset_s``)."""
        name = str(msg.get("sensor") or "")
        offset = _seconds(msg.get("offset_s"), "offset_s")
        if name in self.imus:
            self.imus[name].offset = ClockOffset.manual(offset)
        elif name in self.emgs:
            self.emgs[name].offset_s = offset
        else:
            raise InputError(f"sync: no sensor {name!r} was started")
        return {"type": "sync", "sensor": name, "offset_s": offset, "method": "manual"}

    def video_obliquity(self, t_s: np.ndarray, obliquity_deg: np.ndarray) -> None:
        """The camera's published pelvic obliquity (video clock), for the clock estimate."""
        for t, v in zip(np.asarray(t_s).tolist(), np.asarray(obliquity_deg).tolist(), strict=True):
            self._video.append((t, v))
        if len(t_s):
            self._video_now = float(t_s[-1])

    # -- messages -----------------------------------------------------------------------------------------

    def message(self, msg: dict) -> dict:
        """A text message: ``sensor_start``, ``sync``, or a block ``{"type": "imu"|"emg", "sensor",
        "t0_s" or "t_s", "samples"}``."""
        kind = msg.get("type")
        if kind == "sensor_start":
            return self.start(msg)
        if kind == "sync":
            return self.sync(msg)
        if kind in ("imu", "emg"):
            name = str(msg.get("sensor") or "")
            fs = self._rate(kind, name)
            try:
                values = np.asarray(msg.get("samples"), dtype=float)
            except (TypeError, ValueError):
                raise InputError(f"{kind} block: 'samples' must be rows of numbers") from None
            if values.ndim != 2 or values.shape[0] > MAX_BLOCK_SAMPLES:
                raise InputError(f"{kind} block: 'samples' must be 1-{MAX_BLOCK_SAMPLES} rows of numbers")
            if msg.get("t_s") is not None:
                try:
                    t = np.asarray(msg["t_s"], dtype=float).reshape(-1)
                except (TypeError, ValueError):
                    raise InputError(f"{kind} block: 't_s' must be a list of seconds") from None
            else:
                t = _seconds(msg.get("t0_s"), f"{kind} block t0_s") + np.arange(values.shape[0]) / fs
            if not np.all(np.isfinite(values)) or not np.all(np.isfinite(t)):
                raise InputError(f"{kind} block: samples and times must be finite numbers")
            return self.block(kind, name, t, values)
        raise InputError(f"unknown sensor message type {kind!r}")

    def binary(self, data: bytes) -> dict:
        """A block in the binary form (:func:`encode_sensor_block`); times from ``t0_s`` and the rate."""
        kind, name, t0, values = decode_sensor_block(data)
        if values.shape[0] > MAX_BLOCK_SAMPLES:
            raise InputError(f"{kind} block: more than {MAX_BLOCK_SAMPLES} samples")
        if not np.all(np.isfinite(values)) or not math.isfinite(t0):
            raise InputError(f"{kind} block: samples and times must be finite numbers")
        fs = self._rate(kind, name)
        return self.block(kind, name, t0 + np.arange(values.shape[0]) / fs, values)

    def _rate(self, kind: str, name: str) -> float:
        group: dict = self.imus if kind == "imu" else self.emgs
        if name not in group:
            raise InputError(f"{kind} block for {name!r}, which was not started (send sensor_start first)")
        return float(group[name].fs)

    # -- samples ------------------------------------------------------------------------------------------

    def block(self, kind: str, name: str, t_s: np.ndarray, values: np.ndarray) -> dict:
        """One block of samples; the answer carries what it produced."""
        started = time.perf_counter()
        if kind == "imu":
            out = self._imu_block(name, t_s, values)
        elif kind == "emg":
            out = self._emg_block(name, t_s, values)
        else:
            raise InputError(f"sensor block: kind must be imu or emg, got {kind!r}")
        out["analysis_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return out

    def stop(self, name: str, why: str) -> None:
        for group in (self.imus, self.emgs):
            if name in group:
                group[name].stopped = why  # type: ignore[attr-defined]

    @staticmethod
    def _running(group: dict[str, Any], kind: str, name: str) -> Any:
        """The started, not stopped sensor ``name`` of ``group`` (``kind``: "IMU" or "EMG")."""
        sensor = group.get(name)
        if sensor is None:
            raise InputError(f"{kind} block for {name!r}, which was not started (send sensor_start first)")
        if sensor.stopped:
            raise InputError(f"{kind} {name!r} was stopped ({sensor.stopped}); send sensor_start to restart it")
        return sensor

    def _block_times(
        self, sensor: _Imu | _Emg, kind: str, t_s: np.ndarray, values: np.ndarray, width: int, layout: str
    ) -> np.ndarray:
        """A block's sample times, once its ``(m, width)`` samples and increasing times are checked."""
        if values.ndim != 2 or values.shape[1] != width:
            raise InputError(f"{kind} block: samples must be (m, {width}) {layout}; got {values.shape}")
        return self._times(sensor.last_t, t_s, values.shape[0])

    def _received(self, sensor: _Imu | _Emg, t: np.ndarray, samples: np.ndarray) -> None:
        """Keep a block for the recording (when recording) and advance the sensor's last time."""
        if self.recording:
            sensor.samples.append((t, samples))
        if t.size:
            sensor.last_t = float(t[-1])

    def _answer_head(self, name: str, kind: str, last_t: float, offset: float | None) -> dict:
        """What every sensor block's answer starts with: which sensor, and its newest time on which clock."""
        return {
            "type": "sensor",
            "sensor": name,
            "kind": kind,
            "t_s": self._clock(last_t, offset),
            "clock": "video" if offset is not None else f"sensor:{name}",
        }

    def _times(self, last: float, t_s: np.ndarray, m: int) -> np.ndarray:
        if t_s.shape[0] != m or (m and (np.any(np.diff(t_s) <= 0) or t_s[0] <= last)):
            raise InputError("sensor block: sample times must increase, within the block and after the last block")
        return t_s

    def _imu_block(self, name: str, t_s: np.ndarray, values: np.ndarray) -> dict:
        imu: _Imu = self._running(self.imus, "IMU", name)
        t = self._block_times(imu, "IMU", t_s, values, 6, "acc x y z, gyr x y z")
        acc, gyr = values[:, :3] * imu.acc_scale, values[:, 3:] * imu.gyr_scale
        block = imu.pelvis.push(t, acc, gyr)
        self._received(imu, t, np.hstack([acc, gyr]))
        ok = np.isfinite(block.obliquity_deg)
        movements: list[float] = []
        if ok.any():
            if imu.movement is None:
                imu.movement = CausalMovement().start(imu.fs)
            found = imu.movement.push(t[ok], block.tilt_deg[ok])
            movements = [e.t_s for e in found.onsets]
            for m in movements:
                for emg in self._emgs_on(imu):
                    if emg.timing is not None:
                        emg.timing.add_movement(m)
            imu.history.extend(zip(t[ok].tolist(), block.obliquity_deg[ok].tolist(), strict=True))
            obliquity, tilt = float(block.obliquity_deg[-1]), float(block.tilt_deg[-1])
            imu.latest = {"obliquity_deg": round(obliquity, 2), "tilt_deg": round(tilt, 2)}
            displaced = max(abs(obliquity), abs(tilt)) >= HOLD_DISPLACEMENT_DEG
            if not displaced:
                imu.hold_since = None
            elif imu.hold_since is None:
                imu.hold_since = float(t[ok][0])
        self._estimate_offset(imu)
        rows = self._settle()
        offset = imu.offset.offset_s if imu.offset is not None else None
        answer = {
            **self._answer_head(name, "imu", imu.last_t, offset),
            "calibrated": block.calibration is not None,
            **imu.latest,
            "hold_s": self.hold_s(imu),
            "movement_onsets_s": [self._clock(m, offset) for m in movements],
            "timing": [self._row(r) for r in rows],
            "sync": None if imu.offset is None else self._sync_out(imu.offset),
        }
        answer["cues"] = self._cues(name, answer["t_s"], imu.latest.get("obliquity_deg"), rows)
        return answer

    def _emg_block(self, name: str, t_s: np.ndarray, values: np.ndarray) -> dict:
        emg: _Emg = self._running(self.emgs, "EMG", name)
        t = self._block_times(emg, "EMG", t_s, values, len(emg.stream.channels), "mV, one column per channel")
        block = emg.stream.push(t, values)
        self._received(emg, t, values)
        if block.onset_t_s.size:
            emg.analysed_s = float(block.onset_t_s[-1])
        relative = self._emg_to_imu(emg)
        if emg.timing is not None and relative is not None:
            for e in block.onsets:
                emg.timing.add_muscle(e.name, e.t_s + relative)
            for e in block.offsets:
                emg.timing.add_burst_end(e.name, e.t_s + relative, float(e.end_s) + relative)  # type: ignore[arg-type]
        rows = self._settle()
        offset = self.emg_offset(emg)
        answer = {
            **self._answer_head(name, "emg", emg.last_t, offset),
            "envelope": {c.name: round(float(block.envelope[-1, j]), 4) for j, c in enumerate(emg.stream.channels)}
            if t.size
            else {},
            "onsets": [{"channel": e.name, "t_s": self._clock(e.t_s, offset)} for e in block.onsets],
            "timing": [self._row(r) for r in rows],
        }
        answer["cues"] = self._cues(name, answer["t_s"], None, rows)
        return answer

    # -- clocks -------------------------------------------------------------------------------------------

    def _emgs_on(self, imu: _Imu) -> list[_Emg]:
        """The EMGs whose onsets can be put on this IMU's clock now."""
        return [
            e
            for e in self.emgs.values()
            if e.clock == imu.name or (e.clock is None and len(self.imus) == 1 and self._emg_to_imu(e) is not None)
        ]

    def _emg_to_imu(self, emg: _Emg) -> float | None:
        """What to add to an EMG time to put it on its IMU's clock; None when unknown."""
        if emg.clock is not None:
            return 0.0
        imu = next(iter(self.imus.values()), None) if len(self.imus) == 1 else None
        if imu is None or imu.offset is None or emg.offset_s is None:
            return None
        return emg.offset_s - imu.offset.offset_s

    def emg_offset(self, emg: _Emg) -> float | None:
        """``t_video = t_emg + offset`` when known."""
        if emg.offset_s is not None:
            return emg.offset_s
        imu = self.imus.get(emg.clock or "")
        return imu.offset.offset_s if imu is not None and imu.offset is not None else None

    def _estimate_offset(self, imu: _Imu) -> None:
        """The offline estimator (pelvic obliquity, IMU against camera), retried every 5 s of
        new data until it is confident; a manual offset is never replaced."""
        if imu.offset is not None and (imu.offset.method == "manual" or imu.offset.confidence >= 0.3):
            return
        if len(imu.history) < 2 or len(self._video) < 2 or self._video_now is None:
            return
        t_last = imu.history[-1][0]
        if t_last - imu.tried_at < 5.0:
            return
        imu.tried_at = t_last
        ti, vi = np.array(imu.history).T
        tv, vv = np.array(self._video).T
        prior = self._video_now - t_last  # both "now" on their clocks, up to the transport's jitter
        try:
            offset = ClockSync().estimate(
                Series(ti, vi, "deg", np.ones(ti.shape[0])),
                Series(tv, vv, "deg", np.where(np.isfinite(vv), 1.0, 0.0)),
                prior_s=prior,
            )
        except (SynchronisationError, MotionscriptError, ValueError):
            return
        if offset.confidence >= 0.3:
            imu.offset = offset

    @staticmethod
    def _clock(t: float, offset: float | None) -> float | None:
        if not math.isfinite(t):
            return None
        return round(t + (offset or 0.0), 4)

    @staticmethod
    def _sync_out(offset: ClockOffset) -> dict:
        return {
            "offset_s": round(offset.offset_s, 4),
            "method": offset.method,
            "confidence": round(offset.confidence, 3),
        }

    # -- cues ---------------------------------------------------------------------------------------------

    def hold_s(self, imu: _Imu | None = None) -> float | None:
        """How long the pelvis has stayed displaced from the stand (IMU), None outside holding exercises."""
        imu = imu or next(iter(self.imus.values()), None)
        if imu is None or self.exercise not in _HOLDING or not imu.latest:
            return None
        return 0.0 if imu.hold_since is None else round(imu.last_t - imu.hold_since, 2)

    def _settle(self) -> list[TimingRow]:
        rows: list[TimingRow] = []
        for emg in self.emgs.values():
            relative = self._emg_to_imu(emg)
            if emg.timing is not None and relative is not None:
                rows += emg.timing.settle(emg.analysed_s + relative)
        self.timing += rows
        return rows

    def _on_video(self, sensor: str) -> bool:
        if sensor in self.imus:
            return self.imus[sensor].offset is not None
        return sensor in self.emgs and self.emg_offset(self.emgs[sensor]) is not None

    def timing_rows(self) -> list[dict]:
        """Every settled timing row, as answered."""
        return [self._row(r) for r in self.timing]

    def _row(self, row: TimingRow) -> dict:
        imu = next(iter(self.imus.values()), None)
        offset = imu.offset.offset_s if imu is not None and imu.offset is not None else None
        return {
            "clock": "video" if offset is not None else "sensor",
            "channel": row.channel,
            "label": row.label,
            "movement_onset_s": self._clock(row.movement_onset_s, offset),
            "muscle_onset_s": None if row.muscle_onset_s is None else self._clock(row.muscle_onset_s, offset),
            "delta_ms": row.delta_ms,
            "already_on": row.already_on,
        }

    def _cues(self, sensor: str, t_s: float | None, obliquity: float | None, rows: list[TimingRow]) -> list[str]:
        cues = []
        for row in rows:
            site = next((c.site for e in self.emgs.values() for c in e.stream.channels if c.name == row.channel), "")
            who = _PLAIN.get(site, row.label)
            if row.delta_ms is None:
                cues.append(
                    f"{who} {'already on when' if row.already_on else 'did not switch on as'} the movement started"
                )
            elif row.delta_ms <= 0:
                cues.append(f"{who} on {-row.delta_ms:.0f} ms before the movement")
            else:
                cues.append(f"{who} on {row.delta_ms:.0f} ms after the movement: switch them on first")
        if self.exercise in _OBLIQUITY_EXERCISES and obliquity is not None and abs(obliquity) > OBLIQUITY_CUE_DEG:
            cues.append(
                f"keep your {'right' if obliquity > 0 else 'left'} hip level with the other"
            )  # > 0: left higher
        if cues != self._last_cues.get(sensor, []):  # what the patient was told: each change once
            clock = "video" if self._on_video(sensor) else f"sensor:{sensor}"
            self.cues_given.append({"t_s": t_s, "clock": clock, "source": sensor, "cues": cues})
            self._last_cues[sensor] = cues
        return cues
