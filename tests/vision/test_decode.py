"""Tests for vision.decode: sniffing, streaming decode, timestamps, orientation, damage.

Real clips come from tests/fixtures (read-only); everything else is written with
PyAV into ``tmp_path`` at test time. Every synthetic picture is black with a
white 16x16 block in the top-left corner, so orientation is visible, and a
green level of ``10 * index``, so frame order is visible.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import cv2
import numpy as np
import pytest

from kinematics.errors import CorruptMediaError, UnsupportedMediaError
from tests._sched import keep_policy
from vision.decode import Frame, VideoReader, _apply_orientation, _Clock, probe, read_image, sniff

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAM01 = FIXTURES / "video" / "pose2sim_cam01.mp4"  # 1080x1920, 60 fps, 100 frames, H.264
SPORTS = FIXTURES / "video" / "sports2d_two_people.mp4"  # 1768x994, 30 fps, 230 frames, VP9
BLOCK = 16


def pattern_rgb(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """``(height, width, 3)`` uint8: white block top-left, green = 10 * index."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 1] = (10 * index) % 250
    rgb[:BLOCK, :BLOCK] = 255
    return rgb


def write_video(
    path: Path,
    *,
    codec: str = "libx264",
    n: int = 10,
    width: int = 64,
    height: int = 48,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation_ccw_deg: int | None = None,
    hflip: bool = False,
    vflip: bool = False,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode ``n`` pattern frames; ``pts`` (in ``time_base``) default to 30 fps.

    The scheduling policy is restored afterwards: libsvtav1 leaves its caller at SCHED_FIFO 99
    when run as root (tests/_sched.py).
    """
    with keep_policy(), av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx265":
            stream.options = {"x265-params": "log-level=none"}
        if time_base is not None:
            stream.time_base = stream.codec_context.time_base = time_base
        if rotation_ccw_deg is not None or hflip or vflip:
            stream.set_display_rotation(rotation_ccw_deg or 0, hflip=hflip, vflip=vflip)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(pattern_rgb(i, height, width), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def ffmpeg_autorotate_rgb(path: Path) -> np.ndarray:
    """First frame as FFmpeg's autorotate shows it: ffplay.c's filter choice, FFmpeg's filters."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        m = np.frombuffer(bytes(side), np.int32) if side is not None else None
        theta = 0.0 if m is None else -round(frame.rotation)  # get_rotation() in cmdutils.c
        theta -= 360 * np.floor(theta / 360 + 0.9 / 360)
        chain: list[tuple[str, str | None]] = []
        if abs(theta - 90) < 1:
            chain = [("transpose", "cclock_flip" if m[3] > 0 else "clock")]
        elif abs(theta - 180) < 1:
            chain = [f for f, on in ((("hflip", None), m[0] < 0), (("vflip", None), m[4] < 0)) if on]
        elif abs(theta - 270) < 1:
            chain = [("transpose", "clock_flip" if m[3] < 0 else "cclock")]
        elif m is not None and m[4] < 0:
            chain = [("vflip", None)]
        rgb_frame = frame.reformat(format="rgb24")
        graph = av.filter.Graph()
        last = graph.add_buffer(
            width=rgb_frame.width, height=rgb_frame.height, format="rgb24", time_base=frame.time_base
        )
        for name, arg in chain:
            node = graph.add(name, arg) if arg else graph.add(name)
            last.link_to(node)
            last = node
        sink = graph.add("buffersink")
        last.link_to(sink)
        graph.configure()
        graph.push(rgb_frame)
        return graph.pull().to_ndarray(format="rgb24")


def jpeg_with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment holding only the Orientation tag (0x0112)."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def block_bbox(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """``(row_min, row_max, col_min, col_max)`` of the white block."""
    rows, cols = np.nonzero(rgb.min(axis=2) > 160)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """``make_video(name, **write_video_kwargs)`` -> path inside ``tmp_path``."""

    def make(name: str, **kwargs: object) -> Path:
        return write_video(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(autouse=True)
def _quiet_svt_av1(monkeypatch: pytest.MonkeyPatch) -> None:
    # libsvtav1 prints a banner to stdout unless told otherwise
    monkeypatch.setenv("SVT_LOG", "0")


def packet_spans(path: Path) -> list[tuple[int, int]]:
    """``(byte offset, size)`` of each video packet, in file order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(video=0) if p.size]


def decode_all(path: Path, **kwargs: object) -> tuple[list[Frame], VideoReader]:
    with VideoReader(path, **kwargs) as video:  # type: ignore[arg-type]
        return list(video), video


# -- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x08mdat", "video"),  # QuickTime without ftyp
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "video"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "video"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", "image"),
        (b"BM\x36\x10\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image"),
        (b'{"frames": []}', "landmarks_json"),
        (b'\xef\xbb\xbf \r\n\t {"frames": []}', "landmarks_json"),
    ],
)
def test_sniff_recognises_magic_bytes_whatever_the_name(tmp_path: Path, head: bytes, kind: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(head + bytes(32))
    assert sniff(path) == kind


def test_sniff_real_fixtures() -> None:
    assert sniff(CAM01) == "video"
    assert sniff(SPORTS) == "video"
    assert sniff(FIXTURES / "images" / "astronaut.png") == "image"
    json_path = next((FIXTURES / "landmarks").rglob("*.json"))
    assert sniff(json_path) == "landmarks_json"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty file"),
        (b"Hello, this is not a video\n", "looks like text (starts with 'Hello, this is not a vid"),
        (b"\x00\x01\x02\x03\xfe\xfd\xfc\xfb" * 8, "unrecognised bytes 0x00010203FEFDFCFB"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIF/AVIF still image (brand 'heic')"),
        (b"GIF89a\x01\x00\x01\x00", "a GIF image"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "a RIFF file of type 'WAVE'"),
        (b'[{"x": 1}]', "JSON array"),
    ],
)
def test_sniff_refuses_with_a_one_line_reason(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "clip.mp4"  # the name must not matter
    path.write_bytes(content)
    with pytest.raises(UnsupportedMediaError) as info:
        sniff(path)
    message = str(info.value)
    assert message.startswith("clip.mp4: ")
    assert says in message
    assert "accepted: video (MP4/MOV, MKV/WebM, AVI), image (JPEG, PNG, WebP, BMP)" in message
    assert "\n" not in message


def test_text_file_named_mp4_is_refused_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "walk.mp4"
    path.write_text("this is a shopping list\n")
    with pytest.raises(UnsupportedMediaError, match=r"^walk\.mp4: .*looks like text"):
        VideoReader(path)


# -- real clips ---------------------------------------------------------------------------------


def test_probe_portrait_phone_clip() -> None:
    info = probe(CAM01)
    assert (info.width, info.height, info.rotation_deg, info.mirrored) == (1080, 1920, 0, False)
    assert info.codec == "h264" and "mp4" in info.container
    assert info.nominal_fps == 60.0 and info.frame_count_reported == 100
    assert info.duration_s == pytest.approx(100 / 60)
    assert info.bit_rate_bps is not None and info.bit_rate_bps > 0


def test_portrait_clip_streams_every_frame_with_container_times() -> None:
    frames, video = decode_all(CAM01)
    # stts: 256 ticks of 1/15360 s per frame, i.e. exactly 1/60 s
    expected_s = [float(Fraction(256 * i, 15360)) for i in range(100)]
    np.testing.assert_array_equal([f.t_s for f in frames], expected_s)
    assert [f.index for f in frames] == list(range(100))
    rgb = frames[0].rgb
    assert rgb.shape == (1920, 1080, 3) and rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous and not rgb.flags.writeable
    stats = video.stats
    assert (stats.frames_read, stats.truncated, stats.decode_errors) == (100, False, 0)
    assert not stats.variable_frame_rate
    assert stats.notes == ()


def test_frames_are_rgb_not_bgr() -> None:
    capture = cv2.VideoCapture(str(CAM01))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    with VideoReader(CAM01) as video:
        rgb = next(iter(video)).rgb
    # both go through FFmpeg's swscale; channel order is the only big difference possible
    as_rgb = np.abs(rgb.astype(int) - bgr[..., ::-1]).mean()
    as_bgr = np.abs(rgb.astype(int) - bgr).mean()
    assert as_rgb < 2.0 and as_bgr > 2 * as_rgb


def test_vp9_landscape_clip_first_frames() -> None:
    with VideoReader(SPORTS) as video:
        info = video.info
        first = [frame for _, frame in zip(range(5), video, strict=False)]
        assert video.frames_read == 5  # streamed: nothing beyond what was asked is converted
    assert (info.codec, info.width, info.height, info.rotation_deg) == ("vp9", 1768, 994, 0)
    assert (info.nominal_fps, info.frame_count_reported) == (30.0, 230)
    assert info.duration_s == pytest.approx(230 / 30)
    np.testing.assert_array_equal([f.t_s for f in first], [float(Fraction(512 * i, 15360)) for i in range(5)])
    assert first[0].rgb.shape == (994, 1768, 3)


# -- codecs and containers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "decoder"),
    [
        ("h264.mp4", "libx264", "h264"),
        ("h264.mov", "libx264", "h264"),
        ("h264.mkv", "libx264", "h264"),
        ("hevc.mp4", "libx265", "hevc"),
        ("vp9.webm", "libvpx-vp9", "vp9"),
        ("av1.mkv", "libsvtav1", "libdav1d"),
        ("mjpeg.avi", "mjpeg", "mjpeg"),
    ],
)
def test_codecs_and_containers_decode_in_order_and_upright(make_video, name: str, codec: str, decoder: str) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} not in this PyAV build")
    height = 64 if codec == "libsvtav1" else 48  # SVT-AV1 wants at least 64 lines
    path = make_video(name, codec=codec, n=12, height=height)
    frames, video = decode_all(path)
    assert video.info.codec == decoder
    assert (video.info.width, video.info.height) == (64, height)
    assert len(frames) == 12 and video.frames_read == 12
    green = [float(f.rgb[BLOCK:, BLOCK:, 1].mean()) for f in frames]
    np.testing.assert_allclose(green, [10 * i for i in range(12)], atol=6)  # presentation order
    assert block_bbox(frames[5].rgb) == (0, BLOCK - 1, 0, BLOCK - 1)
    # 30 fps written; Matroska rounds to whole milliseconds
    atol = 0.0005 if "mkv" in name or "webm" in name else 1e-9
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(12) / 30, atol=atol, rtol=0)
    assert not video.variable_frame_rate and not video.truncated


def test_avi_with_b_frames_is_timed_by_dts(make_video) -> None:
    # AVI stores decode order only; the decoder's reordered "pts" come out as 1, 4, 3, 5, 2 ...
    frames, video = decode_all(make_video("bframes.avi", codec="libx264", n=12))
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(12) / 30, atol=1e-12, rtol=0)
    green = [float(f.rgb[BLOCK:, BLOCK:, 1].mean()) for f in frames]
    np.testing.assert_allclose(green, [10 * i for i in range(12)], atol=6)
    stats = video.stats
    assert stats.timestamps_nudged == 0 and stats.timestamps_from_dts + stats.timestamps_estimated == 12
    assert stats.timestamps_estimated >= 1  # the flushed tail has no dts at all


# -- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vfr.mp4", "vfr.mov"])
def test_variable_frame_rate_timestamps_come_through_exactly(make_video, name: str) -> None:
    pts = [0, 3000, 6000, 9100, 15000, 16500, 30000, 33000, 36010, 45000]  # 1/90000 s ticks
    path = make_video(name, codec="libx264", n=len(pts), pts=pts, time_base=Fraction(1, 90000))
    frames, video = decode_all(path)
    np.testing.assert_array_equal([f.t_s for f in frames], [p / 90000 for p in pts])
    assert video.variable_frame_rate and video.stats.variable_frame_rate
    # average rate = frames / track duration, kept as a float (21.43 here), never an int
    assert video.info.nominal_fps == pytest.approx(10 / video.info.duration_s)
    assert not video.info.nominal_fps.is_integer()


def test_vfr_in_matroska_keeps_millisecond_times(make_video) -> None:
    pts = [0, 3000, 6000, 9100, 15000, 16500, 30000, 33000, 36010, 45000]
    frames, video = decode_all(make_video("vfr.mkv", n=len(pts), pts=pts, time_base=Fraction(1, 90000)))
    np.testing.assert_array_equal([f.t_s for f in frames], [round(p / 90) / 1000 for p in pts])
    assert video.variable_frame_rate


def test_millisecond_rounding_of_constant_rate_is_not_vfr(make_video) -> None:
    _, video = decode_all(make_video("cfr.webm", codec="libvpx-vp9", n=12))
    assert not video.variable_frame_rate


def test_duplicate_timestamps_are_kept_and_nudged(tmp_path: Path) -> None:
    path = tmp_path / "dup.mkv"
    pts_ms = [0, 33, 33, 33, 100, 133]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        packets = []
        for i in range(len(pts_ms)):
            frame = av.VideoFrame.from_ndarray(pattern_rgb(i), format="rgb24")
            frame.pts = i
            packets += stream.encode(frame)
        packets += stream.encode()
        for packet, t_ms in zip(packets, pts_ms, strict=True):
            packet.pts = packet.dts = t_ms
            packet.time_base = Fraction(1, 1000)
            container.mux(packet)
    frames, video = decode_all(path)
    expected_s = [0, 0.033, 0.033001, 0.033002, 0.1, 0.133]
    np.testing.assert_allclose([f.t_s for f in frames], expected_s, atol=1e-12, rtol=0)
    assert video.stats.timestamps_nudged == 2
    assert any("moved 1 µs later" in note for note in video.stats.notes)


def test_clock_falls_back_to_dts_then_to_the_last_interval() -> None:
    clock = _Clock(Fraction(1, 1000))
    pts_dts = [(0, 0), (40, 40), (None, 80), (None, None), (160, 160)]
    got = [clock.stamp(p, d) for p, d in pts_dts]
    np.testing.assert_allclose(got, [0.0, 0.04, 0.08, 0.12, 0.16], atol=1e-12, rtol=0)
    assert (clock.from_dts, clock.estimated, clock.nudged) == (1, 1, 0)


def test_clock_switches_to_dts_once_pts_misbehave_more() -> None:
    clock = _Clock(Fraction(1, 100))
    # pts reordered like a broken B-frame stream, dts monotonic (FFmpeg's guess_correct_pts)
    got = [clock.stamp(p, d) for p, d in [(0, 0), (4, 1), (3, 2), (2, 3), (5, 4), (6, 5), (7, 6)]]
    # pts are trusted until they go backwards; the frames timed before dts catch up are nudged
    np.testing.assert_allclose(got, [0.0, 0.04, 0.040001, 0.040002, 0.040003, 0.05, 0.06], atol=1e-12, rtol=0)
    assert (clock.from_dts, clock.nudged, clock.estimated) == (5, 3, 0)


def test_clock_prefer_dts_times_avi_b_frames_exactly() -> None:
    clock = _Clock(Fraction(1, 30), prefer_dts=True)
    # PyAV's output for a 12-frame x264 AVI: reordered decode counters as pts, dts lagging by 2
    pts_dts = [
        (1, 2),
        (4, 3),
        (3, 4),
        (5, 5),
        (2, 6),
        (8, 7),
        (7, 8),
        (9, 9),
        (6, 10),
        (11, 11),
        (12, None),
        (10, None),
    ]
    got = [clock.stamp(p, d) for p, d in pts_dts]
    np.testing.assert_allclose(got, np.arange(12) / 30, atol=1e-12, rtol=0)
    assert (clock.from_dts, clock.estimated, clock.nudged) == (10, 2, 0)


def test_time_origin_is_the_first_frame(make_video) -> None:
    pts = [9000 + 3000 * i for i in range(5)]  # stream starts at 0.1 s
    frames, _ = decode_all(make_video("late.mp4", n=5, pts=pts, time_base=Fraction(1, 90000)))
    np.testing.assert_array_equal([f.t_s for f in frames], [3000 * i / 90000 for i in range(5)])


@pytest.mark.parametrize("clip", [CAM01, SPORTS], ids=["h264_portrait", "vp9"])
@pytest.mark.parametrize("start_s", [0.35, 1.0, 1.6])
def test_a_reader_started_later_gives_the_same_frames_on_the_same_clock(clip: Path, start_s: float) -> None:
    """What the parallel path needs: seek to a start time, the file's own t = 0, the same pixels."""
    whole, ref = decode_all(clip)
    part, video = decode_all(clip, start_s=start_s)
    later = [f for f in whole if f.t_s >= start_s]
    assert [f.t_s for f in part] == [f.t_s for f in later] and part[0].index == 0
    for a, b in zip(part[:5], later[:5], strict=False):
        np.testing.assert_array_equal(a.rgb, b.rgb)
    assert video.time_base == ref.time_base and video.tick_s == float(ref.time_base) > 0
    assert video.info == ref.info and video.stats.notes == () and not video.truncated


def test_a_start_after_the_last_frame_is_a_clear_error() -> None:
    with pytest.raises(CorruptMediaError, match="no frame at or after 5 s"), VideoReader(CAM01, start_s=5.0) as video:
        list(video)
    with pytest.raises(ValueError, match="start_s"):
        VideoReader(CAM01, start_s=-1.0)


# -- orientation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ccw_deg", "rotation_deg", "bbox"),
    [
        # set_display_rotation takes counter-clockwise degrees, like frame.rotation;
        # the block starts top-left in the 64x48 coded picture.
        (90, 270, (64 - BLOCK, 63, 0, BLOCK - 1)),  # turned counter-clockwise: bottom-left
        (-90, 90, (0, BLOCK - 1, 48 - BLOCK, 47)),  # iPhone portrait: turned clockwise: top-right
        (270, 90, (0, BLOCK - 1, 48 - BLOCK, 47)),
        (180, 180, (48 - BLOCK, 47, 64 - BLOCK, 63)),
    ],
)
def test_rotated_video_comes_out_upright(make_video, ccw_deg: int, rotation_deg: int, bbox: tuple) -> None:
    path = make_video(f"rot{ccw_deg}.mp4", n=3, rotation_ccw_deg=ccw_deg)
    frames, video = decode_all(path)
    upright = (48, 64) if rotation_deg in (90, 270) else (64, 48)
    assert (video.info.width, video.info.height) == upright
    assert (video.info.rotation_deg, video.info.mirrored) == (rotation_deg, False)
    assert all(block_bbox(f.rgb) == bbox for f in frames)
    np.testing.assert_array_equal(frames[0].rgb, ffmpeg_autorotate_rgb(path))


def test_rotation_matches_opencv_autorotate(make_video) -> None:
    path = make_video("phone.mp4", n=2, rotation_ccw_deg=-90)
    capture = cv2.VideoCapture(str(path))  # CAP_PROP_ORIENTATION_AUTO is on by default
    ok, bgr = capture.read()
    capture.release()
    assert ok
    with VideoReader(path) as video:
        rgb = next(iter(video)).rgb
    assert rgb.shape == bgr.shape
    assert block_bbox(rgb) == block_bbox(bgr)


@pytest.mark.parametrize("ccw_deg", [0, 90, 180, 270])
@pytest.mark.parametrize(("hflip", "vflip"), [(True, False), (False, True)])
def test_mirrored_display_matrix_matches_ffmpeg(make_video, ccw_deg: int, hflip: bool, vflip: bool) -> None:
    path = make_video("mirror.mp4", n=2, rotation_ccw_deg=ccw_deg, hflip=hflip, vflip=vflip)
    with VideoReader(path) as video:
        rgb = next(iter(video)).rgb
        assert video.info.mirrored
    np.testing.assert_array_equal(rgb, ffmpeg_autorotate_rgb(path))


def test_apply_orientation_turns_clockwise_then_mirrors() -> None:
    yx = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(_apply_orientation(yx, 90, False), [[4, 1], [5, 2], [6, 3]])
    np.testing.assert_array_equal(_apply_orientation(yx, 270, False), [[3, 6], [2, 5], [1, 4]])
    np.testing.assert_array_equal(_apply_orientation(yx, 180, False), [[6, 5, 4], [3, 2, 1]])
    np.testing.assert_array_equal(_apply_orientation(yx, 0, True), [[3, 2, 1], [6, 5, 4]])


# -- damaged and empty files ----------------------------------------------------------------------------


def test_cut_file_without_moov_index_is_corrupt(tmp_path: Path) -> None:
    data = CAM01.read_bytes()  # moov sits after mdat in this file
    path = tmp_path / "cam01_cut.mp4"
    path.write_bytes(data[: int(0.3 * len(data))])
    with pytest.raises(CorruptMediaError) as info:
        probe(path)
    message = str(info.value)
    assert message.startswith("cam01_cut.mp4: cannot open video: the 'moov' index box is missing")
    assert "\n" not in message and str(tmp_path) not in message


def test_cut_file_with_moov_first_reports_frames_decoded(tmp_path: Path) -> None:
    data = SPORTS.read_bytes()  # moov first, then mdat: a cut keeps the index
    path = tmp_path / "sports_cut.mp4"
    path.write_bytes(data[: int(0.3 * len(data))])
    yielded = 0
    with pytest.raises(CorruptMediaError) as info, VideoReader(path) as video:
        for _ in video:
            yielded += 1
    assert str(info.value) == (
        f"sports_cut.mp4: the video data ends early after {yielded} of 230 frames; the file looks damaged or cut short"
    )
    assert 30 < yielded < 100


def test_file_missing_its_head_is_not_recognised(tmp_path: Path) -> None:
    data = CAM01.read_bytes()
    path = tmp_path / "tail_only.mp4"
    path.write_bytes(data[int(0.3 * len(data)) :])
    with pytest.raises(UnsupportedMediaError, match="unrecognised bytes 0x"):
        probe(path)


def cut_inside_packet(path: Path, packet: int) -> Path:
    """Copy of ``path`` that ends in the middle of video packet ``packet``."""
    offset, size = packet_spans(path)[packet]
    cut = path.with_name("cut_" + path.name)
    cut.write_bytes(path.read_bytes()[: offset + size // 2])
    return cut


@pytest.mark.parametrize("name", ["intra.mp4", "intra.avi"])
def test_small_loss_at_the_end_keeps_the_frames(make_video, name: str) -> None:
    options = {"movflags": "faststart"} if name.endswith("mp4") else None  # index first: a cut keeps it
    path = make_video(name, codec="mjpeg", n=40, container_options=options)
    frames, video = decode_all(cut_inside_packet(path, 39))  # 1 of 40 frames lost: 2.5 %
    assert len(frames) == 39
    assert video.truncated and video.stats.truncated
    assert video.stats.notes[0].endswith("after 39 of 40 frames; the missing end was left out")
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(39) / 30, atol=1e-9, rtol=0)


def test_tail_loss_threshold_is_a_parameter(make_video) -> None:
    path = make_video("intra.mp4", codec="mjpeg", n=40, container_options={"movflags": "faststart"})
    path = cut_inside_packet(path, 39)
    with pytest.raises(CorruptMediaError, match=r"after 39 of 40 frames"):
        decode_all(path, max_tail_loss=0.01)


def test_larger_loss_at_the_end_is_corrupt(make_video) -> None:
    path = cut_inside_packet(make_video("intra.avi", codec="mjpeg", n=40), 30)
    message = r"^cut_intra\.avi: decoding failed \(.+\) after 30 of 40 frames; "
    with pytest.raises(CorruptMediaError, match=message):
        decode_all(path)


def test_garbage_mid_stream_is_corrupt_and_counts_frames(make_video, tmp_path: Path) -> None:
    path = make_video("mid.mp4", n=30, container_options={"movflags": "faststart"})
    offset, size = packet_spans(path)[15]
    data = bytearray(path.read_bytes())
    data[offset : offset + size] = b"\xab" * size
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    yielded = 0
    with pytest.raises(CorruptMediaError) as info, VideoReader(damaged) as video:
        for _ in video:
            yielded += 1
    assert 0 < yielded < 30
    assert str(info.value).startswith(
        f"damaged.mp4: decoding failed (Invalid data found when processing input) after {yielded} of 30 frames"
    )


def test_webm_that_stops_halfway_is_corrupt(make_video, tmp_path: Path) -> None:
    # Matroska keeps no frame count; FFmpeg's per-track DURATION tag shows the loss
    path = make_video("half.webm", codec="libvpx-vp9", n=30)
    offset, size = packet_spans(path)[15]
    data = bytearray(path.read_bytes())
    data[offset : offset + size] = bytes(size)
    damaged = tmp_path / "half_damaged.webm"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CorruptMediaError, match=r"after 15 frames \(0\.50 s of 1\.00 s\)"):
        decode_all(damaged)


def test_zero_frame_video_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    assert sniff(path) == "video"
    with pytest.raises(CorruptMediaError, match=r"^empty\.mp4: video contains no decodable frames"):
        probe(path)


def test_audio_only_file_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(UnsupportedMediaError, match=r"^voice\.m4a: has audio but no video stream"):
        probe(path)


def test_image_given_to_the_video_reader_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaError, match=r"expected a video, found image"):
        VideoReader(FIXTURES / "images" / "astronaut.png")


def test_reader_is_single_pass(make_video) -> None:
    with VideoReader(make_video("once.mp4", n=3)) as video:
        assert len(list(video)) == 3
        with pytest.raises(RuntimeError, match="iterated once"):
            iter(video)


# -- images -------------------------------------------------------------------------------------------


def test_read_png_fixture_as_rgb() -> None:
    path = FIXTURES / "images" / "astronaut.png"
    frame = read_image(path)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(frame.rgb, bgr[..., ::-1])
    assert (frame.index, frame.t_s) == (0, 0.0)
    assert frame.rgb.flags.c_contiguous and not frame.rgb.flags.writeable


@pytest.mark.parametrize(("ext", "params"), [(".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]), (".png", [])])
def test_read_lossless_formats_exactly(tmp_path: Path, ext: str, params: list[int]) -> None:
    rgb = pattern_rgb(7)
    ok, encoded = cv2.imencode(ext, rgb[..., ::-1], params)
    assert ok
    path = tmp_path / "still.bin"
    path.write_bytes(encoded.tobytes())
    np.testing.assert_array_equal(read_image(path).rgb, rgb)


@pytest.mark.parametrize(
    ("orientation", "shape", "bbox"),
    [
        # EXIF 1: as stored; 3: turn 180; 6: turn 90 clockwise; 8: turn 90 counter-clockwise
        (1, (48, 64, 3), (0, BLOCK - 1, 0, BLOCK - 1)),
        (3, (48, 64, 3), (48 - BLOCK, 47, 64 - BLOCK, 63)),
        (6, (64, 48, 3), (0, BLOCK - 1, 48 - BLOCK, 47)),
        (8, (64, 48, 3), (64 - BLOCK, 63, 0, BLOCK - 1)),
    ],
)
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, orientation: int, shape: tuple, bbox: tuple) -> None:
    ok, encoded = cv2.imencode(".jpg", pattern_rgb(0)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_with_exif_orientation(encoded.tobytes(), orientation))
    rgb = read_image(path).rgb
    assert rgb.shape == shape
    assert block_bbox(rgb) == bbox


@pytest.mark.parametrize("head", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0"])
def test_corrupt_image_is_corrupt(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "broken.img"
    path.write_bytes(head + b"\x13\x37" * 200)
    with pytest.raises(CorruptMediaError, match=r"^broken\.img: cannot decode image"):
        read_image(path)


def test_video_given_to_read_image_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaError, match="expected an image, found video"):
        read_image(CAM01)


def test_docstring_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import doctest

    import vision.decode

    monkeypatch.chdir(FIXTURES.parents[1])
    result = doctest.testmod(vision.decode)
    assert result.attempted >= 2 and result.failed == 0
