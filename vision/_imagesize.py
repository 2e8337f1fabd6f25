"""An image's width and height from its header, before anything is decoded.

A 249 KB PNG can declare 16000×16000 pixels and take 768 MB once decoded (a
decompression bomb), so the size is read from the header first and checked
against a pixel cap. JPEG (SOFn segment), PNG (IHDR), WebP (VP8, VP8L, VP8X)
and BMP (DIB header) are understood; ``None`` when the header cannot be read
(the decoder then refuses the file as damaged, or decodes a small one).
"""

from __future__ import annotations

import struct

from kinematics.errors import MediaTooLargeError

__all__ = ["MAX_IMAGE_PIXELS", "check_image_pixels", "image_dimensions"]

#: Largest image decoded: 50 megapixels (a 48 MP phone photo passes; 150 MB as RGB).
MAX_IMAGE_PIXELS = 50_000_000

# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _SOF:
            if i + 9 > n:
                return None
            h, w = struct.unpack_from(">HH", data, i + 5)
            return w, h
        if marker == 0xDA or length < 2:  # scan data before any frame header: not a usable JPEG
            return None
        i += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", data, 26)
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` declared by the header of a JPEG, PNG, WebP or BMP; None if unreadable."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        w, h = struct.unpack_from(">II", data, 16)
        return w, h
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:2] == b"BM" and len(data) >= 26:
        (dib,) = struct.unpack_from("<I", data, 14)
        if dib == 12:
            w, h = struct.unpack_from("<HH", data, 18)
            return w, h
        w, h = struct.unpack_from("<ii", data, 18)
        return abs(w), abs(h)
    return None


def check_image_pixels(data: bytes, name: str, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Raise :class:`MediaTooLargeError` when the header declares more than ``max_pixels``."""
    size = image_dimensions(data)
    if size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise MediaTooLargeError(
            f"{name}: {w}x{h} pixels ({w * h / 1e6:.0f} megapixels) exceeds the limit of "
            f"{max_pixels / 1e6:g} megapixels; send a smaller picture (a video frame or a resized photo)"
        )
