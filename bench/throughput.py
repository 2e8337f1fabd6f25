"""One long video on two cores: throughput, real-time factor and memory, against a same-run baseline.

    python -m bench throughput [--seconds 60] [--long-minutes 10] [--workers 2] [--keep DIR]

Real footage (``tests/fixtures/video/pose2sim_cam01.mp4``, 100 frames at 60 fps, 1080x1920)
is looped forwards and backwards into one minute at 30 fps and encoded with PyAV's x264
(preset veryfast, CRF 23, a keyframe every 2 s, as phones do), twice: 1080x1920 portrait
and 1280x720 landscape (the portrait picture scaled to 720 high and centred on a grey
canvas). The files go to a temporary folder and are deleted afterwards.

For each clip, in the same run (project issue 5's definitions):

* **bare**: one process pinned to one core, PyAV decode + MediaPipe's PoseLandmarker with
  its own defaults on every frame, nothing else (`bench.pipeline._bare`). The two-core
  limit is twice its frames/s.
* **serial**: `motionscript analyze`'s `analyze_file`, one process, pinned to one core;
  its time over bare's is the overhead of everything Motionscript adds (target <= 1.15).
* **parallel**: `analyze_file` as it runs by default on this machine: the video cut into
  ``--workers`` chunks, one process each (`vision.parallel`); frames/s against the two-core
  limit (target >= 0.9).
* portrait only, the runtimes side by side: **bare_onnx** (decode + the ONNX backend as
  the analysis runs it), **bare_mp2** (decode + the MediaPipe backend as the analysis
  would run it: two poses, so its detector runs on every frame) and **serial_mediapipe**
  (`analyze_file` with ``MOTIONSCRIPT_POSE_BACKEND=mediapipe``), all on one core.

Each measured run is a fresh ``python`` subprocess, so imports and model start-up count,
and its peak RSS is the peak of the sum of ``VmRSS`` over it and all its descendants
(``/proc``, sampled every 50 ms). Memory flatness: the parallel analysis of the 720p minute
looped ``--long-minutes`` times (packets copied with shifted timestamps, no re-encoding)
against the one-minute file (target: within 10 %).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"


# -- clips ---------------------------------------------------------------------------------------


def make_clip(
    dst: Path,
    *,
    seconds: float,
    size_wh: tuple[int, int] = (1080, 1920),
    fps: int = 30,
    gop: int = 60,
    source: Path = SOURCE,
) -> Path:
    """Loop ``source`` forwards then backwards into ``seconds`` of H.264 at ``fps``, ``size_wh``."""
    import av
    import cv2
    import numpy as np

    from vision.decode import VideoReader

    with VideoReader(source) as video:
        frames = [f.rgb for f in video]
    w, h = size_wh
    sh, sw = frames[0].shape[:2]
    if (sw, sh) != (w, h):
        scale = min(w / sw, h / sh)
        nw, nh = round(sw * scale) // 2 * 2, round(sh * scale) // 2 * 2
        x0, y0 = (w - nw) // 2, (h - nh) // 2
        canvas = []
        for rgb in frames:
            out = np.full((h, w, 3), 118, np.uint8)
            out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
            canvas.append(out)
        frames = canvas
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))  # ping-pong, no repeated ends
    n = round(seconds * fps)
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(gop), "keyint_min": str(gop)}
        stream.thread_type = "AUTO"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frames[order[i % len(order)]], format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


def loop_clip(src: Path, dst: Path, times: int) -> Path:
    """``src`` played ``times`` times back to back: packets copied, timestamps shifted, no re-encoding."""
    import av

    with av.open(str(src)) as inp:
        s_in = inp.streams.video[0]
        duration = s_in.duration  # in s_in.time_base
        packets = [(p.pts, p.dts, bytes(p), p.is_keyframe) for p in inp.demux(s_in) if p.size]
        tb = s_in.time_base
        with av.open(str(dst), "w") as out:
            s_out = out.add_stream_from_template(s_in)
            for k in range(times):
                for pts, dts, data, key in packets:
                    p = av.Packet(data)
                    p.pts, p.dts = pts + k * duration, dts + k * duration
                    p.time_base, p.is_keyframe, p.stream = tb, key, s_out
                    out.mux(p)
    return dst


# -- measurement -----------------------------------------------------------------------------------


def _tree_rss_kib(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


_CHILD = r"""
import json, os, sys, time
mode, path, workers, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if __name__ == "__main__":
    if not mode.startswith("parallel"):
        os.sched_setaffinity(0, {cpu})  # "on one core": decode threads included
    start = time.perf_counter()
    if mode.startswith("bare"):
        from pathlib import Path
        from bench.pipeline import _bare
        frames, _ = _bare(Path(path), {"bare": "mediapipe", "bare_mp2": "mediapipe2", "bare_onnx": "onnx"}[mode])
    else:
        os.environ["MOTIONSCRIPT_ANALYSIS_PROCESSES"] = str(workers) if mode == "parallel" else "1"
        if mode == "serial_mediapipe":
            os.environ["MOTIONSCRIPT_POSE_BACKEND"] = "mediapipe"
        from service.analysis import analyze_file
        frames = analyze_file(path).input.frames_read
    print(json.dumps({"frames": frames, "seconds": time.perf_counter() - start}))
"""


def run(mode: str, path: Path, workers: int = 2) -> dict:
    """One fresh process: frames, wall seconds (inside it, imports included) and peak tree RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
    env["PYTHONPATH"] = str(ROOT)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode, str(path), str(workers), str(cpu)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {path.name} failed ({proc.returncode}): {err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=time.perf_counter() - t0, peak_mib=peak[0] / 1024, fps=result["frames"] / result["seconds"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--long-minutes", type=int, default=10, help="length of the memory-flatness run (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the clips here and keep them (reused if there)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ms-throughput-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        clips = {}
        for label, size in (("1080x1920 portrait", (1080, 1920)), ("1280x720", (1280, 720))):
            t = time.perf_counter()
            clip = tmp / f"clip_{size[0]}x{size[1]}_{args.seconds:g}s.mp4"
            clips[label] = clip if clip.exists() else make_clip(clip, seconds=args.seconds, size_wh=size)
            print(
                f"made {label}: {args.seconds:g} s, {clips[label].stat().st_size / 1e6:.1f} MB in "
                f"{time.perf_counter() - t:.0f} s",
                flush=True,
            )
        one_minute = {}
        for label, clip in clips.items():
            modes = ["bare", "serial", "parallel"]
            if label.endswith("portrait"):
                modes += ["bare_onnx", "bare_mp2", "serial_mediapipe"]
            r = {mode: run(mode, clip, args.workers) for mode in modes}
            one_minute[label] = r
            bare = r["bare"]
            limit = args.workers * bare["fps"]
            duration = bare["frames"] / 30.0

            def line(name: str, mode: str, extra: str = "", r=r, duration=duration) -> None:
                x = r[mode]
                print(
                    f"  {name:<44} {x['fps']:6.1f} frames/s  real-time {duration / x['seconds']:4.2f}x  "
                    f"peak RSS {x['peak_mib']:5.0f} MiB{extra}",
                    flush=True,
                )

            print(f"\n{label}, {bare['frames']} frames ({duration:.0f} s of video), fresh process each")
            line("bare MediaPipe decode + pose, 1 core", "bare", "  (baseline)")
            line("analyze, 1 core", "serial", f"  overhead {bare['fps'] / r['serial']['fps']:5.3f}x (target <= 1.15)")
            line(
                f"analyze, {args.workers} processes",
                "parallel",
                f"  vs {args.workers}-core limit {limit:.1f}: {r['parallel']['fps'] / limit:5.3f} (target >= 0.9)",
            )
            if "bare_onnx" in r:
                line(
                    "bare decode + ONNX backend, 1 core",
                    "bare_onnx",
                    f"  {r['bare_onnx']['fps'] / bare['fps']:4.2f}x bare MediaPipe",
                )
                line(
                    "bare decode + MediaPipe backend (2 poses), 1 core",
                    "bare_mp2",
                    f"  {r['bare_mp2']['fps'] / bare['fps']:4.2f}x bare MediaPipe",
                )
                line(
                    "analyze with MOTIONSCRIPT_POSE_BACKEND=mediapipe, 1 core",
                    "serial_mediapipe",
                    f"  ONNX analyze is {r['serial']['fps'] / r['serial_mediapipe']['fps']:4.2f}x faster",
                )
            ok &= len({x["frames"] for x in r.values()}) == 1
        if args.long_minutes:
            label = "1280x720"
            long_clip = loop_clip(clips[label], tmp / "long.mp4", round(args.long_minutes * 60 / args.seconds))
            short, long = one_minute[label]["parallel"], run("parallel", long_clip, args.workers)
            growth = long["peak_mib"] / short["peak_mib"] - 1
            print(
                f"\nmemory, {label}, analyze on {args.workers} processes: {args.seconds:g} s video peak "
                f"{short['peak_mib']:.0f} MiB; {args.long_minutes} min ({long['frames']} frames, "
                f"{long['seconds']:.0f} s, {long['fps']:.1f} frames/s) peak {long['peak_mib']:.0f} MiB: "
                f"{growth * 100:+.1f} %"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
