"""A decoded video picture kept in its YUV 4:2:0 planes: RGB only where it is needed.

The pose models see two small crops of each frame (256x256 for the landmark model,
224x224 for the person detector, when it runs) and the sharpness measure sees the
subject's box every fifth frame. Converting the whole 1080x1920 frame to RGB first
(what ``VideoFrame.to_ndarray(format="rgb24")`` does) costs more than all of that
together. A :class:`YuvPicture` keeps the decoder's planes (no copy) and

* :meth:`YuvPicture.warp` resamples the luma and both chroma planes straight into
  the crop and converts only those pixels to RGB;
* :meth:`YuvPicture.rgb` converts a box (or the whole picture) as FFmpeg's
  ``yuv420p -> rgb24`` conversion does: each chroma sample covers 2x2 luma pixels.

Colour: limited range (16-235 luma, 16-240 chroma), BT.709 when the stream says so,
else BT.601 (what FFmpeg's swscale applies to a stream whose colour properties are
unspecified, as in most phone and fixture videos here).
``vision.decode.VideoReader.pictures`` checks every video's first frame against
FFmpeg's own conversion and reads the video as RGB frames when the two differ
(another matrix, full range, or 10-bit).

Coordinates are those of the *upright* picture (after the display matrix, see
``vision.decode``); the orientation is folded into the resampling matrix, so the
planes are never rotated.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["YUV_TO_RGB", "YuvPicture", "orientation_matrix"]


def _limited_range(kr: float, kb: float) -> np.ndarray:
    """``rgb = m @ (y, u, v, 1)`` for limited-range YCbCr with luma weights ``kr``, ``kb`` (255/219 luma,
    255/224 chroma). swscale truncates where ``cv2.transform`` rounds: half a level is taken off (fitted
    on swscale's output)."""
    kg = 1.0 - kr - kb
    m = np.array(
        [
            [1.0, 0.0, 2 * (1 - kr)],
            [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
            [1.0, 2 * (1 - kb), 0.0],
        ]
    ) * np.array([255 / 219, 255 / 224, 255 / 224])
    return np.hstack([m, -(m @ np.array([16.0, 128.0, 128.0]))[:, None] - 0.5])


#: By FFmpeg ``AVColorSpace``: BT.709 (1) and BT.601 (5, 6); unspecified (2) converts as BT.601, as swscale does.
YUV_TO_RGB = {1: _limited_range(0.2126, 0.0722), 2: _limited_range(0.299, 0.114)}
YUV_TO_RGB[5] = YUV_TO_RGB[6] = YUV_TO_RGB[2]
#: The YUV of RGB black, the border of a zero-padded crop.
BLACK_YUV = (16, 128, 128)
#: Chroma sample ``(i, j)`` sits at luma ``(2i + 0.5, 2j + 0.5)``: the centre of the 2x2 block it covers.
_CHROMA_TO_LUMA = np.array([[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]])


def orientation_matrix(coded_wh: tuple[int, int], rotation_deg: int, mirrored: bool) -> np.ndarray:
    """3x3 map from a coded pixel ``(x, y, 1)`` to the upright pixel it becomes.

    The same turn as ``vision.decode._apply_orientation``: clockwise by
    ``rotation_deg``, then mirrored left-right.
    """
    w, h = coded_wh
    turns = {
        0: ((1, 0, 0), (0, 1, 0)),
        90: ((0, -1, h - 1), (1, 0, 0)),
        180: ((-1, 0, w - 1), (0, -1, h - 1)),
        270: ((0, 1, 0), (-1, 0, w - 1)),
    }
    if rotation_deg not in turns:
        raise ValueError(f"rotation_deg must be 0, 90, 180 or 270, got {rotation_deg}")
    m = np.array([*turns[rotation_deg], (0, 0, 1)], dtype=float)
    if mirrored:
        upright_w = h if rotation_deg in (90, 270) else w
        m = np.array([[-1.0, 0.0, upright_w - 1], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    return m


class YuvPicture:
    """One upright picture held as coded 4:2:0 planes.

    Parameters
    ----------
    y, u, v
        ``(h, w)``, ``(ceil(h/2), ceil(w/2))`` twice, uint8, as coded (before the
        display matrix). Views of the decoder's buffers are fine: nothing here
        writes to them.
    rotation_deg, mirrored
        The orientation that makes the picture upright (``VideoInfo``'s).
    colorspace
        FFmpeg's ``AVColorSpace`` of the frame: 1 BT.709; 2 (unspecified), 5, 6 BT.601.
    """

    def __init__(
        self,
        y: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        rotation_deg: int = 0,
        mirrored: bool = False,
        *,
        colorspace: int = 2,
    ):
        ch, cw = (y.shape[0] + 1) // 2, (y.shape[1] + 1) // 2
        if any(p.dtype != np.uint8 for p in (y, u, v)) or u.shape != (ch, cw) or v.shape != (ch, cw):
            raise ValueError(f"need uint8 4:2:0 planes, got {y.shape} {u.shape} {v.shape}")
        if colorspace not in YUV_TO_RGB:
            raise ValueError(f"no conversion for colour space {colorspace} (known: {sorted(YUV_TO_RGB)})")
        self.y, self.u, self.v = y, u, v
        self._to_rgb = YUV_TO_RGB[colorspace]
        self.rotation_deg, self.mirrored = rotation_deg, mirrored
        coded_wh = (y.shape[1], y.shape[0])
        self._to_upright = orientation_matrix(coded_wh, rotation_deg, mirrored)
        quarter = rotation_deg in (90, 270)
        self.width, self.height = (coded_wh[1], coded_wh[0]) if quarter else coded_wh
        self.shape = (self.height, self.width, 3)  # as the RGB array it stands for

    @classmethod
    def from_av(cls, frame, rotation_deg: int = 0, mirrored: bool = False) -> YuvPicture | None:
        """The planes of a PyAV ``yuv420p`` frame, without copying; None for other formats and colour spaces."""
        if frame.format.name != "yuv420p" or frame.colorspace not in YUV_TO_RGB or frame.color_range == 2:
            return None  # (color_range 2: full range, "JPEG")
        w, h = frame.width, frame.height
        planes = [(frame.planes[0], h, w), (frame.planes[1], (h + 1) // 2, (w + 1) // 2)]
        planes.append((frame.planes[2], planes[1][1], planes[1][2]))
        y, u, v = (np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols] for p, rows, cols in planes)
        return cls(y, u, v, rotation_deg, mirrored, colorspace=int(frame.colorspace))

    def warp(self, matrix: np.ndarray, size: int, *, border_zero: bool) -> np.ndarray:
        """The ``(size, size, 3)`` uint8 RGB crop that ``matrix`` (upright pixel -> crop pixel) maps.

        What ``cv2.warpPerspective(rgb, matrix, ...)`` gives on the converted
        frame, bilinear, to within the rounding of the conversion: each plane
        is resampled into the crop (chroma from its own grid), then the crop's
        pixels are converted. ``border_zero``: black outside the picture (the
        detector's letterbox), else the edge pixels repeat (the landmark crop).
        """
        coded = np.asarray(matrix, dtype=float) @ self._to_upright
        chroma = coded @ _CHROMA_TO_LUMA
        planes = [(self.y, coded, BLACK_YUV[0]), (self.u, chroma, BLACK_YUV[1]), (self.v, chroma, BLACK_YUV[2])]
        border = cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE
        out = [_resample(plane, m, size, border, value) for plane, m, value in planes]
        return cv2.transform(cv2.merge(out), self._to_rgb)

    def rgb(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """RGB of the upright pixels ``x0 <= x < x1``, ``y0 <= y < y1`` (the whole picture by default).

        Chroma as FFmpeg's ``yuv420p -> rgb24``: each sample covers the 2x2 luma
        pixels of its block. ``(h, w, 3)`` uint8, C-contiguous.
        """
        x0, y0, x1, y1 = box if box is not None else (0, 0, self.width, self.height)
        if not (0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height):
            raise ValueError(f"box {box} is not inside the {self.width}x{self.height} picture")
        corners = np.array([[x0, y0, 1.0], [x1 - 1, y1 - 1, 1.0]]).T
        coded = np.linalg.solve(self._to_upright, corners)  # upright corners -> coded pixels
        cx0, cy0 = (int(round(c)) for c in coded[:2].min(axis=1))
        cx1, cy1 = (int(round(c)) + 1 for c in coded[:2].max(axis=1))
        y = self.y[cy0:cy1, cx0:cx1]
        rows = np.arange(cy0, cy1) // 2
        cols = np.arange(cx0, cx1) // 2
        u = self.u[rows[:, None], cols[None, :]]
        v = self.v[rows[:, None], cols[None, :]]
        rgb = cv2.transform(cv2.merge([y, u, v]), self._to_rgb)
        from vision.decode import _apply_orientation  # (decode imports this module)

        return np.ascontiguousarray(_apply_orientation(rgb, self.rotation_deg, self.mirrored))


def _resample(plane: np.ndarray, matrix: np.ndarray, size: int, border: int, value: int) -> np.ndarray:
    """One plane through ``matrix`` (plane pixel -> crop pixel), bilinear."""
    if abs(matrix[2, 0]) < 1e-12 and abs(matrix[2, 1]) < 1e-12 and math.isclose(matrix[2, 2], 1.0, rel_tol=1e-9):
        # a rotated rectangle onto a square is affine: warpAffine, half the cost of warpPerspective
        return cv2.warpAffine(
            plane, matrix[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=value
        )
    return cv2.warpPerspective(
        plane, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=value
    )
