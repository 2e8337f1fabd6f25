"""One long video on two cores: end-to-end frames/s, per-stage cost and memory, against a same-run baseline.

    python -m bench throughput [--seconds 60] [--long-minutes 10] [--workers 2] [--rounds 3]
                               [--profile-frames 300] [--all] [--keep DIR]

Real footage (``tests/fixtures/video/pose2sim_cam01.mp4``, 100 frames at 60 fps, 1080x1920)
is looped forwards and backwards into one minute at 30 fps and encoded with PyAV's x264
(preset veryfast, CRF 23, a keyframe every 2 s, as phones do), twice: 1080x1920 portrait
and 1280x720 landscape (the portrait picture scaled to 720 high and centred on a grey
canvas). The files go to a temporary folder and are deleted afterwards.

For each clip, in the same run:

* **bare**: one process pinned to one core, PyAV decode + MediaPipe's PoseLandmarker with
  its own defaults on every frame, nothing else (`bench.pipeline._bare`). The two-core
  limit is twice its frames/s.
* **parallel**: the analysis end to end as ``motionscript analyze`` runs it by default on this
  machine (``prepare_input`` + ``analyze_landmarks`` + the JSON document, imports included):
  the video cut into ``--workers`` chunks (`vision.parallel`), the first chunk's worker started
  before the imports as the CLI starts it (`vision.head_start`); frames/s against ``workers`` x
  bare (project issue 19's target: >= 1.2 on both clips; issue 5's was 0.9), with the wall
  time of each phase; once with the chunks on processes and once on threads of the analysing
  process (``MOTIONSCRIPT_CHUNK_RUNNER``), the target judged on the configured runner.
* with ``--all``, issue 5's figures too: **serial** (`analyze` pinned to one core) and, on the
  portrait clip, the runtimes side by side: **bare_onnx** (decode + the ONNX backend as the
  analysis runs it), **bare_mp2** (decode + the MediaPipe backend with two poses, its detector
  on every frame) and **serial_mediapipe** (`analyze` with ``MOTIONSCRIPT_POSE_BACKEND=mediapipe``).
* **profile**: CPU time per frame of every stage of the extraction (decode, colour
  conversion, crops, detector, landmark model, landmark decoding, ROI logic, tracking,
  sharpness), ``--profile-frames`` frames of each clip in one process pinned to one core
  (`profile_stages`), for whole-frame RGB crops (the default) and crops from the YUV planes.

The modes run in ``--rounds`` interleaved rounds (each round in a rotated order), and every
ratio is taken against the bare run of its own round; the median round is reported. On a
shared host (a cloud VM) the same process runs 20-40 % faster or slower from one minute to
the next, so one run of each, minutes apart, can put the ratio anywhere in that range.
Each run's CPU time (the child and the workers it waited for, ``RUSAGE_CHILDREN``) is printed
per frame as well: the cost of a frame, which does not depend on how the two cores were shared.

Each measured run is a fresh ``python`` subprocess, so imports and model start-up count,
and its peak RSS is the peak of the sum of ``VmRSS`` over it and all its descendants
(``/proc``, sampled every 50 ms). Memory flatness: the parallel analysis of the 720p minute
looped ``--long-minutes`` times (packets copied with shifted timestamps, no re-encoding)
against the one-minute file (target: within 10 %). Every block prints the load average:
the machine may be shared, and only same-run ratios compare between runs. Exit status 1
when a target is not met or the runs disagree on the frame count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
#: End-to-end frames/s of the analysis on ``--workers`` processes over ``workers`` x bare (project issue 19).
TARGET = 1.2
#: The bench's modes that analyse on several cores, by what runs the chunks (``MOTIONSCRIPT_CHUNK_RUNNER``).
RUNNERS = {"parallel": "processes", "parallel_threads": "threads"}


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


def profile_stages(path: str, frames: int, start_s: float = 10.0) -> dict[str, dict[str, float]]:
    """CPU ms per frame of each stage of the extraction, ``frames`` frames of ``path`` from ``start_s``.

    Run in one process pinned to one core (`run` ``"profile"``). Each stage is timed with
    ``time.thread_time`` around the call that does it (the model runs, the crops, landmark
    decoding, the whole-frame colour conversion, tracking, sharpness); demux and decode are
    the rest of the process's CPU time (``time.process_time``, FFmpeg's threads included).
    Both ways of cropping: ``rgb`` (whole frames converted, the default) and ``yuv``
    (`vision.yuv`: crops from the planes, the colour conversion then counts in the crops).
    """
    from vision.backends import _blazepose as bp
    from vision.backends.onnx import Backend
    from vision.decode import VideoReader
    from vision.extract import SHARPNESS_EVERY, LandmarkCollector, pose_input, subject_sharpness
    from vision.tracking import SubjectTracker

    out = {}
    for variant in ("rgb", "yuv"):
        cpu: dict[str, float] = {}

        def timed(label: str, fn, cpu=cpu):
            def wrapper(*args, **kwargs):
                t = time.thread_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    cpu[label] = cpu.get(label, 0.0) + time.thread_time() - t

            return wrapper

        patches = [
            (VideoReader, "_rgb", "colour conversion, whole frame"),
            (bp, "crop", "crop/warp to the model inputs"),
            (bp, "decode_landmarks", "landmark decoding (numpy)"),
        ]
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        for obj, name, label in patches:
            setattr(obj, name, timed(label, getattr(obj, name)))
        try:
            with Backend.from_name() as backend:
                for session, label in ((backend._landmarker, "landmark model"), (backend._detector, "person detector")):
                    session.run = timed(label, session.run)
                estimate = timed("pose total", backend.estimate)
                start = time.process_time()
                with VideoReader(path, start_s=start_s) as video:
                    tracker = SubjectTracker((video.info.width, video.info.height))
                    collect = LandmarkCollector(len(backend.schema))
                    n = 0
                    for picture in video.pictures(yuv=variant == "yuv"):
                        pixels = pose_input(backend, picture)
                        people = estimate(pixels, picture.t_s)
                        t = time.thread_time()
                        pose = tracker.choose(people, picture.t_s)
                        collect.add(picture.t_s, pose)
                        cpu["subject tracking"] = cpu.get("subject tracking", 0.0) + time.thread_time() - t
                        if pose is not None and picture.index % SHARPNESS_EVERY == 0:
                            t = time.thread_time()
                            subject_sharpness(pixels, pose.bbox())
                            cpu["sharpness (every 5th frame)"] = (
                                cpu.get("sharpness (every 5th frame)", 0.0) + time.thread_time() - t
                            )
                        n += 1
                        if n == frames:
                            break
                total = time.process_time() - start
        finally:
            for obj, name, fn in saved:
                setattr(obj, name, fn)
        pose_total = cpu.pop("pose total")
        inner = ("crop/warp to the model inputs", "person detector", "landmark model", "landmark decoding (numpy)")
        cpu["pose: ROI logic, NMS, Python"] = pose_total - sum(cpu.get(k, 0.0) for k in inner)
        cpu["demux + decode (all threads)"] = (
            total
            - pose_total
            - sum(
                cpu.get(k, 0.0)
                for k in ("colour conversion, whole frame", "subject tracking", "sharpness (every 5th frame)")
            )
        )
        cpu["total"] = total
        out[variant] = {k: v / n * 1e3 for k, v in cpu.items()}
    return out


STAGES = (
    "demux + decode (all threads)",
    "colour conversion, whole frame",
    "crop/warp to the model inputs",
    "person detector",
    "landmark model",
    "landmark decoding (numpy)",
    "pose: ROI logic, NMS, Python",
    "subject tracking",
    "sharpness (every 5th frame)",
    "total",
)


_CHILD = r"""
import json, os, sys, time
mode, path, workers, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if __name__ == "__main__":
    if not mode.startswith("parallel"):
        os.sched_setaffinity(0, {cpu})  # "on one core": decode threads included
    start = time.perf_counter()
    phases = {}
    if mode.startswith("bare"):
        from pathlib import Path
        from bench.pipeline import _bare
        frames, _ = _bare(Path(path), {"bare": "mediapipe", "bare_mp2": "mediapipe2", "bare_onnx": "onnx"}[mode])
    elif mode == "profile":
        from bench.throughput import profile_stages
        frames, phases = 0, profile_stages(path, workers)
    else:
        os.environ["MOTIONSCRIPT_ANALYSIS_PROCESSES"] = str(workers) if mode.startswith("parallel") else "1"
        os.environ["MOTIONSCRIPT_CHUNK_RUNNER"] = "threads" if mode == "parallel_threads" else "processes"
        if mode == "serial_mediapipe":
            os.environ["MOTIONSCRIPT_POSE_BACKEND"] = "mediapipe"
        # as `motionscript analyze` does (service/cli.py): a long video's first chunk starts before the imports
        from service.settings import Settings
        from vision.head_start import start_head
        settings = Settings()
        head = start_head(
            path, settings.backend_factory(video=True), settings.processes_per_video,
            threads=settings.chunk_runner == "threads",
        )
        from service.analysis import PoseModels, analyze_landmarks, prepare_input
        t = {"import": time.perf_counter()}
        p = prepare_input(path, pose=PoseModels.from_settings(settings), head_start=head)
        t["decode + pose + tracking (prepare_input)"] = time.perf_counter()
        a = analyze_landmarks(p.landmarks, input_info=p.info, model=p.model, subject=p.subject, extra_issues=p.issues)
        t["kinematics (analyze_landmarks)"] = time.perf_counter()
        doc = a.model_dump_json()
        t["JSON document"] = time.perf_counter()
        frames, last = a.input.frames_read, start
        for name, when in t.items():
            phases[name], last = when - last, when
    print(json.dumps({"frames": frames, "seconds": time.perf_counter() - start, "phases": phases}))
"""


def run(mode: str, path: Path, workers: int = 2) -> dict:
    """One fresh process: frames, wall seconds (inside it, imports included) and peak tree RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
    env["PYTHONPATH"] = str(ROOT)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # (the child's own workers were waited for by it)
    result = json.loads(out.strip().splitlines()[-1])
    result.update(
        wall=time.perf_counter() - t0,
        peak_mib=peak[0] / 1024,
        fps=result["frames"] / result["seconds"],
        cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )
    return result


def interleaved(modes: list[str], clip: Path, workers: int, rounds: int) -> list[dict[str, dict]]:
    """``rounds`` rounds of every mode, each round in another order (rotated), so that a
    machine whose speed drifts over minutes (a shared host) weighs on every mode alike."""
    out = []
    for k in range(rounds):
        order = modes[k % len(modes) :] + modes[: k % len(modes)]
        out.append({mode: run(mode, clip, workers) for mode in order})
    return out


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--long-minutes", type=int, default=10, help="length of the memory-flatness run (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of every mode per clip; medians are reported"
    )
    parser.add_argument(
        "--profile-frames", type=int, default=300, help="frames per clip for the stage profile (0: skip)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also analyze on 1 core and the runtimes side by side (issue 5's figures)"
    )
    parser.add_argument("--keep", type=Path, help="write the clips here and keep them (reused if there)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ms-throughput-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    ok = True
    began = time.perf_counter()
    print(f"start: {_load()} on {os.cpu_count()} cores", flush=True)
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
        from service.settings import Settings

        # both runners of the chunks, in the same run; the target is judged on the configured one
        default = "parallel_threads" if Settings().chunk_runner == "threads" else "parallel"
        one_minute = {}
        for label, clip in clips.items():
            modes = ["bare", "parallel", "parallel_threads"]
            if args.all:
                modes.insert(1, "serial")
                if label.endswith("portrait"):
                    modes += ["bare_onnx", "bare_mp2", "serial_mediapipe"]
            rounds = interleaved(modes, clip, args.workers, args.rounds)
            # each mode's median run over the rounds (fps, RSS, CPU, phases), and its ratio to the same round's bare
            r = {
                mode: {
                    "fps": _median([x[mode]["fps"] for x in rounds]),
                    "seconds": _median([x[mode]["seconds"] for x in rounds]),
                    "peak_mib": _median([x[mode]["peak_mib"] for x in rounds]),
                    "cpu_s": _median([x[mode]["cpu_s"] for x in rounds]),
                    "frames": rounds[0][mode]["frames"],
                    "phases": {
                        phase: _median([x[mode]["phases"][phase] for x in rounds])
                        for phase in rounds[0][mode]["phases"]
                    },
                    "ratios": [x[mode]["fps"] / (args.workers * x["bare"]["fps"]) for x in rounds],
                }
                for mode in modes
            }
            one_minute[label] = r
            bare = r["bare"]
            duration = bare["frames"] / 30.0

            def line(name: str, mode: str, extra: str = "", r=r, duration=duration) -> None:
                x = r[mode]
                print(
                    f"  {name:<44} {x['fps']:6.1f} frames/s  real-time {duration / x['seconds']:4.2f}x  "
                    f"peak RSS {x['peak_mib']:5.0f} MiB  CPU {x['cpu_s'] / x['frames'] * 1e3:5.2f} ms/frame{extra}",
                    flush=True,
                )

            print(
                f"\n{label}, {bare['frames']} frames ({duration:.0f} s of video), fresh process each, "
                f"medians of {args.rounds} interleaved rounds; {_load()}"
            )
            line("bare MediaPipe decode + pose, 1 core", "bare", "  (baseline)")
            if "serial" in r:
                line("analyze, 1 core", "serial", f"  time vs bare {bare['fps'] / r['serial']['fps']:5.3f}x")
            for mode, runner in RUNNERS.items():
                ratio = _median(r[mode]["ratios"])
                met = ratio >= TARGET
                judged = mode == default
                ok &= met or not judged
                each = " ".join(f"{x:.3f}" for x in r[mode]["ratios"])
                line(
                    f"analyze end to end, {args.workers} {runner}" + (" (default)" if judged else ""),
                    mode,
                    f"\n  {'':<44} vs {args.workers} x the same round's bare: {ratio:5.3f}x (rounds: {each}; "
                    f"target >= {TARGET}: {'met' if met else 'NOT met'}); CPU per frame "
                    f"{bare['cpu_s'] / bare['frames'] / (r[mode]['cpu_s'] / r[mode]['frames']):4.2f}x less than bare",
                )
                for phase, seconds in r[mode]["phases"].items():
                    print(f"    {phase:<42} {seconds:6.2f} s wall", flush=True)
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
            ok &= len({x[mode]["frames"] for x in rounds for mode in modes}) == 1
        if args.profile_frames:
            print(
                f"\nper-stage CPU time, ms per frame, one process pinned to one core, {args.profile_frames} frames "
                f"from 10 s (the first of them search for people on every frame, as a chunk's first second does); "
                f"rgb: whole frames converted (the default), yuv: crops from the planes (crops_from_yuv)"
            )
            profiles = {label: run("profile", clip, args.profile_frames)["phases"] for label, clip in clips.items()}
            head = "".join(f"{label.split()[0] + ' ' + v:>18}" for label in profiles for v in ("rgb", "yuv"))
            print(f"  {'stage':<34}{head}   ({_load()})")
            for stage in STAGES:
                cells = "".join(
                    f"{profiles[label][v].get(stage, 0.0):18.2f}" for label in profiles for v in ("rgb", "yuv")
                )
                print(f"  {stage:<34}{cells}", flush=True)
        if args.long_minutes:
            label = "1280x720"
            long_clip = loop_clip(clips[label], tmp / "long.mp4", round(args.long_minutes * 60 / args.seconds))
            short, long = one_minute[label][default], run(default, long_clip, args.workers)
            growth = long["peak_mib"] / short["peak_mib"] - 1
            flat = growth <= 0.10
            ok &= flat
            print(
                f"\nmemory, {label}, analyze on {args.workers} {RUNNERS[default]}: {args.seconds:g} s video peak "
                f"{short['peak_mib']:.0f} MiB; {args.long_minutes} min ({long['frames']} frames, "
                f"{long['seconds']:.0f} s, {long['fps']:.1f} frames/s) peak {long['peak_mib']:.0f} MiB: "
                f"{growth * 100:+.1f} % (target within 10 %: {'met' if flat else 'NOT met'}); {_load()}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ndone in {time.perf_counter() - began:.0f} s; {_load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
