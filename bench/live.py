"""Live feedback benchmark: ``/v1/live`` over a WebSocket on loopback, against a real server process.

    python -m bench live [--frames 100] [--rounds 2] [--size 640x480]

Frames: the real clip's frames letterboxed into ``--size`` (default 640x480, a
phone camera's live preview) and JPEG-encoded at quality 85.

0. Single-frame latency on one core (a child process pinned to one CPU):
   JPEG decode + pose + angles per frame with the model a live connection gets
   (VIDEO mode: tracks the person between frames), p50/p95, against the IMAGE-mode
   model of ``/v1/frames`` (searches the whole picture every frame). Target
   (project issue 5): p95 <= 30 ms.
1. Round trip: one frame at a time (send, wait for the answer), latency per
   frame, p50/p95. Baseline, in the same run: the same JPEGs decoded and
   analysed in this process by the same kind of FrameAnalyzer, so the ratio is
   what the WebSocket, JSON and the live state add.
2. Outpacing: every frame sent at once, as a camera faster than the server
   would. Frames must be dropped, not queued: sent = answered + dropped, the
   newest frame is the one answered last, and the last answer comes within a
   few analysis times of the last send (a queue would take ``frames`` of them).

The server is ``motionscript serve``'s app (embedded SQLite, no workers).
Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import httpx

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _check(ok: bool, what: str, failures: list[str]) -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        failures.append(what)


def _jpegs(n: int, size_wh: tuple[int, int] = (640, 480)) -> list[bytes]:
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(CLIP))
    out: list[bytes] = []
    w, h = size_wh
    while len(out) < n:
        ok, bgr = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        scale = min(w / bgr.shape[1], h / bgr.shape[0])
        nw, nh = round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)
        canvas = np.full((h, w, 3), 118, np.uint8)
        x0, y0 = (w - nw) // 2, (h - nh) // 2
        canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        out.append(cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    return out


def _analyzer(video: bool):
    """The model a live connection gets (``video``) or the one /v1/frames shares, as the server makes it."""
    from service.frame_analysis import FrameAnalyzer
    from service.settings import Settings

    return FrameAnalyzer(Settings().backend_factory(video=video, live=video, quiet=False)())


def _timed(video: bool, jpegs: list[bytes]) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per frame for decode + analysis, after one warm-up frame."""
    analyzer = _analyzer(video)
    try:
        analyzer.analyze_bytes(jpegs[0], "frame", 0.0)
        wall, cpu = [], []
        for i, jpg in enumerate(jpegs[1:], start=1):
            t0, c0 = time.perf_counter(), time.process_time()
            analyzer.analyze_bytes(jpg, "frame", i / 30)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return wall, cpu
    finally:
        analyzer.close()


def _one_core(n: int, size_wh: tuple[int, int]) -> int:
    """Child process: pinned to one CPU, per-frame latency of both analyzers; prints JSON."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    jpegs = _jpegs(n, size_wh)
    out = {}
    for label, video in (("live", True), ("frames", False)):
        out[label], out[label + "_cpu"] = _timed(video, jpegs)
    print(json.dumps(out))
    return 0


def _serve(port: int) -> int:
    """The server process: the service's app, with ``/v1/live``."""
    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(workers=0), start_workers=False)
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False
    )  # ws="auto", as `motionscript serve`
    return 0


class _Server:
    def __init__(self) -> None:
        from bench._server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory(prefix="motionscript-bench-live-")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
        self.env.update(
            MOTIONSCRIPT_DATA_DIR=self._tmp.name,
            MOTIONSCRIPT_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", "keys", "create", "--clinic", "bench"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        self.key = done.stdout.strip()
        self._log = open(Path(self._tmp.name) / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.live", "--serve", str(self.port)],
            env=self.env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready after 90 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        self._tmp.cleanup()


def _baseline(jpegs: list[bytes]) -> list[float]:
    """Seconds per frame for decode + analysis in this process, the model a live connection gets."""
    return _timed(True, jpegs)[0]


@contextmanager
def _connect(server: _Server, exercise: str) -> Iterator:
    from websockets.sync.client import connect

    with connect(
        f"ws://127.0.0.1:{server.port}/v1/live?exercise={exercise}",
        max_size=None,
        additional_headers={"Authorization": f"Bearer {server.key}"},
    ) as ws:
        ready = json.loads(ws.recv(timeout=120))
        if ready.get("type") != "ready":
            raise RuntimeError(f"expected the ready message, got {ready}")
        yield ws


def _round_trips(server: _Server, jpegs: list[bytes]) -> tuple[list[float], list[dict]]:
    times, answers = [], []
    with _connect(server, "squat") as ws:
        ws.send(json.dumps({"t_s": 0.0}))
        ws.send(jpegs[0])
        ws.recv(timeout=120)  # the first frame loads the model
        for i, jpg in enumerate(jpegs, start=1):
            t0 = time.perf_counter()
            ws.send(json.dumps({"t_s": i / 30}))
            ws.send(jpg)
            answers.append(json.loads(ws.recv(timeout=60)))
            times.append(time.perf_counter() - t0)
    return times, answers


def _outpace(server: _Server, jpegs: list[bytes]) -> tuple[list[dict], float, float]:
    with _connect(server, "squat") as ws:
        t0 = time.perf_counter()
        for i, jpg in enumerate(jpegs):
            ws.send(json.dumps({"t_s": i / 30}))
            ws.send(jpg)
        sent_s = time.perf_counter() - t0
        answers, accounted = [], 0
        while accounted < len(jpegs):
            msg = json.loads(ws.recv(timeout=60))
            if msg["type"] != "frame":
                raise RuntimeError(f"unexpected message {msg}")
            answers.append(msg)
            accounted += 1 + msg["dropped"]
        last_answer_s = time.perf_counter() - t0
    return answers, sent_s, last_answer_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="round-trip passes over the frames")
    parser.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--one-core", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.serve:
        return _serve(args.serve)
    if args.one_core:
        return _one_core(args.frames, size)
    failures: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.live", "--one-core", "--frames", str(args.frames), "--size", args.size],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    one = json.loads(done.stdout.strip().splitlines()[-1])
    l50, l95 = _pct(one["live"], 50) * 1e3, _pct(one["live"], 95) * 1e3
    f50, f95 = _pct(one["frames"], 50) * 1e3, _pct(one["frames"], 95) * 1e3
    print(f"single frame on one core, {args.size} JPEG, {len(one['live'])} frames (decode + pose + angles)")
    print(f"  /v1/frames model (IMAGE mode, baseline)  p50 {f50:6.1f} ms  p95 {f95:6.1f} ms")
    print(
        f"  live model (VIDEO mode, tracking)        p50 {l50:6.1f} ms  p95 {l95:6.1f} ms   ratio p95 {l95 / f95:4.2f}"
    )
    print(
        f"  CPU time per frame (what machine load does not change): live p50 {_pct(one['live_cpu'], 50) * 1e3:.1f} / "
        f"p95 {_pct(one['live_cpu'], 95) * 1e3:.1f} ms, /v1/frames p50 {_pct(one['frames_cpu'], 50) * 1e3:.1f} / "
        f"p95 {_pct(one['frames_cpu'], 95) * 1e3:.1f} ms"
    )
    _check(l95 <= 30.0, f"live single-frame p95 {l95:.1f} ms <= 30 ms on one core", failures)
    jpegs = _jpegs(args.frames, size)
    with _Server() as server:
        rtt, answers = [], []
        base: list[float] = []
        for _ in range(args.rounds):  # interleaved, so machine load hits both alike
            base += _baseline(jpegs)
            t, a = _round_trips(server, jpegs)
            rtt += t
            answers += a
        outpaced, sent_s, last_s = _outpace(server, jpegs)
    b50, r50, r95 = _pct(base, 50) * 1e3, _pct(rtt, 50) * 1e3, _pct(rtt, 95) * 1e3
    analysis = [a["analysis_ms"] for a in answers]
    print(
        f"live: {len(jpegs)} {args.size} JPEG frames of {CLIP.name} (~{statistics.mean(map(len, jpegs)) / 1e3:.0f} kB), "
        f"{args.rounds} rounds, loopback"
    )
    print(f"  in-process analyze_bytes   p50 {b50:6.1f} ms  p95 {_pct(base, 95) * 1e3:6.1f} ms (baseline)")
    print(f"  server analysis (reported) p50 {statistics.median(analysis):6.1f} ms")
    print(f"  WebSocket round trip       p50 {r50:6.1f} ms  p95 {r95:6.1f} ms")
    print(f"  ratio round trip / baseline (p50) {r50 / b50:5.2f}  (1.00 = nothing added)")
    dropped = sum(a["dropped"] for a in outpaced)
    print(
        f"  outpacing: {len(jpegs)} sent in {sent_s * 1e3:.0f} ms; {len(outpaced)} answered, {dropped} dropped; "
        f"last answer {last_s * 1e3:.0f} ms after the first send "
        f"(a queue would need ~{len(jpegs) * statistics.median(analysis):.0f} ms)"
    )
    _check(all(a["dropped"] == 0 for a in answers), "one frame at a time: nothing dropped", failures)
    _check(
        dropped > 0 and len(outpaced) + dropped == len(jpegs),
        "outpaced: sent = answered + dropped, some dropped",
        failures,
    )
    _check(
        abs(outpaced[-1]["t_s"] - (len(jpegs) - 1) / 30) < 1e-6, "outpaced: the newest frame is answered last", failures
    )
    _check(
        max(a["waited_ms"] for a in outpaced) < 5 * statistics.median(analysis) + sent_s * 1e3,
        "outpaced: no frame waited behind a queue",
        failures,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
