"""A fake-camera clip whose repetition count is known by construction, from real footage.

``tests/fixtures/video/pose2sim_cam01.mp4`` films one real person side-on (60 fps, 100
frames). Over frames 0-45 the larger of the two hip flexion angles rises from about 3 deg
to about 41 deg (measured with the live endpoint's image-mode model at 360x640, see
``test_clip.py``): one knee comes forward. Played forward then backward ("ping-pong"), that
segment is exactly one repetition of ``standing_hip_flexion`` (its protocol counts from
15 deg; live counts with the protocol, ``service/live.py``); repeated ``reps`` times, exactly
``reps`` repetitions, were the view side-on (it is 30 deg off the front: ``test_clip.py``). The clip starts and ends with blank frames (nobody in
view) and holds the first frame still before and after the repetitions, so that the rest
level is seen first and the last repetition ends before the person leaves the view.

Chromium's fake camera loops the file; the blank gap marks where one pass ends.

Run ``python -m tests.web.clip OUT.y4m`` to write the clip by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"
SEGMENT = (0, 45)  # source frames [first, last]: hip flexion ~3 deg -> ~41 deg
EXERCISE = "standing_hip_flexion"


@dataclass(frozen=True, kw_only=True)
class ClipSpec:
    """What the clip holds; ``fps`` is the rate the y4m declares (the source's 60 fps halved: slower moves)."""

    reps: int = 3
    fps: int = 30
    size_wh: tuple[int, int] = (360, 640)
    blank_s: float = 1.5
    rest_s: float = 1.0

    @property
    def frames_per_rep(self) -> int:
        first, last = SEGMENT
        return 2 * (last - first)


def source_frames(size_wh: tuple[int, int]) -> list[np.ndarray]:
    """The segment's frames, RGB uint8, resized to ``size_wh`` (upright; the fixture is portrait)."""
    import av
    import cv2

    first, last = SEGMENT
    out = []
    with av.open(str(SOURCE)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i > last:
                break
            if i >= first:
                rgb = frame.to_ndarray(format="rgb24")
                out.append(cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA))
    if len(out) != last - first + 1:
        raise RuntimeError(f"{SOURCE}: expected frames {first}-{last}, decoded {len(out)}")
    return out


def clip_frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """Blank, rest, ``reps`` x (forward, backward), rest, blank."""
    seg = source_frames(spec.size_wh)
    w, h = spec.size_wh
    blank = np.full((h, w, 3), 40, np.uint8)  # dark grey: no person
    n_blank, n_rest = round(spec.blank_s * spec.fps), round(spec.rest_s * spec.fps)
    yield from [blank] * n_blank
    yield from [seg[0]] * n_rest
    for _ in range(spec.reps):
        yield from seg[:-1]  # forward: frames 0 .. 44
        yield from seg[:0:-1]  # backward: frames 45 .. 1
    yield from [seg[0]] * n_rest
    yield from [blank] * n_blank


def _rgb_to_i420(rgb: np.ndarray) -> bytes:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()


def write_y4m(path: Path, spec: ClipSpec = ClipSpec()) -> int:
    """Write the clip as YUV4MPEG2 (4:2:0), the format Chromium's fake camera plays; returns the frame count."""
    w, h = spec.size_wh
    n = 0
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{spec.fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in clip_frames(spec):
            f.write(b"FRAME\n")
            f.write(_rgb_to_i420(rgb))
            n += 1
    return n


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "clip.y4m")
    print(f"{out}: {write_y4m(out)} frames")
