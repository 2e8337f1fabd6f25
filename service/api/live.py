"""``/v1/live``: a WebSocket for live feedback while the patient exercises.

Protocol (docs/sdk.md): after ``{"type": "ready", ...}`` from the server, the
client sends each JPEG as a binary message, optionally preceded by a text
message ``{"t_s": <capture time in seconds>}``. An app that computes pose on the
device sends no pixels: each frame is one text message ``{"t_s": ..., "landmarks":
[...]}`` (with ``"schema"``, ``"space"`` and ``"image_size"`` in the first one;
docs/landmarks.md), answered the same way. The server answers each frame
it processes with ``{"type": "frame", ...}``: this frame's landmarks, and the
newest measurement of the offline code re-run over the last seconds
(:class:`service.live.LiveSession`): angles, view, the count, the hold timer and
short cues. Frames
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

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from kinematics.errors import InputError, MotionscriptError
from kinematics.protocols import PROTOCOL_NAMES
from service.auth import Principal, permits
from service.live import LiveSession

__all__ = ["CLOSE_IDLE", "CLOSE_POLICY", "CLOSE_TRY_AGAIN", "close_reason", "router"]

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


# -- the WebSocket -------------------------------------------------------------------------------


class _Newest:
    """A one-slot mailbox: ``put`` replaces a frame still waiting and counts it as dropped."""

    def __init__(self) -> None:
        self._item: tuple[float, bytes | dict, float] | None = None
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: tuple[float, bytes | dict, float]) -> None:
        if self._item is not None:
            self.dropped += 1
        self._item = item
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> tuple[tuple[float, bytes | dict, float] | None, int]:
        while self._item is None and not self.closed:
            await self._ready.wait()
            self._ready.clear()
        item, dropped = self._item, self.dropped
        self._item, self.dropped = None, 0
        return item, dropped


def _check_key(session_factory, key: str) -> Principal | None:
    from service.deps import bearer_principal  # an API key or a patient link

    with session_factory() as session:
        return bearer_principal(session, key)


async def _principal(websocket: WebSocket, token: str | None) -> tuple[Principal | None, str]:
    scheme, _, key = websocket.headers.get("authorization", "").partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    key = key or (token or "").strip()
    if not key:
        return None, "send an API key as 'Authorization: Bearer <key>' or ?token=<key>"
    principal = await run_in_threadpool(_check_key, websocket.app.state.session_factory, key)
    if principal is None:
        return None, "the API key or patient link is not valid, revoked or expired"
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
    if exercise is not None and exercise not in PROTOCOL_NAMES:
        await websocket.close(
            CLOSE_POLICY,
            close_reason(f"exercise: unknown exercise {exercise!r}; accepted: {', '.join(PROTOCOL_NAMES)}"),
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
            await _serve(websocket, LiveSession(exercise, analyzer), settings.live_idle_timeout_s)
        finally:
            await run_in_threadpool(analyzer.close)
    finally:
        per_clinic[clinic] -= 1
        if not per_clinic[clinic]:
            del per_clinic[clinic]


async def _serve(websocket: WebSocket, session: LiveSession, idle_timeout_s: float) -> None:
    slot = _Newest()
    await websocket.send_json({"type": "ready", **session.ready(), "max_frame_bytes": MAX_FRAME_BYTES})
    worker = asyncio.create_task(_process(websocket, session, slot))
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
            text = msg["text"]
            if len(text) > MAX_FRAME_BYTES:
                await websocket.send_json(
                    {"type": "error", "detail": f"text message of {len(text)} characters exceeds {MAX_FRAME_BYTES}"}
                )
                continue
            try:
                control = json.loads(text)
                stamp = float(control["t_s"])
                if not math.isfinite(stamp):
                    raise ValueError
            except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: "[" nested 100,000 deep
                stamp = None
                await websocket.send_json(
                    {
                        "type": "error",
                        "detail": 'text messages are {"t_s": <seconds>} before a JPEG, or a frame of landmarks '
                        '{"t_s": <seconds>, "landmarks": [...]} (docs/landmarks.md)',
                    }
                )
                continue
            if "landmarks" in control:  # a frame of landmarks from the app: no image follows
                slot.put((stamp, control, time.perf_counter()))
                stamp = None
            continue
        data = msg.get("bytes") or b""
        if len(data) > MAX_FRAME_BYTES:
            await websocket.send_json(
                {"type": "error", "detail": f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}"}
            )
        else:
            slot.put((time.monotonic() - t0 if stamp is None else stamp, data, time.perf_counter()))
        stamp = None


async def _process(websocket: WebSocket, session: LiveSession, slot: _Newest) -> None:
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
            if isinstance(data, dict):
                answer = await run_in_threadpool(session.landmarks, data, t_s)
            else:
                if not data:
                    raise InputError("frame: empty binary message; send one JPEG, PNG, WebP or BMP image per message")
                answer = await run_in_threadpool(session.frame_bytes, data, t_s, clock)
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
            **answer,
            "analysis_ms": round((time.perf_counter() - started) * 1000, 1),
            "waited_ms": round((started - received) * 1000, 1),
        }
        if slot.closed:
            return
        await websocket.send_json(msg)
