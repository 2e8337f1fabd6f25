"""Crops resampled from the decoder's YUV planes against crops of the whole frame converted to RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FIXTURES

VIDEOS = sorted((FIXTURES / "video").glob("*.mp4"))


def _first_av_frame(path: Path):
    import av

    container = av.open(str(path))
    return container, next(container.decode(container.streams.video[0]))


@pytest.mark.parametrize("path", VIDEOS, ids=[p.stem for p in VIDEOS])
def test_planes_convert_as_ffmpeg_does_in_every_orientation(path):
    from vision.decode import _apply_orientation
    from vision.yuv import YuvPicture

    container, frame = _first_av_frame(path)
    with container:
        ffmpeg = frame.to_ndarray(format="rgb24").astype(np.int16)
        for rotation_deg in (0, 90, 180, 270):
            for mirrored in (False, True):
                picture = YuvPicture.from_av(frame, rotation_deg, mirrored)
                assert picture is not None
                want = _apply_orientation(ffmpeg, rotation_deg, mirrored)
                got = picture.rgb().astype(np.int16)
                assert got.shape == want.shape
                assert np.abs(got - want).max() <= 3  # rounding of the conversion only
                x0, y0, x1, y1 = 13, 27, picture.width // 2 + 1, picture.height // 3 + 1  # odd edges: chroma split
                np.testing.assert_array_equal(picture.rgb((x0, y0, x1, y1)), picture.rgb()[y0:y1, x0:x1])


def test_a_crop_from_the_planes_is_the_crop_of_the_converted_frame():
    from vision.backends import _blazepose as bp
    from vision.yuv import YuvPicture

    container, frame = _first_av_frame(VIDEOS[0])
    with container:
        rotation_deg, mirrored = 90, True  # the orientation goes into the resampling, not the pixels
        picture = YuvPicture.from_av(frame, rotation_deg, mirrored)
        assert picture is not None
        rgb = picture.rgb()
        for rect, border_zero in (
            (bp.Rect(0.45, 0.6, 0.5, 0.5 * rgb.shape[1] / rgb.shape[0], 0.4), False),  # rotated ROI inside
            (bp.Rect(0.9, 0.1, 0.6, 0.6 * rgb.shape[1] / rgb.shape[0], -2.0), False),  # past the corner: edges repeat
            (bp.letterbox((rgb.shape[1], rgb.shape[0]))[0], True),  # the detector's letterbox: black bars
        ):
            want = bp.crop(rgb, rect, 224, border_zero=border_zero).astype(np.int16)
            got = bp.crop(picture, rect, 224, border_zero=border_zero).astype(np.int16)
            diff = np.abs(got - want)
            # chroma is interpolated on its own grid instead of from 2x2 blocks: it differs at colour edges only
            assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 4, (rect, diff.mean(), diff.max())


def test_other_colours_fall_back_to_ffmpegs_rgb(tmp_path):
    import av

    from vision.decode import VideoReader

    path = tmp_path / "full_range.mp4"
    rgb = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 64, "yuvj420p"  # full range: not converted here
        for i in range(3):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoReader(path) as video:
        pictures = list(video.pictures())
    with VideoReader(path) as video:
        frames = list(video)
    assert len(pictures) == len(frames) == 3
    for p, f in zip(pictures, frames, strict=True):
        assert isinstance(p.image, np.ndarray)
        np.testing.assert_array_equal(p.image, f.rgb)


def test_pictures_are_the_frames_without_the_copy():
    from vision.decode import VideoReader

    path = FIXTURES / "video" / "pose2sim_cam01.mp4"  # 1080 wide: FFmpeg pads its RGB rows, the view skips them
    with VideoReader(path) as video:
        frames = [(f.index, f.t_s, f.rgb) for f in video]
    with VideoReader(path) as video:
        for picture, (index, t_s, rgb) in zip(video.pictures(), frames, strict=True):
            assert (picture.index, picture.t_s) == (index, t_s)
            np.testing.assert_array_equal(picture.image, rgb)
