"""End-to-end analysis against a bare decode + pose loop on the same file, same run.

    python -m bench pipeline [--video PATH] [--repeat N]

The baseline is the least any analysis must do: decode every frame with PyAV
and run BlazePose on it in one process. The ratio end-to-end / baseline is the
overhead of everything Motionscript adds (subject tracking, landmark
bookkeeping, filtering, angles, view gating, the assessment document).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"


def _bare(path: Path, runtime: str = "mediapipe") -> tuple[int, float]:
    """Decode every frame with PyAV and pose it, nothing else.

    ``runtime``: ``"mediapipe"``, MediaPipe's PoseLandmarker with its own defaults
    (one pose, VIDEO mode: the baseline of project issue 5); ``"mediapipe2"``, as
    the MediaPipe backend runs it (two poses: its detector on every frame while
    one person is in view); ``"onnx"``, the ONNX backend as the analysis runs it.
    """
    import av
    import numpy as np

    if runtime == "onnx":
        from vision.backends.onnx import Backend as Onnx

        make = Onnx.from_name
    else:
        from vision.backends.mediapipe import Backend

        make = lambda: Backend.from_name("blazepose_full", num_poses=1 if runtime == "mediapipe" else 2)  # noqa: E731

    with make() as backend:
        start = time.perf_counter()
        frames = 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                backend.estimate(np.ascontiguousarray(frame.to_ndarray(format="rgb24")), float(frame.time or 0.0))
                frames += 1
        return frames, time.perf_counter() - start


def _end_to_end(path: Path) -> tuple[int, float]:
    from service.analysis import analyze_file

    start = time.perf_counter()
    assessment = analyze_file(path)
    return assessment.input.frames_read, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    _bare(args.video)  # warm caches and the model file once, outside the timing
    bare, e2e = [], []
    for _ in range(args.repeat):  # interleaved, so machine load hits both alike
        n, t = _bare(args.video)
        bare.append(n / t)
        n, t = _end_to_end(args.video)
        e2e.append(n / t)
    b, e = statistics.median(bare), statistics.median(e2e)
    print(f"video: {args.video.name}, {args.repeat} interleaved runs, one process")
    print(f"  bare decode + pose loop     {b:6.1f} frames/s (baseline)")
    print(f"  motionscript analyze        {e:6.1f} frames/s")
    print(f"  overhead ratio (time)       {b / e:6.3f}  (1.00 = nothing added)")
    print(f"  peak RSS                    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:6.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
