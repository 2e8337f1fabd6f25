"""``/v1/live``: a WebSocket for live feedback while the patient exercises.

Protocol (docs/sdk.md): after ``{"type": "ready", ...}`` from the server, the
client sends each JPEG as a binary message, optionally preceded by a text
message ``{"t_s": <capture time in seconds>}``. The server answers each frame
it processes with ``{"type": "frame", ...}``: landmarks, raw and One-Euro
smoothed angles, the repetition count, the hold timer and short cues. Frames
are analysed one at a time per connection; when the client sends faster than
that, only the newest waiting frame is kept and the next answer counts the
others in ``dropped`` (no queue builds up, so feedback never lags behind).

Auth: ``Authorization: Bearer <key>`` or ``?token=<key>`` (browsers cannot set
headers on a WebSocket). A refused key or role, or an unknown exercise, closes
the socket with 1008 (policy violation) and the reason.

Any frame that cannot be analysed (not an image, empty, damaged, or a fault in
the analysis) is answered with ``{"type": "error", ...}`` and the session goes
on. Close reasons are cut to the 123 bytes a close frame may carry (RFC 6455
5.5). Connections are capped per clinic (``live_max_connections_per_clinic``)
as well as in total (``live_max_connections``), and a connection that sends
nothing for ``live_idle_timeout_s`` is closed with 4408, so idle sockets of one
clinic cannot lock the others out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from kinematics.errors import InputError, MotionscriptError
from service.analysis import EXERCISES
from service.auth import Principal, authenticate, permits
from service.schemas import FrameResult

__all__ = [
    "CLOSE_IDLE",
    "CLOSE_POLICY",
    "CLOSE_TRY_AGAIN",
    "LiveSession",
    "OneEuroFilter",
    "RepCounter",
    "close_reason",
    "router",
]

router = APIRouter(tags=["live"])
log = logging.getLogger("motionscript.api")

CLOSE_POLICY = 1008  # RFC 6455 "policy violation"
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later"
CLOSE_IDLE = 4408  # application range (4000-4999): closed for sending nothing, after HTTP 408
MAX_FRAME_BYTES = 5 * 1024 * 1024
MAX_CLOSE_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of them the code


def close_reason(text: str) -> str:
    """``text`` cut to at most 123 UTF-8 bytes, never inside a character; an ellipsis marks a cut."""
    raw = text.encode()
    if len(raw) <= MAX_CLOSE_REASON_BYTES:
        return text
    cut = raw[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore")  # "…" is 3 bytes in UTF-8
    return cut + "\u2026"


# -- One Euro filter -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OneEuroFilter:
    """Speed-adaptive low-pass for live display: steady when still, little lag when moving.

    Parameters
    ----------
    min_cutoff_hz
        Cutoff at rest; lower removes more jitter.
    beta
        Cutoff increase per unit/s of speed (here deg/s); higher follows fast moves with less lag.
    d_cutoff_hz
        Cutoff of the low-pass on the speed estimate.

    Notes
    -----
    Casiez G, Roussel N, Vogel D. 1 Euro filter: a simple speed-based low-pass
    filter for noisy input in interactive systems. CHI 2012, 2527-2530,
    doi:10.1145/2207676.2208639. ``alpha = 1 / (1 + tau / dt)`` with
    ``tau = 1 / (2 pi fc)`` and ``fc = min_cutoff_hz + beta * |dx/dt|``; with
    ``beta = 0`` it is a first-order exponential low-pass. Timestamps are the
    frames' own, so a dropped frame is a longer ``dt``, not a wrong one.
    Causal by design (live display); the assessments use zero-phase filters.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.02
    d_cutoff_hz: float = 1.0

    @staticmethod
    def _alpha(cutoff_hz: float, dt_s: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff_hz)
        return 1.0 / (1.0 + tau / dt_s)

    def step(
        self, state: tuple[float, float, float] | None, t_s: float, x: float
    ) -> tuple[float, tuple[float, float, float]]:
        """One sample; ``state`` is ``(t_s, x_hat, dx_hat)`` from the previous step (None at the start).

        Returns the filtered value and the new state. A non-increasing ``t_s`` leaves the state as it was.
        """
        if state is None:
            return x, (t_s, x, 0.0)
        t0, x0, dx0 = state
        dt = t_s - t0
        if dt <= 0:
            return x0, state
        dx = (x - x0) / dt
        dx_hat = dx0 + self._alpha(self.d_cutoff_hz, dt) * (dx - dx0)
        cutoff = self.min_cutoff_hz + self.beta * abs(dx_hat)
        x_hat = x0 + self._alpha(cutoff, dt) * (x - x0)
        return x_hat, (t_s, x_hat, dx_hat)


# -- incremental repetitions and holds -----------------------------------------------------------


@dataclass(kw_only=True)
class RepCounter:
    """Repetitions counted sample by sample, as excursions above a running rest level.

    The offline :class:`kinematics.protocols.events.RepetitionDetector` sets
    its thresholds from the whole recording's percentiles; live, only the past
    is known, so rest is the lowest value of the last ``rest_window_s`` outside
    repetitions. A repetition starts above ``rest + enter * min_amplitude``,
    ends below ``rest + leave * min_amplitude``, and counts if it reached
    ``min_amplitude`` and lasted ``min_duration_s``. The hold timer is how long
    the value has stayed within ``hold_tolerance`` of one level inside a repetition.
    """

    min_amplitude: float
    min_duration_s: float = 0.4
    enter: float = 0.5
    leave: float = 0.25
    rest_window_s: float = 10.0
    hold_tolerance: float = 3.0
    count: int = 0
    in_rep: bool = False
    hold_s: float = 0.0
    _rest: deque = field(default_factory=deque, repr=False)
    _start_s: float = 0.0
    _peak: float = -math.inf
    _hold: tuple[float, float] | None = None  # (start t_s, level)

    def rest(self) -> float | None:
        return min(v for _, v in self._rest) if self._rest else None

    def update(self, t_s: float, value: float | None) -> None:
        if value is None or math.isnan(value):
            return  # a missing sample neither starts nor ends a repetition
        rest = self.rest()
        if not self.in_rep:
            self._rest.append((t_s, value))
            while self._rest and self._rest[0][0] < t_s - self.rest_window_s:
                self._rest.popleft()
            rest = self.rest()
            if rest is not None and value > rest + self.enter * self.min_amplitude:
                self.in_rep, self._start_s, self._peak, self._hold = True, t_s, value, None
        elif rest is not None and value < rest + self.leave * self.min_amplitude:
            if self._peak - rest >= self.min_amplitude and t_s - self._start_s >= self.min_duration_s:
                self.count += 1
            self.in_rep, self._hold, self.hold_s = False, None, 0.0
            self._rest.clear()
            self._rest.append((t_s, value))
            return
        if self.in_rep:
            self._peak = max(self._peak, value)
            if self._hold is None or abs(value - self._hold[1]) > self.hold_tolerance:
                self._hold = (t_s, value)
            self.hold_s = t_s - self._hold[0]


# Per exercise: the series whose excursions are repetitions, how it is formed from the frame's
# angles, and the smallest excursion (deg) the offline protocols count (kinematics/protocols/*.py).
_REPS: dict[str, tuple[str, float]] = {
    "squat": ("mean_hip_flexion", 20.0),
    "sit_to_stand": ("mean_hip_flexion", 30.0),
    "standing_hip_flexion": ("max_hip_flexion", 15.0),
    "standing_hip_abduction": ("max_hip_abduction", 10.0),
}
_PLANE = {
    "squat": "sagittal",
    "sit_to_stand": "sagittal",
    "standing_hip_flexion": "sagittal",
    "bridge": "sagittal",
    "standing_hip_abduction": "frontal",
    "single_leg_stance": "frontal",
}
_L_HIP, _R_HIP, _L_ANKLE, _R_ANKLE = 23, 24, 27, 28  # BlazePose 33
OBLIQUITY_CUE_DEG = 5.0
LEAN_CUE_DEG = 10.0


def _rep_value(kind: str, a: dict[str, float | None]) -> float | None:
    side, name = kind.split("_", 1)
    values = [v for v in (a.get(f"{name}_left_deg"), a.get(f"{name}_right_deg")) if v is not None]
    if not values:
        return None
    return sum(values) / len(values) if side == "mean" else max(values)


def _foot_lift(landmarks: list[list[float]] | None, size_wh: tuple[int, int]) -> float | None:
    """Ankle height difference in leg lengths (> 0: left foot higher), from image landmarks."""
    if not landmarks or len(landmarks) < 33:
        return None
    w, h = size_wh
    pts = {i: (landmarks[i][0] * w, landmarks[i][1] * h, landmarks[i][3]) for i in (_L_HIP, _R_HIP, _L_ANKLE, _R_ANKLE)}
    if min(p[2] for p in pts.values()) < 0.5:
        return None
    leg = (math.dist(pts[_L_HIP][:2], pts[_L_ANKLE][:2]) + math.dist(pts[_R_HIP][:2], pts[_R_ANKLE][:2])) / 2
    return (pts[_R_ANKLE][1] - pts[_L_ANKLE][1]) / leg if leg > 0 else None


class LiveSession:
    """The state of one live connection: smoothing filters, the repetition count, the hold timer."""

    def __init__(self, exercise: str | None, smoothing: OneEuroFilter = OneEuroFilter()) -> None:
        self.exercise, self.smoothing = exercise, smoothing
        self._filters: dict[str, tuple[float, float, float]] = {}
        rep = _REPS.get(exercise or "")
        self.rep_series = rep[0] if rep else None
        self.reps = RepCounter(min_amplitude=rep[1]) if rep else None
        self._stance: tuple[float, int] | None = None  # (start t_s, +1 left foot up / -1 right foot up)

    def _smooth(self, t_s: float, angles: dict[str, float | None]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, v in angles.items():
            if v is None:
                out[name] = None  # not measured now; the filter resumes from its last state
                continue
            y, self._filters[name] = self.smoothing.step(self._filters.get(name), t_s, v)
            out[name] = round(y, 2)
        return out

    def _stance_hold(self, t_s: float, frame: FrameResult) -> float:
        lift = _foot_lift(frame.landmarks, frame.image_size)
        if lift is None:
            return 0.0 if self._stance is None else t_s - self._stance[0]
        if self._stance is None and abs(lift) > 0.10:  # StanceDetector's lift_on / lift_off
            self._stance = (t_s, 1 if lift > 0 else -1)
        elif self._stance is not None and self._stance[1] * lift < 0.05:
            self._stance = None
        return 0.0 if self._stance is None else t_s - self._stance[0]

    def _cues(self, frame: FrameResult, smoothed: dict[str, float | None]) -> list[str]:
        if not frame.person_found:
            return ["step into the camera's view, whole body visible"]
        cues = []
        plane, view = _PLANE.get(self.exercise or ""), frame.view.view
        if plane == "sagittal" and view == "frontal":
            cues.append("turn side-on to the camera")
        elif plane == "frontal" and view == "sagittal":
            cues.append("face the camera")
        obliquity = smoothed.get("pelvic_obliquity_deg")
        if obliquity is not None and abs(obliquity) > OBLIQUITY_CUE_DEG:  # > 0: the LEFT hip is higher
            cues.append(f"keep your {'right' if obliquity > 0 else 'left'} hip level with the other")
        lean = smoothed.get("trunk_lean_lateral_deg")
        if lean is not None and abs(lean) > LEAN_CUE_DEG:
            cues.append("keep your trunk upright")
        return cues

    def update(self, t_s: float, frame: FrameResult) -> dict:
        smoothed = self._smooth(t_s, frame.angles)
        out: dict = {"reps": None, "in_rep": None, "hold_s": None}
        if self.reps is not None and self.rep_series is not None:
            self.reps.update(t_s, _rep_value(self.rep_series, smoothed))
            out.update(reps=self.reps.count, in_rep=self.reps.in_rep, hold_s=round(self.reps.hold_s, 2))
        elif self.exercise == "single_leg_stance":
            out["hold_s"] = round(self._stance_hold(t_s, frame), 2)
        return {
            "t_s": t_s,
            "person_found": frame.person_found,
            "view": frame.view.view,
            "landmarks": frame.landmarks,
            "angles": frame.angles,
            "smoothed": smoothed,
            "rep_series": self.rep_series,
            **out,
            "cues": self._cues(frame, smoothed),
        }


# -- the WebSocket -------------------------------------------------------------------------------


class _Newest:
    """A one-slot mailbox: ``put`` replaces a frame still waiting and counts it as dropped."""

    def __init__(self) -> None:
        self._item: tuple[float, bytes, float] | None = None
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: tuple[float, bytes, float]) -> None:
        if self._item is not None:
            self.dropped += 1
        self._item = item
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> tuple[tuple[float, bytes, float] | None, int]:
        while self._item is None and not self.closed:
            await self._ready.wait()
            self._ready.clear()
        item, dropped = self._item, self.dropped
        self._item, self.dropped = None, 0
        return item, dropped


def _check_key(session_factory, key: str) -> Principal | None:
    with session_factory() as session:
        return authenticate(session, key)


async def _principal(websocket: WebSocket, token: str | None) -> tuple[Principal | None, str]:
    scheme, _, key = websocket.headers.get("authorization", "").partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    key = key or (token or "").strip()
    if not key:
        return None, "send an API key as 'Authorization: Bearer <key>' or ?token=<key>"
    principal = await run_in_threadpool(_check_key, websocket.app.state.session_factory, key)
    if principal is None:
        return None, "the API key is not valid or has been revoked"
    if not permits(principal.role, "frames:analyze"):
        return None, f"the {principal.role!r} role may not do frames:analyze"
    return principal, ""


@router.websocket("/v1/live", name="live")
async def live(websocket: WebSocket, exercise: str | None = None, token: str | None = None) -> None:
    await websocket.accept()  # accepted first so that a browser sees the close code and reason
    principal, why = await _principal(websocket, token)
    if principal is None:
        await websocket.close(CLOSE_POLICY, close_reason(why))
        return
    if exercise is not None and exercise not in EXERCISES:
        await websocket.close(
            CLOSE_POLICY, close_reason(f"exercise: unknown exercise {exercise!r}; accepted: {', '.join(EXERCISES)}")
        )
        return
    state = websocket.app.state
    settings = state.settings
    clinic = principal.clinic_id
    per_clinic: dict[str, int] = state.live_connections
    if per_clinic.get(clinic, 0) >= settings.live_max_connections_per_clinic:
        limit = settings.live_max_connections_per_clinic
        await websocket.close(
            CLOSE_TRY_AGAIN, close_reason(f"this clinic already has {limit} live connections; try again shortly")
        )
        return
    if sum(per_clinic.values()) >= settings.live_max_connections:
        limit = settings.live_max_connections
        await websocket.close(
            CLOSE_TRY_AGAIN, close_reason(f"the server already has {limit} live connections; try again shortly")
        )
        return
    per_clinic[clinic] = per_clinic.get(clinic, 0) + 1
    try:
        analyzer = await run_in_threadpool(state.live_analyzer)  # this connection's own tracking model
        try:
            await _serve(websocket, analyzer, LiveSession(exercise), settings.live_idle_timeout_s)
        finally:
            await run_in_threadpool(analyzer.close)
    finally:
        per_clinic[clinic] -= 1
        if not per_clinic[clinic]:
            del per_clinic[clinic]


async def _serve(websocket: WebSocket, analyzer, session: LiveSession, idle_timeout_s: float) -> None:
    slot = _Newest()
    await websocket.send_json(
        {
            "type": "ready",
            "exercise": session.exercise,
            "rep_series": session.rep_series,
            "max_frame_bytes": MAX_FRAME_BYTES,
        }
    )
    worker = asyncio.create_task(_process(websocket, analyzer, session, slot))
    try:
        await _receive(websocket, slot, idle_timeout_s)
    finally:
        slot.close()
        try:
            await asyncio.wait_for(worker, timeout=30)
        except (WebSocketDisconnect, RuntimeError, TimeoutError):
            pass


async def _receive(websocket: WebSocket, slot: _Newest, idle_timeout_s: float) -> None:
    t0 = time.monotonic()
    stamp: float | None = None
    while True:
        try:
            msg = await asyncio.wait_for(websocket.receive(), timeout=idle_timeout_s)
        except TimeoutError:
            slot.close()
            await websocket.close(
                CLOSE_IDLE, close_reason(f"nothing received for {idle_timeout_s:g} s; closed as idle")
            )
            return
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            try:
                control = json.loads(msg["text"])
                stamp = float(control["t_s"])
                if not math.isfinite(stamp):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                await websocket.send_json({"type": "error", "detail": 'text messages are {"t_s": <seconds>}'})
            continue
        data = msg.get("bytes") or b""
        if len(data) > MAX_FRAME_BYTES:
            await websocket.send_json(
                {"type": "error", "detail": f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}"}
            )
        else:
            slot.put((time.monotonic() - t0 if stamp is None else stamp, data, time.perf_counter()))
        stamp = None


async def _process(websocket: WebSocket, analyzer, session: LiveSession, slot: _Newest) -> None:
    seq = 0
    clock = 0.0  # the tracking model's clock: strictly increasing, whatever times the client sends
    while True:
        item, dropped = await slot.get()
        if item is None:
            return
        t_s, data, received = item
        clock = max(clock + 1e-3, received)
        started = time.perf_counter()
        try:
            if not data:
                raise InputError("frame: empty binary message; send one JPEG, PNG, WebP or BMP image per message")
            frame = await run_in_threadpool(analyzer.analyze_bytes, data, "frame", clock)
        except Exception as exc:  # any frame that cannot be analysed is an answer, never the end of the session
            if isinstance(exc, MotionscriptError):
                detail = str(exc)
            else:
                log.exception("live frame analysis failed")
                detail = "this frame could not be analysed (an unexpected error, logged); send the next one"
            if slot.closed:
                return
            await websocket.send_json({"type": "error", "t_s": t_s, "detail": detail, "dropped": dropped})
            continue
        seq += 1
        msg = {
            "type": "frame",
            "seq": seq,
            "dropped": dropped,
            **session.update(t_s, frame),
            "analysis_ms": round((time.perf_counter() - started) * 1000, 1),
            "waited_ms": round((started - received) * 1000, 1),
        }
        if slot.closed:
            return
        await websocket.send_json(msg)
