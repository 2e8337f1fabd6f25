"""Decode phone and clinic videos, and single images, into upright RGB frames.

Videos are decoded with PyAV (FFmpeg) as a stream, one frame at a time. Each
frame's time comes from the container (``pts``), never from ``index / fps``.
Frames come out upright: the display matrix that phones write is applied the
way FFmpeg's own autorotate applies it.

Examples
--------
>>> from vision.decode import VideoReader
>>> with VideoReader("tests/fixtures/video/pose2sim_cam01.mp4") as video:
...     first = next(iter(video))
>>> first.rgb.shape, first.t_s
((1920, 1080, 3), 0.0)
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from kinematics.errors import CorruptMediaError, MediaTooLargeError, UnsupportedMediaError
from vision._imagesize import check_image_pixels
from vision._sniff import ACCEPTED, MediaKind, isobmff_damage, sniff
from vision.yuv import YuvPicture

__all__ = [
    "DecodeStats",
    "Frame",
    "MediaKind",
    "Picture",
    "VideoInfo",
    "VideoReader",
    "is_variable",
    "probe",
    "read_image",
    "sniff",
]

PathLike = str | os.PathLike[str]

#: An interval counts as irregular beyond this fraction of the median interval.
VFR_TOLERANCE = 0.01
#: Repeated or backward timestamps are moved this far past the previous frame.
NUDGE_S = 1e-6
#: Largest video picture decoded: 8K UHD (7680x4320); each RGB frame is then at most ~100 MB.
MAX_VIDEO_PIXELS = 7680 * 4320


@dataclass(frozen=True, eq=False)
class Frame:
    """One upright picture.

    Attributes
    ----------
    index
        Position in presentation order, from 0.
    t_s
        Seconds since the first frame, from the container's timestamps.
    rgb
        ``(height, width, 3)`` uint8, RGB, C-contiguous, read-only.
    """

    index: int
    t_s: float
    rgb: np.ndarray

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be (h, w, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        self.rgb.flags.writeable = False


@dataclass(frozen=True, eq=False)
class Picture:
    """One upright picture from `VideoReader.pictures`, converted to RGB only where asked.

    Attributes
    ----------
    index, t_s
        As for `Frame`.
    image
        ``(height, width, 3)`` uint8 RGB, possibly a strided view; or, when
        asked for and exact, the decoder's planes (`vision.yuv.YuvPicture`:
        ``warp`` a crop, ``rgb`` a box).
    """

    index: int
    t_s: float
    image: YuvPicture | np.ndarray

    def rgb(self) -> np.ndarray:
        """The whole picture as ``(height, width, 3)`` uint8 RGB."""
        return np.ascontiguousarray(self.image) if isinstance(self.image, np.ndarray) else self.image.rgb()


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, plus the orientation of its first frame.

    Attributes
    ----------
    path
        The file.
    container
        FFmpeg demuxer name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"`` or ``"matroska,webm"``.
    codec
        FFmpeg decoder name, e.g. ``"h264"``, ``"hevc"``, ``"vp9"``, ``"libdav1d"``.
    width, height
        Size in pixels of the frames as yielded, i.e. upright (after rotation).
    rotation_deg
        Clockwise rotation, in {0, 90, 180, 270}, applied to the coded picture
        to make it upright (an iPhone portrait clip reports 90). See Notes of
        `VideoReader`.
    mirrored
        True when the display matrix also mirrors the picture (applied after
        the rotation, left-right).
    nominal_fps
        The container's average frame rate, or None. Informative only: frame
        times come from the timestamps.
    duration_s
        Video stream duration, else the container's; None if unknown.
    frame_count_reported
        Frame count from the container's index (MP4/MOV/AVI), None if absent.
    bit_rate_bps
        Container bit rate in bit/s, None if unknown.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rotation_deg: int
    mirrored: bool
    nominal_fps: float | None
    duration_s: float | None
    frame_count_reported: int | None
    bit_rate_bps: int | None


@dataclass(frozen=True)
class DecodeStats:
    """What happened while decoding; final once iteration has ended.

    Attributes
    ----------
    frames_read
        Frames yielded so far.
    truncated
        The data ended early (cut file or undecodable trailing packets) but
        the loss was small enough to keep the frames; see `VideoReader`.
    decode_errors
        Frames the decoder flagged as corrupt (kept, error-concealed), plus 1
        for an error that ended a truncated stream.
    timestamps_from_dts
        Frames timed by their decode timestamp because ``pts`` was missing or
        unreliable.
    timestamps_estimated
        Frames with neither usable ``pts`` nor ``dts``, timed as the previous
        frame plus the last interval.
    timestamps_nudged
        Frames whose time was not after the previous frame's and was moved to
        ``previous + 1 µs``.
    variable_frame_rate
        An inter-frame interval differs from the median interval by more than
        1 % of it plus one time-base tick (so Matroska's millisecond rounding
        alone does not count).
    notes
        One-line, user-facing remarks about the points above.
    """

    frames_read: int
    truncated: bool
    decode_errors: int
    timestamps_from_dts: int
    timestamps_estimated: int
    timestamps_nudged: int
    variable_frame_rate: bool
    notes: tuple[str, ...]


def probe(path: PathLike) -> VideoInfo:
    """Describe a video; decodes its first frame only (for the orientation).

    Raises
    ------
    UnsupportedMediaError
        Not a video (see `sniff`), or a container without a video stream.
    CorruptMediaError
        The container cannot be opened or has no decodable frame.
    """
    with VideoReader(path) as video:
        return video.info


class VideoReader:
    """Stream upright RGB frames with container timestamps out of a video file.

    Parameters
    ----------
    path
        MP4/MOV, MKV/WebM or AVI, any codec the bundled FFmpeg decodes.
    max_tail_loss
        Largest fraction of the frames that may be missing at the end of the
        stream for it to be accepted as ``truncated`` instead of corrupt.
    start_s
        Yield only frames from this time on (seconds on the file's clock, whose
        0 stays the file's first frame): the reader seeks to the keyframe at or
        before it and decodes from there. ``index`` then counts from the first
        frame yielded, and the end is checked against the stream's duration
        only (the index's frame count covers the whole file).

    Raises
    ------
    UnsupportedMediaError, CorruptMediaError
        At construction, as for `probe`; during iteration, see Notes.

    Notes
    -----
    *Orientation.* The display matrix (``AV_FRAME_DATA_DISPLAYMATRIX``) maps a
    coded pixel ``(x, y)`` to ``(a x + c y, b x + d y)`` (FFmpeg
    ``libavutil/display.h``); it is applied exactly, flips included. PyAV's
    ``frame.rotation`` (``av_display_rotation_get``) is counter-clockwise, so a
    pure rotation is undone by turning the picture *clockwise* by
    ``-frame.rotation``; that clockwise angle is ``info.rotation_deg``. Tests
    compare every rotation/flip pixel for pixel with the filters FFmpeg's own
    autorotate inserts (``transpose``/``hflip``/``vflip``, as in ``ffplay.c``).

    *Time.* ``t_s = (ts - ts_first) * time_base`` where ``ts`` is chosen like
    FFmpeg's ``best_effort_timestamp`` (``guess_correct_pts`` in
    ``libavcodec/decode.c``): ``pts`` unless it has gone backwards more often
    than ``dts`` has, then ``dts``; AVI, whose "pts" are decode-order
    counters (wrong with B-frames), starts on ``dts``. Frames with neither
    are timed as previous + last interval. No frame is dropped; a time not
    after the previous one becomes ``previous + 1 µs``. All counted in `stats`.

    *Damage.* Decoding stops at the first demuxer or decoder error, or when
    the data runs out early (a cut MP4 ends silently, so the frame count from
    the index is compared). The stream has *ended early* if an error occurred,
    or the index promised more frames than were decoded and the last frame
    ends more than 1.5 intervals before the stream's duration. The loss is the
    missing fraction of the indexed frame count, else of the duration. If it is
    at most `max_tail_loss` (default 5 %) the frames are kept and `truncated`
    is set; otherwise, or when the loss cannot be measured, iteration raises
    `CorruptMediaError` stating how many frames decoded. Frames already yielded
    before that error are then not to be used.

    Examples
    --------
    >>> with VideoReader("tests/fixtures/video/pose2sim_cam01.mp4") as video:
    ...     t_s = [frame.t_s for frame in video]
    >>> video.frames_read, video.info.nominal_fps, round(t_s[-1], 4)
    (100, 60.0, 1.65)
    """

    def __init__(self, path: PathLike, *, max_tail_loss: float = 0.05, start_s: float = 0.0) -> None:
        if not 0.0 <= max_tail_loss < 1.0:
            raise ValueError(f"max_tail_loss must be in [0, 1), got {max_tail_loss}")
        if not (math.isfinite(start_s) and start_s >= 0.0):
            raise ValueError(f"start_s must be a finite time >= 0, got {start_s}")
        self._start_s = float(start_s)
        self._path = Path(path)
        self._max_tail_loss = max_tail_loss
        self._failure: str | None = None  # set by _decoded_frames when FFmpeg raises
        kind = sniff(self._path)
        if kind != "video":
            raise UnsupportedMediaError(f"{self._path.name}: expected a video, found {kind}; {ACCEPTED}")
        try:
            self._container = av.open(str(self._path), metadata_errors="ignore")
        except av.FFmpegError as exc:
            why = isobmff_damage(self._path) or exc.strerror or type(exc).__name__
            raise CorruptMediaError(f"{self._path.name}: cannot open video: {why}") from None
        try:
            self._stream = self._video_stream()
            self._check_pixels(self._stream.codec_context.width, self._stream.codec_context.height)  # not decoded yet
            self._stream.thread_type = "AUTO"
            self._packets: Generator[av.VideoFrame] | None = self._decoded_frames()
            self._first: av.VideoFrame | None = next(self._packets, None)
            if self._first is None:
                why = f" ({self._failure})" if self._failure else ""
                raise CorruptMediaError(f"{self._path.name}: video contains no decodable frames{why}")
            self._check_pixels(self._first.width, self._first.height)
        except BaseException:
            self._container.close()
            raise
        self._orient = _orientation(self._first)
        self.info = self._describe(self._first.width, self._first.height)
        # AVI has no presentation times: its "pts" are decode-order counters
        self._prefer_dts = self.info.container == "avi"
        self._clock = _Clock(self._stream.time_base or Fraction(1, av.time_base), prefer_dts=self._prefer_dts)
        # Read now: once the container is closed PyAV's stream no longer holds a valid time base.
        self.tick_s = float(self._stream.time_base or 0)
        self._last_duration_s = 1.0 / self.info.nominal_fps if self.info.nominal_fps else 0.0
        self._t_s: list[float] = []
        self._corrupt_frames = 0
        self._truncated = False
        self._notes: list[str] = []
        self._started = False
        self._yuv_exact: bool | None = None  # pictures(): decided on the first frame
        if self._start_s > 0.0:
            self._seek()

    def _seek(self) -> None:
        """Restart decoding at the keyframe at or before ``start_s``; the clock keeps the file's origin."""
        first = self._first
        assert first is not None and self._packets is not None
        if first.pts is None:
            raise CorruptMediaError(f"{self._path.name}: cannot seek: the first frame has no timestamp")
        self._clock.anchor(first.pts)  # t = 0 at the file's first frame, as when reading from the start
        self._packets.close()
        self._first = None
        ticks = first.pts + math.floor(self._start_s / self.time_base)
        self._container.seek(ticks, stream=self._stream, backward=True, any_frame=False)
        self._packets = self._decoded_frames()
        self._first = next(self._packets, None)
        if self._first is None:
            why = f" ({self._failure})" if self._failure else ""
            raise CorruptMediaError(f"{self._path.name}: no decodable frame at or after {self._start_s:g} s{why}")

    def _check_pixels(self, width: int, height: int) -> None:
        """Refuse pictures above MAX_VIDEO_PIXELS from the stream's header, before frames are converted."""
        if width * height > MAX_VIDEO_PIXELS:
            raise MediaTooLargeError(
                f"{self._path.name}: video frames of {width}x{height} pixels exceed the limit of "
                f"{MAX_VIDEO_PIXELS / 1e6:.1f} megapixels (8K UHD); send a smaller recording"
            )

    def _video_stream(self) -> av.VideoStream:
        streams = self._container.streams
        if streams.video:
            return streams.video[0]
        if streams.audio:
            raise UnsupportedMediaError(f"{self._path.name}: has audio but no video stream; {ACCEPTED}")
        raise CorruptMediaError(f"{self._path.name}: video contains no decodable frames (no video stream)")

    def _decoded_frames(self) -> Generator[av.VideoFrame]:
        """Frames in presentation order; stops at the first error and records it."""
        try:
            for packet in self._container.demux(self._stream):
                yield from packet.decode()
        except av.FFmpegError as exc:
            self._failure = exc.strerror or type(exc).__name__

    def _describe(self, coded_width: int, coded_height: int) -> VideoInfo:
        stream, container = self._stream, self._container
        rotation_deg, mirrored = self._orient
        quarter_turn = rotation_deg in (90, 270)
        rate = stream.average_rate or stream.guessed_rate
        duration_s = _stream_duration_s(stream)
        if duration_s is None and container.duration:
            duration_s = container.duration / av.time_base
        return VideoInfo(
            path=self._path,
            container=container.format.name,
            codec=stream.codec_context.name,
            width=coded_height if quarter_turn else coded_width,
            height=coded_width if quarter_turn else coded_height,
            rotation_deg=rotation_deg,
            mirrored=mirrored,
            nominal_fps=float(rate) if rate else None,
            duration_s=duration_s,
            frame_count_reported=stream.frames or None,
            bit_rate_bps=container.bit_rate or None,
        )

    # -- iteration ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        self._start_iteration()
        return (Frame(self.frames_read - 1, t_s, self._rgb(av_frame)) for t_s, av_frame in self._decoded())

    def pictures(self, *, yuv: bool = False) -> Iterator[Picture]:
        """Iterate as `Frame` s do, without the copies the pose models do not need.

        Each picture is FFmpeg's RGB conversion as an array that may be a
        strided view of FFmpeg's buffer (rows padded: no copy into a contiguous
        array), valid until the next picture is asked for.

        ``yuv``: leave each picture in the decoder's YUV planes
        (`vision.yuv.YuvPicture`), so that the pose models' crops are resampled
        and converted alone; the video's first frame is then converted both
        ways, and when this module's conversion does not reproduce FFmpeg's to
        within 3 levels (another colour matrix, full range, a format other than
        8-bit 4:2:0) the video's pictures are RGB arrays instead.
        """
        self._start_iteration()
        for t_s, av_frame in self._decoded():
            picture = None
            if yuv:
                if self._yuv_exact is None:
                    self._yuv_exact = _yuv_matches_rgb(av_frame, *self._orient)
                picture = YuvPicture.from_av(av_frame, *self._orient) if self._yuv_exact else None
            yield Picture(self.frames_read - 1, t_s, self._rgb(av_frame, copy=False) if picture is None else picture)

    def _start_iteration(self) -> None:
        if self._started:
            raise RuntimeError("a VideoReader can be iterated once; open a new one to read again")
        self._started = True

    def _rgb(self, av_frame: av.VideoFrame, *, copy: bool = True) -> np.ndarray:
        """Upright RGB; ``copy=False``: a view of FFmpeg's converted frame (rows may be padded)."""
        if copy:
            return np.ascontiguousarray(_apply_orientation(av_frame.to_ndarray(format="rgb24"), *self._orient))
        rgb = av_frame.reformat(format="rgb24")
        plane = rgb.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(rgb.height, plane.line_size)
        return _apply_orientation(rows[:, : rgb.width * 3].reshape(rgb.height, rgb.width, 3), *self._orient)

    def _decoded(self) -> Iterator[tuple[float, av.VideoFrame]]:
        """``(t_s, frame)`` for every frame to yield, counted in ``_t_s``; checks the ending after the last."""
        first, self._first = self._first, None
        if first is None or self._packets is None:
            raise RuntimeError(f"{self._path.name}: the reader is closed")
        for av_frame in itertools.chain((first,), self._packets):
            self._check_pixels(av_frame.width, av_frame.height)  # a stream may change size midway
            t_s = self._clock.stamp(av_frame.pts, av_frame.dts)
            if av_frame.duration:
                self._last_duration_s = float(av_frame.duration * self._clock.time_base)
            if t_s < self._start_s - 1e-9:
                continue  # decoded from the keyframe before the start: not asked for
            self._corrupt_frames += bool(av_frame.is_corrupt)
            self._t_s.append(t_s)
            yield t_s, av_frame
        self._check_ending()

    def _check_ending(self) -> None:
        read, expected = len(self._t_s), None if self._start_s else self.info.frame_count_reported
        if not read:
            raise CorruptMediaError(f"{self._path.name}: no frame at or after {self._start_s:g} s")
        stream_duration_s = _stream_duration_s(self._stream)
        covered_s = self._t_s[-1] + self._last_duration_s
        margin_s = 1.5 * (float(np.median(np.diff(self._t_s))) if read > 1 else self._last_duration_s)
        short_in_time = stream_duration_s is not None and covered_s < stream_duration_s - margin_s
        short_in_count = expected is not None and read < expected
        if expected is None or stream_duration_s is None:
            ended_early = short_in_time or short_in_count
        else:  # both known: an index that miscounts (edit lists) must not look like a cut
            ended_early = short_in_time and short_in_count
        if self._failure is None and not ended_early:
            if short_in_count:
                self._notes.append(f"the container's index lists {expected} frames, {read} decoded")
            return
        if expected is not None:
            loss = max(expected - read, 0) / expected
            of = f"{read} of {expected} frames"
        elif (duration_s := stream_duration_s or self.info.duration_s) is not None:
            loss = max(duration_s - covered_s, 0.0) / duration_s
            of = f"{read} frames ({covered_s:.2f} s of {duration_s:.2f} s)"
        else:
            loss, of = 1.0, f"{read} frames (total unknown)"
        what = f"decoding failed ({self._failure})" if self._failure else "the video data ends early"
        if loss > self._max_tail_loss:
            damaged = "the file looks damaged or cut short"
            raise CorruptMediaError(f"{self._path.name}: {what} after {of}; {damaged}")
        self._truncated = True
        kept = "the missing end was left out" if loss > 0 else "no indexed frame was lost"
        self._notes.append(f"{what} after {of}; {kept}")

    # -- results -------------------------------------------------------------------------------

    @property
    def time_base(self) -> Fraction:
        """The video stream's time base (seconds per tick of its timestamps)."""
        return self._clock.time_base

    @property
    def frames_read(self) -> int:
        """Frames yielded so far."""
        return len(self._t_s)

    @property
    def truncated(self) -> bool:
        """The stream ended early with a tolerable loss; see Notes."""
        return self._truncated

    @property
    def decode_errors(self) -> int:
        """Corrupt-flagged frames plus a tolerated terminal error."""
        return self._corrupt_frames + (self._truncated and self._failure is not None)

    @property
    def variable_frame_rate(self) -> bool:
        """Whether the intervals seen so far vary (see `DecodeStats`)."""
        return is_variable(np.asarray(self._t_s), self.tick_s)

    @property
    def stats(self) -> DecodeStats:
        """A snapshot of the decoding statistics."""
        clock = self._clock
        notes = list(self._notes)
        from_dts = 0 if self._prefer_dts else clock.from_dts  # normal for AVI: no note
        for count, what in (
            (from_dts, "timed by decode timestamp (pts missing or unreliable)"),
            (clock.estimated, "without timestamps, timed from the previous interval"),
            (clock.nudged, "with repeated or backward timestamps, moved 1 µs later"),
        ):
            if count:
                notes.append(f"{count} frame(s) {what}")
        return DecodeStats(
            frames_read=self.frames_read,
            truncated=self.truncated,
            decode_errors=self.decode_errors,
            timestamps_from_dts=clock.from_dts,
            timestamps_estimated=clock.estimated,
            timestamps_nudged=clock.nudged,
            variable_frame_rate=self.variable_frame_rate,
            notes=tuple(notes),
        )

    def close(self) -> None:
        """Release the file and the decoded frames it holds; safe to call twice."""
        self._container.close()
        # The decode generator refers to this reader and the reader to it; left to
        # the cyclic collector, its frames and decoder buffers (tens of MB for a
        # full-HD stream) outlived each reader: 80 probes grew a server by 1.5 GB.
        packets = getattr(self, "_packets", None)
        if packets is not None:
            packets.close()
        self._packets = None
        self._first = None
        # Reading the first frame's display matrix makes the frame and its side-data
        # container refer to each other (PyAV caches one in the other); only a full
        # collection finds that cycle once it has aged, and each holds a whole frame.
        gc.collect()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_image(path: PathLike) -> Frame:
    """Read a JPEG, PNG, WebP or BMP as an upright RGB frame at ``t_s = 0``.

    The EXIF orientation tag is applied (OpenCV's ``imdecode`` does this unless
    ``IMREAD_IGNORE_ORIENTATION`` is given). Alpha is dropped, 16-bit is scaled
    to 8-bit and grey is expanded to three channels.

    Raises
    ------
    UnsupportedMediaError
        Not an image (see `sniff`).
    CorruptMediaError
        The image cannot be decoded.
    """
    path = Path(path)
    kind = sniff(path)
    if kind != "image":
        raise UnsupportedMediaError(f"{path.name}: expected an image, found {kind}; {ACCEPTED}")
    data = np.fromfile(path, dtype=np.uint8)
    check_image_pixels(data.tobytes()[:262144], path.name)  # the header, before anything is decoded
    rgb = _imdecode_rgb(data)
    if rgb is None or rgb.size == 0:
        raise CorruptMediaError(f"{path.name}: cannot decode image ({data.size} bytes; damaged or cut short)")
    return Frame(0, 0.0, np.ascontiguousarray(rgb))


# -- private helpers ---------------------------------------------------------------------------


class _Clock:
    """Per-frame time in seconds, strictly increasing; see `VideoReader` Notes."""

    def __init__(self, time_base: Fraction, *, prefer_dts: bool = False) -> None:
        self.time_base = Fraction(time_base)
        self.from_dts = self.estimated = self.nudged = 0
        self._faulty_pts, self._faulty_dts = int(prefer_dts), 0
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._origin: tuple[int, float] | None = None  # (ticks, t_s) of the first timed frame
        self._last_t_s: float | None = None
        self._last_interval_s = 0.0

    def anchor(self, ticks: int) -> None:
        """Put t = 0 at ``ticks`` before any frame is stamped (a reader that starts after a seek)."""
        self._origin = (ticks, 0.0)

    def stamp(self, pts: int | None, dts: int | None) -> float:
        # guess_correct_pts: count how often each source fails to increase
        if dts is not None:
            self._faulty_dts += self._last_dts is not None and dts <= self._last_dts
            self._last_dts = dts
        elif pts is not None:
            self._last_dts = pts
        if pts is not None:
            self._faulty_pts += self._last_pts is not None and pts <= self._last_pts
            self._last_pts = pts
        elif dts is not None:
            self._last_pts = dts
        ticks = None
        if pts is not None and self._faulty_pts <= self._faulty_dts:
            ticks = pts
        elif dts is not None:
            ticks, self.from_dts = dts, self.from_dts + 1
        last = self._last_t_s
        if ticks is None:
            # FFmpeg would take pts here even after rejecting it; it is not trusted
            self.estimated += 1
            t_s = 0.0 if last is None else last + self._last_interval_s
        else:
            if self._origin is None:
                self._origin = (ticks, 0.0 if last is None else last + self._last_interval_s)
            t_s = self._origin[1] + float((ticks - self._origin[0]) * self.time_base)
        if last is not None and t_s <= last:
            self.nudged += 1
            t_s = last + NUDGE_S
        elif last is not None:
            self._last_interval_s = t_s - last
        self._last_t_s = t_s
        return t_s


def _orientation(frame: av.VideoFrame) -> tuple[int, bool]:
    """``(clockwise rotation in degrees, mirrored)`` that make ``frame`` upright."""
    # PyAV's stubs type side_data as a single SideData; it is a SideDataContainer (a Mapping).
    side = frame.side_data.get(SideDataType.DISPLAYMATRIX) if frame.side_data else None  # type: ignore[call-overload]
    if side is None:
        return 0, False
    m = np.frombuffer(bytes(side), dtype=np.int32)[[0, 1, 3, 4]] / 65536.0
    a, b, c, d = np.rint(m).astype(int)
    if abs(a) + abs(c) != 1 or abs(b) + abs(d) != 1 or abs(a) + abs(b) != 1:
        # not a quarter turn (phones never write one): use the nearest quarter turn
        return int(round(-frame.rotation / 90.0)) % 4 * 90, False
    # (x, y) -> (a x + c y, b x + d y): a transpose when a == 0, then the signs flip axes
    pattern_yx = np.arange(6).reshape(2, 3)
    mapped = pattern_yx.T if a == 0 else pattern_yx
    mapped = mapped[:: (b or d), :: (a or c)]
    for mirrored in (False, True):
        for rotation_deg in (0, 90, 180, 270):
            if np.array_equal(_apply_orientation(pattern_yx, rotation_deg, mirrored), mapped):
                return rotation_deg, mirrored
    raise AssertionError("unreachable: the eight orientations cover every signed permutation")


def _apply_orientation(hw_c: np.ndarray, rotation_deg: int, mirrored: bool) -> np.ndarray:
    """Rotate ``(h, w, ...)`` clockwise by ``rotation_deg``, then mirror left-right."""
    out = np.rot90(hw_c, k=-(rotation_deg // 90)) if rotation_deg else hw_c
    return out[:, ::-1] if mirrored else out


#: Largest difference, in 8-bit levels, between `YuvPicture.rgb` and FFmpeg's ``rgb24`` for `pictures` to
#: keep a video in YUV (BT.601 limited range differs by rounding alone: at most 2 levels on the fixtures).
YUV_MAX_LEVELS = 3


def _yuv_matches_rgb(av_frame: av.VideoFrame, rotation_deg: int, mirrored: bool) -> bool:
    """Whether `YuvPicture` reproduces FFmpeg's own RGB of this frame (see `VideoReader.pictures`)."""
    yuv = YuvPicture.from_av(av_frame, rotation_deg, mirrored)
    if yuv is None:
        return False
    ours = yuv.rgb().astype(np.int16)
    ffmpeg = _apply_orientation(av_frame.to_ndarray(format="rgb24"), rotation_deg, mirrored)
    return ours.shape == ffmpeg.shape and int(np.abs(ours - ffmpeg).max()) <= YUV_MAX_LEVELS


def is_variable(t_s: np.ndarray, tick_s: float) -> bool:
    """Whether frame times ``t_s`` vary by more than 1 % of the median interval plus one tick (`DecodeStats`)."""
    if t_s.size < 3:
        return False
    interval_s = np.diff(t_s)
    median_s = float(np.median(interval_s))
    return bool(np.any(np.abs(interval_s - median_s) > VFR_TOLERANCE * median_s + tick_s))


def _stream_duration_s(stream: av.VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    # Matroska keeps a per-track duration only as a tag written by FFmpeg's muxer
    tag = stream.metadata.get("DURATION", "")
    match = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", tag)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def _imdecode_rgb(data: np.ndarray) -> np.ndarray | None:
    if hasattr(cv2, "IMREAD_COLOR_RGB"):  # OpenCV >= 4.11 converts while decoding
        return cv2.imdecode(data, cv2.IMREAD_COLOR_RGB)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
