"""``/v1/live``: a WebSocket for live feedback while the patient exercises.

Protocol (docs/sdk.md): after ``{"type": "ready", ...}`` from the server, the
client sends each JPEG as a binary message, optionally preceded by a text
message ``{"t_s": <capture time in seconds>}``. An app that computes pose on the
device sends no pixels: each frame is one text message ``{"t_s": ..., "landmarks":
[...]}`` (with ``"schema"``, ``"space"`` and ``"image_size"`` in the first one;
docs/landmarks.md), answered the same way. Wearable sensors (IMU, EMG) stream beside the
frames: ``sensor_start`` once, then sample blocks as JSON or in a compact binary form
starting ``MSS1``, each answered with ``{"type": "sensor", ...}`` (service/live_sensors.py,
docs/sdk.md). The server answers each frame
it processes with ``{"type": "frame", ...}``: this frame's landmarks, and the
newest measurement of the offline code re-run over the last seconds
(:class:`service.live.LiveSession`): angles, view, the count, the hold timer and
short cues. Frames
are analysed one at a time per connection; when the client sends faster than
that, only the newest waiting frame is kept and the next answer counts the
others in ``dropped`` (no queue builds up, so feedback never lags behind).

With ``?record=1`` (a role that may create assessments) the connection keeps every frame,
sensor sample and cue, and ``{"type": "save", "patient_id": ...}`` stores them as one
assessment (service/live_record.py), answered ``{"type": "saved", "assessment_id": ...}``. When the
server's disk budget for live recordings is already full, ``ready`` says ``"recording": false``
with the reason in ``recording_refused``, and the connection gives live feedback without recording.

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

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool

from kinematics.protocols import PROTOCOL_NAMES
from service.auth import Principal, permits
from service.live import (
    CLOSE_IDLE,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    LiveSession,
    close_reason,
    serve,
)
from service.live_record import save_live_assessment, start_recording

__all__ = ["CLOSE_IDLE", "CLOSE_POLICY", "CLOSE_TRY_AGAIN", "close_reason", "router"]

router = APIRouter(tags=["live"])


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
async def live(
    websocket: WebSocket, exercise: str | None = None, token: str | None = None, record: bool = False
) -> None:
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
    if record and not permits(principal.role, "assessments:create"):
        await websocket.close(
            CLOSE_POLICY, close_reason(f"record: the {principal.role!r} role may not create assessments")
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
            # the frames are spooled to the clinic's partial-files folder, deleted when the connection ends;
            # none when the server's budget for them is already full (the client is told so in ``ready``)
            recording, refused = (
                start_recording(
                    settings.max_upload_bytes, state.uploads.partial_folder(clinic), state.live_spool_budget
                )
                if record
                else (None, None)
            )
            session = LiveSession(exercise, analyzer, recording=recording, recording_refused=refused)

            def save(message: dict) -> str:
                patient = message.get("patient_id")
                return save_live_assessment(
                    state,
                    principal,
                    session.sensors,
                    session.recording,
                    exercise,
                    None if patient is None else str(patient),
                )

            try:
                await serve(websocket, session, settings.live_idle_timeout_s, save if recording is not None else None)
            finally:
                if recording is not None:
                    recording.close()  # saved or not: the spool goes
        finally:
            await run_in_threadpool(analyzer.close)
    finally:
        per_clinic[clinic] -= 1
        if not per_clinic[clinic]:
            del per_clinic[clinic]
