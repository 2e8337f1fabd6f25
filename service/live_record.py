"""Saving a live session as one assessment: the video, the sensors, and what the patient was told.

With ``?record=1`` a live connection keeps every JPEG frame it receives (before the newest-frame
mailbox drops any; spooled to disk, :mod:`service.live_spool`), every sensor sample (in SI units, as the causal analysis saw them) and
every change of the cues it answered with. ``{"type": "save"}`` then stores:

- the frames as a Matroska video of the JPEGs themselves (no re-encoding; each frame's
  timestamp is its ``t_s``, so the offline analysis sees the clock the live one saw),
- each IMU and EMG as the generic CSV the offline readers accept (docs/wearables.md), with the
  live session's calibration stand, EMG baseline and clock offsets as the offline request, so
  the offline analysis runs on the same samples with the same choices,
- the live record (``wearables.live``): every cue given with its time, the timing rows, and
  each sensor's stated latency, readable at ``GET /v1/assessments/{id}/live``,

and queues the assessment like an upload. The video is muxed from the spool to a scratch file and
stored from it in blocks, the CSVs written in blocks: no whole file is held in memory. Times in the stored files and the live record are
on the video's clock shifted to start at the first frame (the video file's own t = 0); a
session without frames is a sensor-only assessment on the first IMU's (else EMG's) clock.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from kinematics.errors import InputError
from service.intake import PATIENT_ID, queued_row
from service.live_sensors import SensorHub
from service.live_spool import FrameSpool, SpoolBudget, SpoolBudgetExhausted
from service.store.uploads import CHUNK

__all__ = ["LiveRecording", "recorded_files", "save_live_assessment", "start_recording"]

_CSV_ROWS = 8192
log = logging.getLogger("motionscript.api")


@dataclass
class LiveRecording:
    """What a recording live connection keeps, bounded by ``max_bytes`` of frames.

    The frames go to a :class:`~service.live_spool.FrameSpool` in ``spool_dir`` (opened with the
    first frame), so the memory held is one frame, whatever the recording's length; :meth:`close`
    deletes the spool and is called when the connection ends, saved or not. The spool draws on the
    server's ``budget`` shared by every recording connection (``live_record_budget_mb``).

    The recording stops keeping frames (``full``, with ``stopped`` saying why) at ``max_bytes``,
    when the budget has no room for the next frame, or when the disk refuses it; what it kept
    stays, and the session goes on.
    """

    max_bytes: int
    spool_dir: Path
    budget: SpoolBudget | None = None
    frame_cues: list[dict] = field(default_factory=list)
    size: int = 0  # JPEG bytes kept
    full: bool = False
    stopped: str | None = None  # why the recording stopped keeping frames
    _told: bool = False
    first_t: float | None = None
    last_t: float | None = None
    spool: FrameSpool | None = None
    _last_cues: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return 0 if self.spool is None else self.spool.count

    def frame(self, t_s: float, jpeg: bytes) -> None:
        if self.full or (self.last_t is not None and t_s <= self.last_t):
            return  # a frame whose time does not increase cannot be muxed; it is analysed all the same
        if self.size + len(jpeg) > self.max_bytes:
            self._stop(f"this recording reached its limit of {self.max_bytes / 1024**2:g} MB of frames (max_upload_mb)")
            return
        try:
            if self.spool is None:
                self.spool = FrameSpool(self.spool_dir, self.budget)
            self.spool.append(t_s, jpeg)
        except SpoolBudgetExhausted as exc:  # other connections hold the server's budget
            log.info("a live recording stopped at the server's disk budget: %s", exc)
            self._stop(str(exc))
            return
        except OSError:  # disk full or gone: the recording stops where it is, the session goes on
            log.warning("a live recording's frame spool could not be written; recording stopped", exc_info=True)
            self._stop("the server could not write the recording to its disk (full or gone)")
            return
        self.size += len(jpeg)
        self.last_t = t_s
        if self.first_t is None:
            self.first_t = t_s

    def _stop(self, why: str) -> None:
        self.full, self.stopped = True, why

    def stop_notice(self) -> dict | None:
        """The message that tells the client its recording stopped keeping frames, once."""
        if not self.full or self._told:
            return None
        self._told = True
        return {
            "type": "recording_stopped",
            "detail": f"{self.stopped or 'the recording is full'}: no more frames are recorded; the "
            f"{self.n_frames} frame(s) recorded so far are kept and can be saved, and live feedback goes on",
            "frames": self.n_frames,
        }

    def touch(self) -> None:
        """The connection is alive: its spool is not an orphan for the retention sweep."""
        if self.spool is not None:
            self.spool.touch()

    def cues(self, t_s: float, cues: list[str]) -> None:
        """The cues of one frame answer; each change is kept once."""
        if cues != self._last_cues:
            self.frame_cues.append({"t_s": t_s, "source": "camera", "cues": list(cues)})
            self._last_cues = list(cues)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


def start_recording(
    max_bytes: int, spool_dir: Path, budget: SpoolBudget | None
) -> tuple[LiveRecording | None, str | None]:
    """The recording of a ``?record=1`` connection, or None and why, when the server's budget for
    live recordings is already full: the client is told at connect rather than at its first frame."""
    if budget is not None and budget.full:
        return None, (
            f"recording is off for this connection: the server's space for live recordings is full (all live "
            f"recordings together may hold {budget.max_bytes / 1024**2:g} MB, live_record_budget_mb). Live "
            "feedback works as usual, without recording; to record, connect again with ?record=1 once other "
            "recordings have ended, or upload a video of the set"
        )
    return LiveRecording(max_bytes, spool_dir, budget), None


def _mux(frames: Iterable[tuple[float, bytes]], out_file: BinaryIO) -> None:
    """The JPEGs as Matroska MJPEG packets, pts = t_s - first t_s (ms), written to a seekable file."""
    import av
    import cv2

    it = iter(frames)
    first_frame = next(it, None)
    if first_frame is None:
        raise InputError("no frames were recorded")
    first = cv2.imdecode(np.frombuffer(first_frame[1], np.uint8), cv2.IMREAD_COLOR)
    if first is None:
        raise InputError("the first recorded frame is not a JPEG the recorder can read")
    with av.open(out_file, "w", format="matroska") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height = int(first.shape[1]), int(first.shape[0])
        stream.pix_fmt = "yuvj420p"
        stream.time_base = Fraction(1, 1000)
        t0 = first_frame[0]
        last = -1
        for t, jpeg in itertools.chain([first_frame], it):
            pts = round((t - t0) * 1000)
            if pts <= last or jpeg[:2] != b"\xff\xd8":  # only JPEGs, strictly increasing (ms)
                continue
            packet = av.Packet(jpeg)
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, pts, pts, stream.time_base
            out.mux(packet)
            last = pts


def _video(frames: Iterable[tuple[float, bytes]]) -> bytes:
    """The Matroska video of ``frames`` as bytes (tests; the recorder streams it, :func:`_mux`)."""
    buf = io.BytesIO()
    _mux(frames, buf)
    return buf.getvalue()


def _csv(header: list[str], comments: dict[str, str], t: np.ndarray, values: np.ndarray) -> Iterator[bytes]:
    """The generic sensor CSV in blocks of ``_CSV_ROWS`` rows (the same text as one ``savetxt``)."""
    head = "".join(f"# {k}: {v}\n" for k, v in comments.items()) + ",".join(["t_s", *header]) + "\n"
    yield head.encode()
    for i in range(0, t.shape[0], _CSV_ROWS):
        out = io.StringIO()
        np.savetxt(out, np.column_stack([t[i : i + _CSV_ROWS], values[i : i + _CSV_ROWS]]), delimiter=",", fmt="%.9g")
        yield out.getvalue().encode()


def _video_file(spool: FrameSpool, scratch: Path) -> Iterator[bytes]:
    """The spooled frames muxed to a plaintext file in ``scratch`` (deleted when done), read in blocks."""
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=scratch, prefix="plain-")  # swept by UploadStore.clean_scratch if killed
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as f:
            _mux(spool.frames(), f)
            f.seek(0)
            while block := f.read(CHUNK):
                yield block
    finally:
        path.unlink(missing_ok=True)


def recorded_files(
    hub: SensorHub, recording: LiveRecording, scratch: Path
) -> tuple[dict[str, Callable[[], Iterator[bytes]]], dict, dict, float]:
    """The files (``video``, ``imu``, ``emg``, each a function giving its bytes in blocks), the
    offline request, the live record, and the time subtracted from every clock (the first frame's
    ``t_s``, or 0 without frames). The video is muxed from the spool as its blocks are read."""
    files: dict[str, Callable[[], Iterator[bytes]]] = {}
    spool = recording.spool
    has_frames = spool is not None and recording.n_frames > 0
    t0 = recording.first_t if has_frames and recording.first_t is not None else 0.0
    if spool is not None and has_frames:
        files["video"] = functools.partial(_video_file, spool, scratch)
    request: dict = {}
    imu = next((i for i in hub.imus.values() if i.samples), None)
    if imu is not None:
        t, values = np.concatenate([b[0] for b in imu.samples]), np.vstack([b[1] for b in imu.samples])
        header = [f"{s}_{a}_{u}" for s, u in (("acc", "mps2"), ("gyr", "rads")) for a in "xyz"]
        comments = {"placement": imu.placement, "sampling_rate_hz": f"{imu.fs:g}"}
        files["imu"] = functools.partial(_csv, header, comments, t, values)
        cal = imu.pelvis.calibration
        request.update(imu_axes=imu.axes_text, imu_placement=imu.placement)
        if cal is not None:
            request["imu_calibration_window_s"] = [cal.window_s[0], cal.window_s[1] + 0.5 / imu.fs]
        if imu.offset is not None and has_frames:
            request["imu_offset_s"] = imu.offset.offset_s - t0
    emg = next((e for e in hub.emgs.values() if e.samples), None)
    if emg is not None:
        t, values = np.concatenate([b[0] for b in emg.samples]), np.vstack([b[1] for b in emg.samples])
        channels = emg.stream.channels
        header = [f"{c.site}_{c.side}_mV" if c.side else f"{c.site}_mV" for c in channels]
        if len(set(header)) != len(header):
            raise InputError("EMG channels that share a site and side cannot be saved as one file")
        files["emg"] = functools.partial(_csv, header, {"sampling_rate_hz": f"{emg.fs:g}"}, t, values)
        a = emg.stream.config.analysis
        request["emg_mains_hz"] = a.filter.mains_hz
        if a.detector.baseline_s is not None:
            request["emg_baseline_s"] = list(a.detector.baseline_s)
        if a.hardware_delay_s is not None:
            request["emg_hardware_delay_s"] = a.hardware_delay_s
        offset = hub.emg_offset(emg)
        if offset is not None and has_frames and (emg.clock is None or "imu_offset_s" in request):
            request["emg_offset_s"] = offset - t0  # onto the video clock, as the IMU's movement onsets
        # emg_baseline_s stays as given: on the EMG clock, the saved file's own times, live and offline
    shift = t0 if has_frames else 0.0

    def moved(t: float | None) -> float | None:
        return None if t is None else round(t - shift, 4)

    cues = [{**c, "t_s": moved(c["t_s"])} for c in recording.frame_cues]
    cues += [
        {"t_s": moved(c["t_s"]) if c["clock"] == "video" else c["t_s"], **{k: v for k, v in c.items() if k != "t_s"}}
        for c in hub.cues_given
    ]
    cues.sort(key=lambda c: (c["t_s"] is None, c["t_s"] or 0.0))
    live = {
        "clock": "video (t = 0 at the first frame)" if has_frames else "sensor",
        "cues": cues,
        "timing": [
            {**r, "movement_onset_s": moved(r["movement_onset_s"]), "muscle_onset_s": moved(r["muscle_onset_s"])}
            if r["clock"] == "video"
            else r
            for r in hub.timing_rows()
        ],
        "latency_s": hub.latencies,
        "frames_recorded": recording.n_frames,
        "recording_full": recording.full,
    }
    return files, request, live, shift


def save_live_assessment(
    state, principal, hub: SensorHub, recording: LiveRecording, exercise: str | None, patient_id: str | None
) -> str:
    """Store the recording as an assessment and queue it; returns its id (runs in a thread)."""
    from pydantic import ValidationError

    from service.wearables import WearablesRequest

    store = state.uploads
    files, request, live, _ = recorded_files(hub, recording, store.scratch)
    if not files:
        raise InputError("nothing was recorded: send frames or sensor blocks before saving")
    if principal.patient_code is not None:
        patient_id = principal.patient_code  # a patient link records for its own patient
    if patient_id is not None and not PATIENT_ID.match(patient_id):
        raise InputError("patient_id: use a pseudonymous id of 1-100 letters, digits or . _ : - (no names)")
    try:
        WearablesRequest.model_validate(request)  # the offline path accepts what it will be given
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"the recording's {first['loc'][0] if first['loc'] else 'request'}: {first['msg']}") from None
    stored = {name: store.save_chunks(principal.clinic_id, chunks()) for name, chunks in files.items()}
    main = stored.get("video") or stored.get("imu") or stored["emg"]
    wearables: dict = {
        name: {"path": f.relpath, "sha256": f.sha256, "bytes": f.size} for name, f in stored.items() if name != "video"
    }
    wearables["request"] = request
    wearables["live"] = live
    row = queued_row(
        clinic_id=principal.clinic_id,
        patient_id=patient_id,
        exercise=exercise,
        kind="video" if "video" in stored else "sensors",
        main=main,
        wearables=wearables,
    )
    with state.session_factory() as session:
        session.add(row)
        session.commit()
    try:
        state.queue.submit(row.id)
    except Exception:  # the sweeper picks up queued rows
        import logging

        logging.getLogger("motionscript.api").warning("queue submit failed; left for the sweeper")
    return row.id
