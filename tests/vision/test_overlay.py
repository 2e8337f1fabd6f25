"""The annotated video, on videos made here with known content: timestamps, frame count, markers, memory."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from kinematics.series import BLAZEPOSE33, LandmarkSeries
from vision.decode import VideoReader
from vision.overlay import (
    HIP_MARKER_RGB,
    Annotations,
    OverlayEvent,
    h264_encoder,
    pack_landmarks,
    render_overlay,
    unpack_landmarks,
)

HIPS = (BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip"))


def make_video(path, t_s, size_wh=(320, 240), time_base=Fraction(1, 90000), rotate_90=False) -> None:
    """A grey noise video with the given frame times (variable frame rate allowed)."""
    w, h = size_wh
    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("libx264", rate=30, options={"crf": "18", "preset": "ultrafast"})
    stream.width, stream.height = w, h
    stream.pix_fmt = "yuv420p" if w % 2 == h % 2 == 0 else "yuv444p"  # 4:2:0 needs even sizes
    stream.time_base = stream.codec_context.time_base = time_base
    if rotate_90:  # a phone's portrait clip: coded landscape, shown turned
        stream.set_display_rotation(-90)
    rng = np.random.default_rng(1)
    for t in t_s:
        img = rng.integers(60, 120, (h, w, 3), dtype=np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts, f.time_base = round(t / time_base), time_base
        for p in stream.encode(f):
            out.mux(p)
    for p in stream.encode():
        out.mux(p)
    out.close()


def landmarks_for(t_s, size_wh, rng) -> LandmarkSeries:
    n = len(t_s)
    xyz = np.empty((n, 33, 3))
    xyz[..., 0] = rng.uniform(0.2, 0.8, (n, 33))
    xyz[..., 1] = rng.uniform(0.2, 0.8, (n, 33))
    xyz[..., 2] = 0.0
    xyz[:, HIPS[0], :2] = np.c_[np.linspace(0.55, 0.6, n), np.linspace(0.5, 0.55, n)]
    xyz[:, HIPS[1], :2] = np.c_[np.linspace(0.4, 0.35, n), np.linspace(0.52, 0.5, n)]
    vis = np.ones((n, 33))
    xyz[3] = np.nan  # no person in one frame
    vis[3] = 0.0
    return LandmarkSeries(np.asarray(t_s), xyz, vis, BLAZEPOSE33, "image_norm", size_wh)


def hip_marker_centres(rgb: np.ndarray) -> np.ndarray:
    """Centroids of the blobs of the hip marker colour (after H.264's chroma subsampling)."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    target = np.array(HIP_MARKER_RGB)
    mask = (np.abs(r - target[0]) < 70) & (g < 90) & (np.abs(b - target[2]) < 70)
    n, _, stats, centres = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    return centres[1:][stats[1:, cv2.CC_STAT_AREA] >= 12]


def decoded(path):
    with VideoReader(path) as v:
        return [(f.t_s, np.array(f.rgb)) for f in v], v.info


def test_the_encoder_is_h264():
    assert h264_encoder() in ("libx264", "libopenh264")


def test_packed_landmarks_keep_every_frame_to_an_eighth_of_a_pixel(rng):
    t = np.arange(50) / 30.0
    lm = landmarks_for(t, (1080, 1920), rng)
    blob = pack_landmarks(lm)
    back = unpack_landmarks(blob)
    px = lm.xyz[:, :, :2] * np.array([1080, 1920])
    ok = np.isfinite(px)
    assert back.size_wh == (1080, 1920) and np.array_equal(back.t_s, t)
    assert np.array_equal(np.isfinite(back.xy_px), ok)
    assert np.max(np.abs(back.xy_px[ok] - px[ok])) <= 0.125 + 1e-9
    assert np.max(np.abs(back.visibility - lm.visibility)) <= 0.5 / 255 + 1e-9
    assert len(blob) < 50 * 33 * 5  # under 5 bytes per landmark, compressed


def test_variable_frame_rate_timestamps_and_frame_count_are_kept_and_hips_drawn_in_place(tmp_path, rng):
    t = np.cumsum(np.r_[0.0, rng.uniform(1 / 40, 1 / 20, 59)])  # a phone's irregular clock
    t = np.round(t * 90000) / 90000
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, t, (321, 241))  # odd sizes: the encoder needs even ones
    lm = landmarks_for(t, (321, 241), rng)
    events = [OverlayEvent("repetition", 0.5, 1.0, side="left", label="rep 1")]
    stats = render_overlay(src, out, unpack_landmarks(pack_landmarks(lm)), Annotations({"a": np.zeros(60)}, events))
    assert stats.frames == 60
    frames_in, _ = decoded(src)
    frames_out, info = decoded(out)
    assert len(frames_out) == len(frames_in) == 60
    np.testing.assert_allclose([f[0] for f in frames_out], [f[0] for f in frames_in], atol=1e-6)
    assert info.codec == "h264" and (info.width, info.height) == (322, 242)
    for k in (0, 3, 20, 59):
        centres = hip_marker_centres(frames_out[k][1])
        if k == 3:
            assert len(centres) == 0  # no person, no marker
            continue
        for j in HIPS:
            want = lm.xyz[k, j, :2] * np.array([321, 241])
            assert np.min(np.hypot(*(centres - want).T)) <= 3.0, (k, j, centres, want)


def test_a_rotated_input_is_written_upright(tmp_path, rng):
    t = np.arange(10) / 30.0
    src, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_video(src, t, (320, 240), rotate_90=True)
    with VideoReader(src) as v:
        assert v.info.rotation_deg in (90, 270) and (v.info.width, v.info.height) == (240, 320)
    lm = landmarks_for(t, (240, 320), rng)
    render_overlay(src, out, unpack_landmarks(pack_landmarks(lm)))
    frames_out, info = decoded(out)
    assert (info.width, info.height) == (240, 320) and info.rotation_deg == 0 and len(frames_out) == 10
    centres = hip_marker_centres(frames_out[5][1])
    want = lm.xyz[5, HIPS[0], :2] * np.array([240, 320])
    assert np.min(np.hypot(*(centres - want).T)) <= 3.0


def test_landmarks_of_another_frame_size_are_refused(tmp_path, rng):
    from kinematics.errors import MotionscriptError

    t = np.arange(5) / 30.0
    make_video(tmp_path / "in.mp4", t)
    lm = landmarks_for(t, (640, 480), rng)
    with pytest.raises(MotionscriptError, match="640x480"):
        render_overlay(tmp_path / "in.mp4", tmp_path / "out.mp4", unpack_landmarks(pack_landmarks(lm)))


def _peak_bytes(tmp_path, n, rng) -> int:
    t = np.arange(n) / 30.0
    src = tmp_path / f"in{n}.mp4"
    make_video(src, t, (640, 480))
    lm = unpack_landmarks(pack_landmarks(landmarks_for(t, (640, 480), rng)))
    tracemalloc.start()
    try:
        render_overlay(src, tmp_path / f"out{n}.mp4", lm)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_length_of_the_video(tmp_path, rng):
    short, long = _peak_bytes(tmp_path, 30, rng), _peak_bytes(tmp_path, 240, rng)
    frame = 640 * 480 * 3
    # Keeping the frames would add ~210 of them (190 MB); streaming adds only the landmark arrays.
    assert long - short < 2 * frame, (short, long)
