"""One video on several cores: time chunks in separate processes, stitched into one extraction.

The video's duration is cut into ``workers`` chunks. The first runs in the calling
process (or, with a head start, `vision.head_start`, in a worker the caller started
before its own imports, and the calling process reads the second), each other one in a
process of its own (``multiprocessing`` *spawn*),
which makes its own pose backend from a picklable factory, seeks to a little
before its chunk (``overlap_s``, so that the model's VIDEO-mode tracking has warmed up by the chunk start; the ONNX backend
also searches for people on every frame of a video's first second, i.e. of
this overlap, as the serial run did at frame 0), decodes and runs
the model, and sends back only landmarks: every person the model found in each
frame, never pixels. The parent then runs one `SubjectTracker` over the stitched
candidate sequence, exactly as `extract_video` does frame by frame, so the
followed subject is chosen once for the whole video and cannot switch identity at
a seam: the first frame of chunk k is matched to the subject's last position in
chunk k-1 (torso centre, i.e. the shoulder/hip centre, with the same speed and
size gates as within a chunk). The overlap frames are decoded twice; the ones of
chunk k-1 are kept, chunk k's are only used to check the seam (same timestamps
on both sides, and the subject found in both).

Timestamps are the container's, computed as `VideoReader` computes them
(``vision.decode._Clock``, origin at the file's first frame), so ``t_s`` is
bit-identical to the serial path. Anything the chunked path cannot vouch for
falls back to `extract_video` in this process: short videos, ``workers < 2``,
AVI (decode-order timestamps), a frame count that does not match the container's
index, decode errors, missing/repeated timestamps, or seams whose timestamps
disagree.

Memory: each worker holds one decoded frame at a time plus its landmarks
(about 1 KB per person per frame as float32), so a worker's RSS does not grow
with the video's length beyond that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kinematics.series import LandmarkSchema
from vision.backends.base import BackendFactory, PersonPose
from vision.extract import (
    SHARPNESS_EVERY,
    Extraction,
    LandmarkCollector,
    MediaInfo,
    Progress,
    SeamCheck,
    extract_video,
    median_sharpness,
)
from vision.head_start import MIN_PARALLEL_S, HeadStart, split_s
from vision.tracking import SubjectTracker

__all__ = ["MIN_PARALLEL_S", "SeamCheck", "extract_video_parallel"]


# -- worker side ---------------------------------------------------------------------------------


@dataclass
class _ChunkResult:
    chunk: int
    t_s: np.ndarray  # (n,) float64, every frame processed (warm-up included)
    counts: np.ndarray  # (n,) int16: people per frame
    image: np.ndarray  # (m, k, 3) float32, m = counts.sum()
    world: np.ndarray  # (m, k, 3) float32, NaN when the model gives none
    vis: np.ndarray  # (m, k) float32
    sharp: np.ndarray  # (m,) float32, NaN where not measured
    next_t_s: float | None  # first frame at or after the chunk's end (not processed), None at end of file
    clean: bool  # no clock anomaly, no decode error
    schema: LandmarkSchema | None  # None when the chunk failed
    provenance: dict
    size_wh: tuple[int, int]
    error: str | None = None


def _run_chunk(
    chunk: int,
    path: str,
    factory: BackendFactory,
    t_from: float,
    t_to: float | None,
    progress_q,
    every: int = 15,
    crops_from_yuv: bool = False,
    stop=None,
) -> _ChunkResult:
    """Read ``[t_from, t_to)``; with ``stop`` (a shared double, `vision.head_start`) the end is
    read from it on every frame instead: NaN while the caller has not decided it."""
    from vision.decode import VideoReader
    from vision.extract import pose_input, subject_sharpness

    backend = factory()
    try:
        with VideoReader(path, start_s=t_from) as video:
            size_wh = (video.info.width, video.info.height)
            fps = video.info.nominal_fps or 30.0
            t_list: list[float] = []
            counts: list[int] = []
            img: list[np.ndarray] = []
            wld: list[np.ndarray] = []
            vis: list[np.ndarray] = []
            sharp: list[float] = []
            k = len(backend.schema)
            nan = np.full((k, 3), np.nan, dtype=np.float32)
            next_t_s = None
            for frame in video.pictures(yuv=crops_from_yuv):
                if stop is not None and not math.isnan(stop.value):
                    t_to = stop.value
                if t_to is not None and frame.t_s >= t_to - 1e-9:
                    next_t_s = frame.t_s
                    break
                image = pose_input(backend, frame)
                people = backend.estimate(image, frame.t_s)
                measure = round(frame.t_s * fps) % SHARPNESS_EVERY == 0
                for p in people:
                    img.append(p.image_xyz.astype(np.float32))
                    wld.append(nan if p.world_xyz is None else p.world_xyz.astype(np.float32))
                    vis.append(p.visibility.astype(np.float32))
                    value = subject_sharpness(image, p.bbox()) if measure else None
                    sharp.append(np.nan if value is None else value)
                t_list.append(frame.t_s)
                counts.append(len(people))
                if progress_q is not None and len(t_list) % every == 0:
                    progress_q.put((chunk, len(t_list)))
            stats = video.stats
            clean = (
                stats.decode_errors == 0
                and not stats.truncated
                and stats.timestamps_from_dts == 0
                and stats.timestamps_estimated == 0
                and stats.timestamps_nudged == 0
            )
        if progress_q is not None:
            progress_q.put((chunk, len(t_list)))
        m = len(img)
        return _ChunkResult(
            chunk,
            np.asarray(t_list, dtype=float),
            np.asarray(counts, dtype=np.int16),
            np.stack(img) if m else np.zeros((0, k, 3), np.float32),
            np.stack(wld) if m else np.zeros((0, k, 3), np.float32),
            np.stack(vis) if m else np.zeros((0, k), np.float32),
            np.asarray(sharp, dtype=np.float32),
            next_t_s,
            clean,
            backend.schema,
            backend.provenance(),
            size_wh,
        )
    finally:
        backend.close()


def _worker(
    chunk: int,
    path: str,
    factory: BackendFactory,
    t_from: float,
    t_to: float | None,
    out_q,
    progress_q,
    crops_from_yuv: bool = False,
) -> None:
    out_q.put(_chunk_or_error(chunk, path, factory, t_from, t_to, progress_q, crops_from_yuv))


def _chunk_or_error(
    chunk: int,
    path: str,
    factory: BackendFactory,
    t_from: float,
    t_to: float | None,
    progress_q,
    crops_from_yuv: bool,
    stop=None,
) -> _ChunkResult:
    try:
        return _run_chunk(chunk, path, factory, t_from, t_to, progress_q, crops_from_yuv=crops_from_yuv, stop=stop)
    except BaseException as exc:
        return _ChunkResult(
            chunk,
            np.zeros(0),
            np.zeros(0, np.int16),
            np.zeros((0, 0, 3)),
            np.zeros((0, 0, 3)),
            np.zeros((0, 0)),
            np.zeros(0),
            None,
            False,
            None,
            {},
            (0, 0),
            error=f"{type(exc).__name__}: {exc}",
        )


# -- parent side ---------------------------------------------------------------------------------


def _bounds(duration_s: float, workers: int, overlap_s: float) -> list[tuple[float, float, float | None]]:
    """``(process_from, own_from, own_to)`` per chunk; equal work per chunk, overlap included."""
    span = (duration_s + (workers - 1) * overlap_s) / workers
    out = []
    for k in range(workers):
        own_from = 0.0 if k == 0 else k * span - (k - 1) * overlap_s
        own_to = None if k == workers - 1 else (k + 1) * span - k * overlap_s
        out.append((max(0.0, own_from - overlap_s) if k else 0.0, own_from, own_to))
    return out


def _bounds_after_head(
    duration_s: float, workers: int, overlap_s: float, split: float
) -> list[tuple[float, float, float | None]]:
    """Chunk 0 (the head start) ends at ``split``; the rest is cut into ``workers - 1`` equal chunks
    (each re-reads ``overlap_s`` before its start, so each does the same work)."""
    rest = workers - 1
    own = (duration_s - split) / rest
    out: list[tuple[float, float, float | None]] = [(0.0, 0.0, split)]
    for j in range(rest):
        own_from = split + j * own
        out.append((own_from - overlap_s, own_from, None if j == rest - 1 else split + (j + 1) * own))
    return out


def _trim(r: _ChunkResult, t_to: float | None) -> _ChunkResult:
    """The chunk without its frames at or after ``t_to`` (a head start told late where to stop)."""
    if t_to is None or r.error is not None:
        return r
    i = int(np.searchsorted(r.t_s, t_to - 1e-9))
    if i >= len(r.t_s):
        return r
    m = int(np.sum(r.counts[:i], dtype=np.int64))
    return dataclasses.replace(
        r,
        t_s=r.t_s[:i],
        counts=r.counts[:i],
        image=r.image[:m],
        world=r.world[:m],
        vis=r.vis[:m],
        sharp=r.sharp[:m],
        next_t_s=float(r.t_s[i]),
    )


def _poses(r: _ChunkResult, start: int, stop: int, offsets: np.ndarray):
    """Per frame ``i`` in [start, stop): (t_s, [(PersonPose, sharpness)])."""
    for i in range(start, stop):
        a, b = offsets[i], offsets[i + 1]
        people = []
        for j in range(a, b):
            assert r.schema is not None  # a chunk that failed has no people
            world = r.world[j].astype(float)
            people.append(
                (
                    PersonPose(
                        r.image[j].astype(float),
                        None if np.isnan(world).all() else world,
                        r.vis[j].astype(float),
                        r.schema,
                    ),
                    float(r.sharp[j]),
                )
            )
        yield float(r.t_s[i]), people


def _hip_centre(p: PersonPose, size_wh) -> np.ndarray:
    return p.image_points("left_hip", "right_hip")[:, :2].mean(axis=0) * np.asarray(size_wh, dtype=float)


def _torso_len(p: PersonPose, size_wh) -> float:
    scale = np.asarray(size_wh, dtype=float)
    shoulders = (p.image_points("left_shoulder", "right_shoulder")[:, :2] * scale).mean(axis=0)
    hips = (p.image_points("left_hip", "right_hip")[:, :2] * scale).mean(axis=0)
    return float(np.linalg.norm(shoulders - hips))


def extract_video_parallel(
    path: str | Path,
    backend_factory: BackendFactory,
    *,
    workers: int = 2,
    overlap_s: float = 1.0,
    progress: Progress | None = None,
    min_duration_s: float = MIN_PARALLEL_S,
    crops_from_yuv: bool = False,
    head_start: HeadStart | None = None,
    threads: bool = False,
    while_waiting: Callable[[], object] | None = None,
) -> Extraction:
    """`extract_video` on ``workers`` processes; same frames, same ``t_s``, one subject.

    This process reads the first chunk itself while ``workers - 1`` worker
    processes start and read the others (one process fewer to start and to hold
    in memory; it would only wait for them otherwise).
    ``backend_factory`` is called with no argument here and in each worker
    process, so it must pickle: a module-level function or a
    ``functools.partial`` of one, e.g.
    ``functools.partial(load_backend, "blazepose_full", video=True)``.
    ``crops_from_yuv``: as for `extract_video`.

    ``head_start``: the first chunk's worker, started by `vision.head_start.start_head`
    before the caller's imports (same ``path`` and ``workers``). It reads from the video's
    start; this process then cuts the video where that worker, already some way in, and
    the others will finish together (`vision.head_start.split_s`), and reads the chunk
    after it. Without one, or if this call does not use it (it is then cancelled), this
    process reads the first chunk.

    ``threads``: the other chunks are read by threads of this process instead of processes
    (same cut, same landmarks: `tests/vision/test_parallel.py`). Decoding, colour conversion,
    crops and the models release the GIL; the threads' backends share the models' sessions
    (`vision.backends.onnx._session`), and nothing is started, imported or pickled twice. A
    daemonic process (the service's job workers) may use them.

    ``while_waiting``: called once in this process after its own chunk, while the others may
    still run (the caller's deferred imports: ``service.analysis.preload``), so that work fills
    the wait for the head start's longer chunk instead of following it on one core.
    """
    from vision.decode import VideoReader, is_variable

    path = Path(path)
    if head_start is not None and (
        head_start.path != path or head_start.workers != workers or crops_from_yuv or head_start.threads != threads
    ):
        head_start.cancel()
        head_start = None

    def serial() -> Extraction:
        backend = backend_factory()
        try:
            return extract_video(path, backend, progress=progress, crops_from_yuv=crops_from_yuv)
        finally:
            backend.close()

    try:
        with VideoReader(path) as probe:  # validates the file (sniff, open, first frame) as the serial path would
            info = probe.info
            tick_s = probe.tick_s
    except BaseException:
        if head_start is not None:
            head_start.cancel()
        raise
    duration = info.duration_s
    if (
        workers < 2
        or duration is None
        or duration < min_duration_s
        or info.container == "avi"
        or info.frame_count_reported is None
        or (mp.current_process().daemon and not threads)
    ):
        # (a daemonic process, such as the service's local job workers, may not start children)
        if head_start is not None:
            head_start.cancel()
        return serial()

    ctx = mp.get_context("spawn")
    procs: dict[int, Any] = {}
    out_q: Any
    progress_q: Any
    done = [0] * workers
    if head_start is None:
        bounds = _bounds(duration, workers, overlap_s)
        here = 0  # this process reads the first chunk itself, while the others start
        out_q, progress_q = (queue.Queue(), queue.Queue()) if threads else (ctx.Queue(), ctx.Queue())
    else:
        out_q, progress_q = head_start.out_q, head_start.progress_q
        split = split_s(duration, workers, overlap_s, info.nominal_fps or 30.0)
        head_start.stop.value = split
        head_start.taken()
        bounds = _bounds_after_head(duration, workers, overlap_s, split)
        procs[0] = head_start.process
        here = 1  # this process reads the chunk after the head start's
    n_chunks = len(bounds)
    for k, (t_from, _own_from, own_to) in enumerate(bounds):
        if k == here or k in procs:
            continue
        p = (threading.Thread if threads else ctx.Process)(
            target=_worker,
            args=(k, str(path), backend_factory, t_from, own_to, out_q, progress_q, crops_from_yuv),
            daemon=True,
            name=f"motionscript-chunk-{k}",
        )
        p.start()
        procs[k] = p
    results: dict[int, _ChunkResult] = {}
    warm = [0] * n_chunks  # frames before the owned part, to leave out of the progress count
    if here:  # this process's warm-up frames, counted as it reads them
        warm[here] = round((bounds[here][1] - bounds[here][0]) * (info.nominal_fps or 30.0))
    total = info.frame_count_reported

    def report() -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                k, n = progress_q.get_nowait()
                done[k] = n
        if progress is not None:
            progress(max(0, min(sum(done) - sum(warm), total)), total)

    class _Here:
        """Progress of the chunk read in this process: counted, and the workers' drained with it."""

        def put(self, item: tuple[int, int]) -> None:
            done[item[0]] = item[1]
            report()

    try:
        t_from, _own_from, own_to = bounds[here]
        results[here] = _chunk_or_error(here, str(path), backend_factory, t_from, own_to, _Here(), crops_from_yuv)
        warm[here] = int(np.sum(results[here].t_s < bounds[here][1] - 1e-9))
        if while_waiting is not None:
            while_waiting()
        while len(results) < n_chunks:
            report()
            try:
                r = out_q.get(timeout=0.2)
            except queue.Empty:
                dead = [k for k, p in procs.items() if not p.is_alive() and k not in results]
                if dead:
                    try:  # a result may still be in the pipe just after its process ended
                        r = out_q.get(timeout=2.0)
                    except queue.Empty:
                        break  # a worker died without a result (killed, or failed to start): fall back
                else:
                    continue
            if r.chunk == 0 and head_start is not None:
                r = _trim(r, bounds[0][2])  # (in case it read past the cut before it was told)
            results[r.chunk] = r
            if r.error is None:
                own_from = bounds[r.chunk][1]
                warm[r.chunk] = int(np.sum(r.t_s < own_from - 1e-9))
    finally:
        for p in procs.values():
            if threads:  # (a thread cannot be killed; a chunk ends at its last frame)
                p.join()
                continue
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        if not threads:
            out_q.close()
            progress_q.close()

    if len(results) < n_chunks or any(r.error or not r.clean for r in results.values()):
        return serial()
    chunks = [results[k] for k in range(n_chunks)]
    stitched = _stitch(chunks, bounds)
    if stitched is None:
        return serial()
    t_all, parts = stitched
    if len(t_all) != info.frame_count_reported or np.any(np.diff(t_all) <= 0):
        return serial()

    first = chunks[0]
    size = first.size_wh
    if size != (info.width, info.height) or first.schema is None:
        return serial()
    tracker = SubjectTracker(size)
    collect = LandmarkCollector(len(first.schema))

    sharpness: list[float] = []
    seams: list[SeamCheck] = []
    last_subject: dict[float, PersonPose] = {}
    for k, (r, start, stop) in enumerate(parts):
        offsets = np.concatenate([[0], np.cumsum(r.counts, dtype=np.int64)])
        if k > 0:
            seams.append(_seam_check(k, r, bounds[k][1], offsets, last_subject, size))
            last_subject = {}
        own_to = bounds[k][2]
        for t_s, people in _poses(r, start, stop, offsets):
            pose = tracker.choose([p for p, _ in people], t_s)
            collect.add(t_s, pose)
            if pose is not None:
                value = next(s for p, s in people if p is pose)
                if not math.isnan(value):
                    sharpness.append(value)
                if own_to is not None and t_s >= own_to - overlap_s - 1e-9:
                    last_subject[t_s] = pose
    image, world = collect.series(first.schema, size)
    media = MediaInfo(
        "video",
        info.container,
        info.codec,
        info.width,
        info.height,
        info.rotation_deg,
        info.nominal_fps,
        info.duration_s,
        len(t_all),
        is_variable(t_all, tick_s),
        False,
        (),
        median_sharpness(sharpness),
    )
    return Extraction(image, world, media, tracker.report, dict(first.provenance), tuple(seams))


def _stitch(chunks: list[_ChunkResult], bounds) -> tuple[np.ndarray, list[tuple[_ChunkResult, int, int]]] | None:
    """Frame ranges to keep from each chunk; None if the seams' timestamps disagree."""
    parts = []
    for k, r in enumerate(chunks):
        _t_from, own_from, own_to = bounds[k]
        start = int(np.searchsorted(r.t_s, own_from - 1e-9)) if k else 0
        stop = len(r.t_s)
        if k:
            prev = chunks[k - 1]
            # the previous chunk stopped at the first frame at/after own_from: it must be this chunk's first owned one
            if start >= len(r.t_s) or prev.next_t_s is None or prev.next_t_s != r.t_s[start]:
                return None
            # the warm-up frames this chunk decoded must be the previous chunk's last frames, exactly
            warm = r.t_s[:start]
            if len(warm) == 0 or len(prev.t_s) < len(warm) or not np.array_equal(prev.t_s[-len(warm) :], warm):
                return None
        if own_to is not None and r.next_t_s is None:
            return None  # ended before its chunk did
        parts.append((r, start, stop))
    t_all = np.concatenate([r.t_s[a:b] for r, a, b in parts])
    return t_all, parts


def _seam_check(
    k: int, r: _ChunkResult, own_from: float, offsets: np.ndarray, last_subject: dict[float, PersonPose], size_wh
) -> SeamCheck:
    """Compare the previous chunk's subject with this chunk's people on the shared (warm-up) frames."""
    start = int(np.searchsorted(r.t_s, own_from - 1e-9))
    distances = []
    for t_s, people in _poses(r, 0, start, offsets):
        subject = last_subject.get(t_s)
        if subject is None or not people:
            continue
        centre, size = _hip_centre(subject, size_wh), max(_torso_len(subject, size_wh), 1e-6)
        distances.append(min(float(np.linalg.norm(_hip_centre(p, size_wh) - centre)) / size for p, _ in people))
    return SeamCheck(
        k,
        own_from,
        start,
        int(sum(d <= 0.5 for d in distances)),
        round(float(np.median(distances)), 4) if distances else None,
    )
