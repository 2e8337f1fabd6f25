"""A head start for one video on several cores: the first chunk's worker starts before the caller's imports.

`vision.parallel` cuts a long video into time chunks, one process (or thread) each. Its
caller (``motionscript analyze``) imports the analysis (numpy, scipy, pydantic; about 0.8 s
on one core of this project's machine) and probes the video; were the workers started only
then, one core would idle for that long (docs/performance.md, issue 19). `start_head`
is called *before* those imports: it imports only the standard library and PyAV,
reads the container's duration, and spawns the worker of the first chunk at once. That
worker starts at the video's first frame without knowing where its chunk ends; when the
caller reaches `vision.parallel.extract_video_parallel` it tells the worker where to
stop, and reads the next chunk itself. The head-start chunk is longer than the others by
`HEAD_LEAD_FRAMES` (`split_s`), the work it can do before the caller is ready, so that
all finish together. The cut depends only on the video (duration, frame rate) and the
number of processes, never on timing, so the landmarks are the same on every run; they
differ from the chunked path's without a head start only because the cut is elsewhere
(docs/performance.md: how much a seam moves landmarks).

Nothing here decides *whether* a video is analysed in chunks: the chunked path's own
checks do, and a head start they do not use is cancelled (`HeadStart.cancel`; the worker
stops at its next frame and is joined). It is a daemonic process, so it also ends with
the caller.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HEAD_LEAD_FRAMES", "MIN_PARALLEL_S", "HeadStart", "split_s", "start_head"]

#: Videos shorter than this are extracted in one process (start-up of a worker ~1-2 s).
MIN_PARALLEL_S = 10.0
#: Frames the head-start chunk reads beyond an equal share: half of what the caller does besides its
#: chunk while the worker reads (the analysis imports, ~0.8 s on one core, which it now does after its
#: chunk while the worker ends: `extract_video_parallel(while_waiting=...)`; ~90 frames at ~9 ms per
#: frame, measured): moving the cut by one frame moves the difference between the two chunks by two.
#: With the thread runner the head thread gains only ~0.06 s on the caller, and 45 left the caller idle ~1 s
#: at the end (7 runs); 30 balanced it (4 runs, 2026-12-06). One cut serves both runners (the same video
#: gives the same landmarks either way), and it follows the default runner, processes.
HEAD_LEAD_FRAMES = 45


@dataclass(eq=False)
class HeadStart:
    """The first chunk's worker, already running; used (or cancelled) by `extract_video_parallel`."""

    path: Path
    workers: int
    process: Any  # multiprocessing.Process (spawn context), or a threading.Thread with ``threads``
    stop: Any  # shared double: video time (s) where the chunk ends; NaN until decided, -inf: cancelled
    out_q: Any
    progress_q: Any
    threads: bool = False
    _closed: bool = field(default=False, init=False)

    def cancel(self) -> None:
        """Stop the worker (it ends at its next frame) and release it; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop.value = -math.inf
        if self.threads:  # (a thread cannot be killed: it ends at its next frame, or once its model has loaded)
            self.process.join()
            return
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.out_q.close()
        self.progress_q.close()

    def taken(self) -> None:
        """`extract_video_parallel` has taken the worker and its queues over (it joins and closes them)."""
        self._closed = True


def split_s(duration_s: float, workers: int, overlap_s: float, fps: float) -> float:
    """Where the head-start chunk ends: an equal share of the work plus `HEAD_LEAD_FRAMES`.

    An equal share counts the ``overlap_s`` every later chunk re-reads before its start
    (``vision.parallel._bounds``); the lead is at most a tenth of the video. Depends only
    on its arguments, so the same video is always cut at the same place.
    """
    share = (duration_s + (workers - 1) * overlap_s) / workers
    return share + min(HEAD_LEAD_FRAMES / fps, 0.1 * duration_s)


class _Stop:
    """The thread runner's ``stop``: a float the caller sets and the worker thread reads (as ``RawValue``)."""

    def __init__(self) -> None:
        self.value = math.nan


def start_head(
    path: str | os.PathLike[str], backend_factory, workers: int, *, threads: bool = False
) -> HeadStart | None:
    """Spawn the first chunk's worker now, if the video may be read in ``workers`` chunks; else None.

    Call it before importing the analysis, and pass the result to `extract_video_parallel`
    (through ``service.analysis.analyze_file(head_start=...)``). ``backend_factory`` as there:
    picklable, called with no argument in the worker. None (nothing started) for fewer than 2
    workers, a daemonic caller (which may not start processes), a file that is not a video,
    an AVI, or a video shorter than `MIN_PARALLEL_S` or of unknown duration; any error in
    reading the container is left for the analysis to report.

    ``threads``: the worker is a thread of this process, for `extract_video_parallel` with
    ``threads=True`` (a daemonic caller may start one).
    """
    if workers < 2 or (mp.current_process().daemon and not threads):
        return None
    path = Path(path)
    try:
        from vision._sniff import sniff

        if sniff(path) != "video":
            return None
        import av

        with av.open(str(path), metadata_errors="ignore") as container:
            if "avi" in container.format.name.split(","):
                return None
            duration = None if container.duration is None else container.duration / 1e6
    except Exception:
        return None
    if duration is None or not duration >= MIN_PARALLEL_S:
        return None
    out_q: Any
    progress_q: Any
    stop: Any
    runner: Any  # threading.Thread, or the spawn context's Process
    if threads:
        out_q, progress_q, stop, runner = queue.Queue(), queue.Queue(), _Stop(), threading.Thread
    else:
        ctx = mp.get_context("spawn")
        out_q, progress_q, stop, runner = ctx.Queue(), ctx.Queue(), ctx.RawValue("d", math.nan), ctx.Process
    worker = runner(
        target=_head_worker,
        args=(str(path), backend_factory, stop, out_q, progress_q),
        daemon=True,
        name="motionscript-chunk-0",
    )
    worker.start()
    return HeadStart(path, workers, worker, stop, out_q, progress_q, threads=threads)


def _head_worker(path: str, backend_factory, stop, out_q, progress_q) -> None:
    from vision.parallel import _chunk_or_error

    out_q.put(_chunk_or_error(0, path, backend_factory, 0.0, None, progress_q, False, stop=stop))
