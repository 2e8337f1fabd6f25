"""One live connection's measurement: the offline code, run as the frames arrive.

A :class:`LiveSession` decodes each frame, runs the connection's own pose model on it,
follows one subject from frame to frame (:class:`vision.tracking.SubjectTracker`, as the
offline extraction does) and feeds the landmarks to :class:`kinematics.streaming.SlidingAssessment`,
which re-runs the offline pipeline and the exercise's protocol over the last ``window_s``
every ``interval_s``. So the angles, the view, the repetition count and the holds a patient
sees live are the numbers the clinician's report will have, published about a second later
than the frame; there is no live-only filter, threshold or repetition rule.

An app that computes pose on the device sends landmarks instead of pixels
(:meth:`LiveSession.landmarks`): one frame of a landmark document (docs/landmarks.md) per
message, in any skeleton of :mod:`kinematics.schemas`, fed to the same sliding assessment.

:func:`serve` is the transport: frames in, answers out, one frame analysed at a time and only
the newest one kept waiting (backpressure). The route (``service/api/live.py``) only
authenticates and caps connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from kinematics.errors import InputError, MotionscriptError
from kinematics.streaming import COUNTED_EVENT, SlidingAssessment, WindowUpdate
from service.live_record import LiveRecording
from service.live_sensors import MAX_SENSOR_LAG_S, SensorHub, is_sensor_binary
from vision.backends.base import PersonPose
from vision.landmark_json import parse_landmarks
from vision.tracking import SubjectTracker

if TYPE_CHECKING:  # the API process loads OpenCV and PyAV only when a frame arrives
    from service.frame_analysis import FrameAnalyzer

__all__ = [
    "CLOSE_IDLE",
    "CLOSE_POLICY",
    "CLOSE_TRY_AGAIN",
    "EXERCISE_PLANE",
    "LEAN_CUE_DEG",
    "MAX_FRAME_BYTES",
    "OBLIQUITY_CUE_DEG",
    "LiveSession",
    "close_reason",
    "serve",
]

log = logging.getLogger("motionscript.api")

# The anatomical plane each protocol scores, so the view it needs (docs/protocols/<name>.md).
EXERCISE_PLANE = {
    "squat": "sagittal",
    "sit_to_stand": "sagittal",
    "standing_hip_flexion": "sagittal",
    "bridge": "sagittal",
    "standing_hip_abduction": "frontal",
    "single_leg_stance": "frontal",
}
# Cues only (short spoken-style hints while exercising); nothing is scored from them.
OBLIQUITY_CUE_DEG = 5.0
LEAN_CUE_DEG = 10.0


def _round(v: float | None, ndigits: int = 2) -> float | None:
    return None if v is None or math.isnan(v) else round(v, ndigits)


class LiveSession:
    """The state of one live connection: its subject and its sliding offline assessment.

    Parameters
    ----------
    exercise
        A protocol name, or None for kinematics and cues only.
    analyzer
        The connection's own pose model (VIDEO mode: it tracks between frames).
    window_s, interval_s
        See :class:`kinematics.streaming.SlidingAssessment`.
    recording
        What a ``?record=1`` connection keeps (:class:`service.live_record.LiveRecording`), or None.
    recording_refused
        Why a connection that asked to record does not (the server's budget was full), told in ``ready``.
    """

    def __init__(
        self,
        exercise: str | None,
        analyzer: FrameAnalyzer | None = None,
        *,
        window_s: float = 20.0,
        interval_s: float = 1.0,
        recording: LiveRecording | None = None,
        recording_refused: str | None = None,
    ) -> None:
        self.exercise, self.analyzer = exercise, analyzer
        # ?record=1: every frame (spooled to disk), sample and cue kept (service.live_record)
        self.recording = recording
        self.recording_refused = recording_refused  # ?record=1 asked, but the server had no room: why
        self.window_s, self.interval_s = window_s, interval_s
        self.counted = COUNTED_EVENT.get(exercise or "")
        self._size: tuple[int, int] | None = None
        self._tracker: SubjectTracker | None = None
        self.stream: SlidingAssessment | None = None
        self.last: WindowUpdate | None = None
        self.published: list[WindowUpdate] = []  # every run's update, oldest first (tests and summaries)
        self._header: dict = {}  # schema, space, image_size of the landmark messages, kept between messages
        self._layout: tuple | None = None  # (schema, space, image size) the landmark stream was started with
        # wearables streamed beside the frames (service.live_sensors)
        self.sensors = SensorHub(exercise, recording=self.recording is not None)

    def ready(self) -> dict:
        """What the server tells the client before the first frame."""
        return {
            "exercise": self.exercise,
            "counted": self.counted,
            "recording": self.recording is not None,
            "recording_refused": self.recording_refused,
            "window_s": self.window_s,
            "interval_s": self.interval_s,
        }

    # -- frames in ------------------------------------------------------------------------------

    def frame_bytes(self, data: bytes, t_s: float, clock_s: float | None = None) -> dict:
        """One encoded frame (JPEG, PNG, WebP, BMP); ``clock_s`` is the pose model's increasing clock."""
        from service.frame_analysis import decode_image

        return self.frame_rgb(decode_image(data, "frame"), t_s, clock_s)

    def frame_rgb(self, rgb: np.ndarray, t_s: float, clock_s: float | None = None) -> dict:
        if self.analyzer is None:
            raise RuntimeError("this LiveSession has no pose model; give it an analyzer or call update()")
        people = self.analyzer.estimate(rgb, t_s if clock_s is None else clock_s)
        h, w = rgb.shape[:2]
        return self.update(t_s, people, (w, h))

    def landmarks(self, message: dict, t_s: float) -> dict:
        """One frame of landmarks the app computed itself: ``{"t_s", "landmarks"}`` plus, in the
        first message and whenever they change, ``"schema"``, ``"space"`` and ``"image_size"``.

        The frame is checked as a one-frame landmark document (docs/landmarks.md; a bad one
        raises :class:`kinematics.errors.LandmarkFormatError` naming the problem) and laid onto
        the core's names by its schema. A change of skeleton, space or picture size starts a
        new recording, as a turned phone does for video frames.
        """
        header = {k: message[k] if k in message else self._header.get(k) for k in ("schema", "space", "image_size")}
        doc = {k: v for k, v in header.items() if v is not None}
        lm = parse_landmarks({**doc, "frames": [{"t_s": t_s, "landmarks": message.get("landmarks")}]}).landmarks
        self._header = header
        layout = (lm.schema, lm.space, lm.image_size_wh)
        if layout != self._layout or self.stream is None:
            self._layout, self._size, self._tracker = layout, None, None
            self.stream = SlidingAssessment(
                exercise=self.exercise,
                schema=lm.schema,
                space=lm.space,
                image_size_wh=lm.image_size_wh,
                window_s=self.window_s,
                interval_s=self.interval_s,
            )
            self.last = None
        found = bool(lm.visibility[0].max() > 0)
        update = self.stream.push(t_s, lm.xyz[0] if found else None, lm.visibility[0] if found else None)
        self._publish(update)
        return self._answer(t_s, found, None, update)

    def update(self, t_s: float, people: list[PersonPose], size_wh: tuple[int, int]) -> dict:
        """The answer to one frame: this frame's landmarks, the newest published measurement."""
        if size_wh != self._size or self.stream is None or self._tracker is None:
            # a new picture size (the camera turned or changed): a new recording, counted afresh
            self._size, self._tracker, self._layout = size_wh, SubjectTracker(size_wh), None
            schema = self.analyzer.backend.schema if self.analyzer is not None else None
            self.stream = SlidingAssessment(
                exercise=self.exercise,
                image_size_wh=size_wh,
                window_s=self.window_s,
                interval_s=self.interval_s,
                **({"schema": schema} if schema is not None else {}),
            )
            self.last = None
        pose = self._tracker.choose(people, t_s)
        update = self.stream.push(
            t_s, None if pose is None else pose.image_xyz, None if pose is None else pose.visibility
        )
        self._publish(update)
        landmarks = (
            None
            if pose is None
            else [
                [round(float(v), 5) for v in (*p, vis)] for p, vis in zip(pose.image_xyz, pose.visibility, strict=True)
            ]
        )
        return self._answer(t_s, pose is not None, landmarks, update)

    def finish(self) -> WindowUpdate | None:
        """Publish what arrived since the last run (the end of a recording)."""
        update = self.stream.flush() if self.stream is not None else None
        self._publish(update)
        return update

    def _publish(self, update: WindowUpdate | None) -> None:
        if update is None:
            return
        self.last = update
        self.published.append(update)
        # the camera's obliquity, for putting the IMU's clock on the video's (ClockSync)
        self.sensors.video_obliquity(
            update.t_s, update.angles.get("pelvic_obliquity_deg", np.full(len(update.t_s), np.nan))
        )

    # -- sensors in -----------------------------------------------------------------------------

    def sensor_message(self, message: dict) -> dict:
        """A sensor's text message (``sensor_start``, ``sync``, an ``imu`` or ``emg`` block)."""
        return self.sensors.message(message)

    def sensor_bytes(self, data: bytes) -> dict:
        """A sensor block in the binary form (:func:`service.live_sensors.encode_sensor_block`)."""
        return self.sensors.binary(data)

    # -- answers out ----------------------------------------------------------------------------

    def _answer(self, t_s: float, found: bool, landmarks: list | None, update: WindowUpdate | None) -> dict:
        last = self.last
        analysed = None if last is None or not last.t_s.size else float(last.t_s[-1])
        angles = {} if last is None else {k: _round(v) for k, v in last.latest.items()}
        view = "unknown" if last is None or last.result is None else last.result.view.view
        hold = None if last is None else last.hold_s
        if hold and analysed is not None:
            hold += max(0.0, t_s - analysed)  # the hold goes on until the next run says otherwise
        hold_source = "camera" if hold is not None else None
        imu_hold = self.sensors.hold_s()
        if imu_hold is not None and (not found or hold is None):  # the camera cannot see: the IMU times it
            hold, hold_source = imu_hold, "imu"
        return {
            "t_s": t_s,
            "person_found": found,
            "landmarks": landmarks,  # the pose model's, for a video frame; None for landmarks the app sent
            "analysed_t_s": analysed,
            "view": view,
            "angles": angles,
            # the assessment's per-sample confidence of each angle shown (visibility, halved where bridged or
            # seen from an oblique frame): how far to trust the number
            "confidence": {}
            if last is None or last.result is None
            else {
                k: round(float(s.confidence[-1]), 3) for k, s in last.result.series.items() if angles.get(k) is not None
            },
            # why each angle that is null is not measured, and what limited the run: the offline codes
            "not_measured": {}
            if last is None
            else {k: {"code": code, "reason": why} for k, (code, why) in last.latest_not_measured.items()},
            "quality": []
            if last is None
            else [{"code": q.code, "severity": q.severity, "message": q.message} for q in last.quality],
            "series": None if update is None else self._series(update),
            # the code of each null sample of ``series`` (kinematics.withheld), for the series that have one
            "series_not_measured": None
            if update is None
            else {k: codes for k, codes in update.not_measured.items() if any(codes)},
            "reps": None if last is None else last.count,
            "in_rep": None if last is None else last.in_rep,
            "hold_s": _round(hold),
            "hold_source": hold_source,
            "cues": self._cues(found, view, angles),
        }

    @staticmethod
    def _series(update: WindowUpdate) -> dict:
        """The samples this run published, as the assessment's ``series`` block has them."""
        out: dict[str, list] = {"t_s": [round(float(t), 6) for t in update.t_s]}
        for name, values in update.angles.items():
            out[name] = [_round(float(v)) for v in values]
        return out

    def _cues(self, found: bool, view: str, angles: dict[str, float | None]) -> list[str]:
        if not found:
            return ["step into the camera's view, whole body visible"]
        cues = []
        plane = EXERCISE_PLANE.get(self.exercise or "")
        if plane == "sagittal" and view == "frontal":
            cues.append("turn side-on to the camera")
        elif plane == "frontal" and view == "sagittal":
            cues.append("face the camera")
        obliquity = angles.get("pelvic_obliquity_deg")
        if obliquity is not None and abs(obliquity) > OBLIQUITY_CUE_DEG:  # > 0: the LEFT hip is higher
            cues.append(f"keep your {'right' if obliquity > 0 else 'left'} hip level with the other")
        lean = angles.get("trunk_lean_lateral_deg")
        if lean is not None and abs(lean) > LEAN_CUE_DEG:
            cues.append("keep your trunk upright")
        return cues


# -- the transport: frames in, answers out, the newest frame only ---------------------------

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


SENSOR_TYPES = ("sensor_start", "sync", "imu", "emg", "save")  # in order, on the sensors' queue


class _Sensors:
    """The sensors' queue: every block in order (a filter cannot skip samples), none older than
    :data:`~service.live_sensors.MAX_SENSOR_LAG_S`: a sensor that falls that far behind is stopped."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[dict | bytes, float] | None] = asyncio.Queue()

    def put(self, item: dict | bytes) -> None:
        self.queue.put_nowait((item, time.perf_counter()))

    def close(self) -> None:
        self.queue.put_nowait(None)


async def serve(
    websocket: WebSocket,
    session: LiveSession,
    idle_timeout_s: float,
    saver: Callable[[dict], str] | None = None,
) -> None:
    """Frames and sensor messages in, answers out, until the client leaves or idles.

    ``saver`` stores the recording as an assessment for ``{"type": "save"}`` (the route's, which
    knows the caller; None when the connection does not record).
    """
    slot = _Newest()
    sensors = _Sensors()
    await websocket.send_json(
        {
            "type": "ready",
            **session.ready(),
            "max_frame_bytes": MAX_FRAME_BYTES,
            "max_sensor_lag_s": MAX_SENSOR_LAG_S,
        }
    )
    worker = asyncio.create_task(_process(websocket, session, slot))
    sensor_worker = asyncio.create_task(_process_sensors(websocket, session, sensors, slot, saver))
    try:
        await _receive(websocket, slot, idle_timeout_s, sensors, session.recording)
    finally:
        slot.close()
        sensors.close()
        for task in (worker, sensor_worker):
            try:
                await asyncio.wait_for(task, timeout=30)
            except (WebSocketDisconnect, RuntimeError, TimeoutError):
                pass


async def _receive(
    websocket: WebSocket, slot: _Newest, idle_timeout_s: float, sensors: _Sensors, recording: LiveRecording | None
) -> None:
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
        if recording is not None:
            recording.touch()  # alive: its spool is not an orphan
        if msg.get("text") is not None:
            text = msg["text"]
            if len(text) > MAX_FRAME_BYTES:
                await websocket.send_json(
                    {"type": "error", "detail": f"text message of {len(text)} characters exceeds {MAX_FRAME_BYTES}"}
                )
                continue
            try:
                control = json.loads(text)
                if isinstance(control, dict) and control.get("type") in SENSOR_TYPES:
                    sensors.put(control)  # a sensor's message: its own queue, never dropped
                    continue
                stamp = float(control["t_s"])
                if not math.isfinite(stamp):
                    raise ValueError
            except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: "[" nested 100,000 deep
                stamp = None
                await websocket.send_json(
                    {
                        "type": "error",
                        "detail": 'text messages are {"t_s": <seconds>} before a JPEG, a frame of landmarks '
                        '{"t_s": <seconds>, "landmarks": [...]} (docs/landmarks.md), or a sensor message '
                        '{"type": "sensor_start" | "sync" | "imu" | "emg", ...} (docs/sdk.md)',
                    }
                )
                continue
            if "landmarks" in control:  # a frame of landmarks from the app: no image follows
                slot.put((stamp, control, time.perf_counter()))
                stamp = None
            continue
        data = msg.get("bytes") or b""
        if is_sensor_binary(data) and len(data) <= MAX_FRAME_BYTES:
            sensors.put(data)
            continue
        if len(data) > MAX_FRAME_BYTES:
            await websocket.send_json(
                {"type": "error", "detail": f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}"}
            )
        else:
            t_frame = time.monotonic() - t0 if stamp is None else stamp
            if recording is not None:
                recording.frame(t_frame, data)  # every frame sent, also those the mailbox will drop
                notice = recording.stop_notice()  # full, out of the server's budget or of disk: said once
                if notice is not None:
                    await websocket.send_json(notice)
            slot.put((t_frame, data, time.perf_counter()))
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
        if session.recording is not None:
            session.recording.cues(t_s, answer["cues"])  # what the patient was told, each change once
        if slot.closed:
            return
        await websocket.send_json(msg)


async def _process_sensors(
    websocket: WebSocket, session: LiveSession, sensors: _Sensors, slot: _Newest, saver: Callable[[dict], str] | None
) -> None:
    while True:
        entry = await sensors.queue.get()
        if entry is None:
            return
        item, received = entry
        started = time.perf_counter()
        waited = started - received
        is_block = isinstance(item, bytes) or item.get("type") in ("imu", "emg")
        if is_block and waited > MAX_SENSOR_LAG_S:
            # falling behind: stopping the sensor keeps the feedback within the bound; blocks are
            # never skipped (the filters need every sample), so the client restarts it
            name = _sensor_name(item)
            session.sensors.stop(name, f"fell {waited:.2f} s behind (limit {MAX_SENSOR_LAG_S:g} s)")
            answer: dict = {
                "type": "error",
                "sensor": name,
                "detail": f"sensor {name!r} fell {waited:.2f} s behind, more than {MAX_SENSOR_LAG_S:g} s: it was "
                "stopped; send smaller or fewer blocks and restart it with sensor_start",
            }
        elif isinstance(item, dict) and item.get("type") == "save":
            answer = await _save(session, item, saver)
        else:
            try:
                if isinstance(item, bytes):
                    answer = await run_in_threadpool(session.sensor_bytes, item)
                else:
                    answer = await run_in_threadpool(session.sensor_message, item)
                answer["waited_ms"] = round(waited * 1000, 1)
            except Exception as exc:  # a bad sensor message is an answer, never the end of the session
                if isinstance(exc, MotionscriptError):
                    detail = str(exc)
                else:
                    log.exception("live sensor analysis failed")
                    detail = "this sensor message could not be analysed (an unexpected error, logged)"
                answer = {"type": "error", "sensor": _sensor_name(item), "detail": detail}
        if slot.closed:
            return
        await websocket.send_json(answer)


async def _save(session: LiveSession, item: dict, saver: Callable[[dict], str] | None) -> dict:
    """``{"type": "save", "patient_id": ...}``: the recording so far becomes an assessment."""
    if session.recording_refused is not None:
        return {"type": "error", "detail": f"not saved: {session.recording_refused}"}
    if saver is None or session.recording is None:
        return {"type": "error", "detail": "this connection does not record: connect with ?record=1 to save"}
    try:
        assessment_id = await run_in_threadpool(saver, item)
    except MotionscriptError as exc:
        return {"type": "error", "detail": f"not saved: {exc}"}
    except Exception:
        log.exception("saving a live session failed")
        return {"type": "error", "detail": "not saved: an unexpected error (logged)"}
    return {
        "type": "saved",
        "assessment_id": assessment_id,
        "frames": session.recording.n_frames,
        "recording_full": session.recording.full,
    }


def _sensor_name(item: dict | bytes) -> str:
    if isinstance(item, dict):
        return str(item.get("sensor") or "")
    try:
        from service.live_sensors import decode_sensor_block

        return decode_sensor_block(item)[1]
    except MotionscriptError:
        return ""
