"""Recognise an upload by its first bytes, never by its file name.

Phones and browsers name files freely (``.MOV`` holding MP4, ``video.bin``,
``IMG_0001.JPG`` holding HEIF), so the decision is made from magic bytes only.
`isobmff_damage` reads the box structure of an MP4/MOV that FFmpeg refused,
to say what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from kinematics.errors import UnsupportedMediaError

__all__ = ["ACCEPTED", "MediaKind", "isobmff_damage", "sniff"]

MediaKind = Literal["video", "image", "landmarks_json"]

ACCEPTED = "accepted: video (MP4/MOV, MKV/WebM, AVI), image (JPEG, PNG, WebP, BMP) or landmark JSON"

_HEAD_BYTES = 4096

# Bytes found at offset 4 of a QuickTime file that has no leading ``ftyp`` box.
_QUICKTIME_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# ISO-BMFF major brands of still images (HEIF/AVIF), which share ``ftyp`` with MP4.
_STILL_IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}

# Known kinds we refuse, so the message can name them.
_KNOWN_REFUSED = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x00\x01", "a raw H.264/H.265 elementary stream (no container)"),
)


def sniff(path: str | os.PathLike[str]) -> MediaKind:
    """Classify a file by its leading bytes.

    Parameters
    ----------
    path
        File to inspect; only its first 4 KiB are read.

    Returns
    -------
    {"video", "image", "landmarks_json"}
        ``"video"`` for ISO-BMFF (MP4/MOV, ``ftyp`` or a QuickTime box at
        offset 4), EBML (MKV/WebM, ``1A 45 DF A3``) and ``RIFF....AVI``;
        ``"image"`` for JPEG (``FF D8 FF``), PNG (``89 50 4E 47``),
        ``RIFF....WEBP`` and BMP (``BM``); ``"landmarks_json"`` when the first
        non-whitespace character (after an optional UTF-8 BOM) is ``{``.

    Raises
    ------
    UnsupportedMediaError
        For anything else. The one-line message names the file, what the bytes
        look like (empty file, text, a known refused kind such as HEIF or GIF,
        or the first bytes in hex) and lists what is accepted.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    kind, reason = _classify(head)
    if kind is None:
        raise UnsupportedMediaError(f"{path.name}: unsupported content: {reason}; {ACCEPTED}")
    return kind


def sniff_bytes(head: bytes, name: str = "upload") -> MediaKind:
    """:func:`sniff` for the first bytes of content already in hand (an upload)."""
    kind, reason = _classify(head[:_HEAD_BYTES])
    if kind is None:
        raise UnsupportedMediaError(f"{name}: unsupported content: {reason}; {ACCEPTED}")
    return kind


def _classify(head: bytes) -> tuple[MediaKind | None, str]:
    """Return ``(kind, "")``, or ``(None, reason)`` when the content is refused."""
    if not head:
        return None, "empty file"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _STILL_IMAGE_BRANDS:
            name = brand.decode("ascii", "replace")
            return None, f"looks like a HEIF/AVIF still image (brand '{name}'); export it as JPEG"
        return "video", ""
    if head[4:8] in _QUICKTIME_BOXES or head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", ""
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form in (b"AVI ", b"AVIX"):
            return "video", ""
        if form == b"WEBP":
            return "image", ""
        return None, f"a RIFF file of type '{form.decode('latin-1').strip()}'"
    if head[:3] == b"\xff\xd8\xff" or head[:4] == b"\x89PNG":
        return "image", ""
    if head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image", ""  # BMP: the two reserved 16-bit fields are zero
    text = head[3:] if head[:3] == b"\xef\xbb\xbf" else head
    stripped = text.lstrip(b" \t\r\n")
    if stripped[:1] == b"{":
        return "landmarks_json", ""
    if stripped[:1] == b"[":
        return None, "looks like a JSON array; landmark JSON must be an object starting with '{'"
    for magic, what in _KNOWN_REFUSED:
        if head.startswith(magic):
            return None, f"looks like {what}"
    if _looks_like_text(text):
        if not stripped:
            return None, "looks like text (only whitespace)"
        start = stripped[:24].decode("utf-8", "replace").splitlines()[0]
        return None, f"looks like text (starts with {start!r})"
    return None, f"unrecognised bytes 0x{head[:8].hex().upper()}"


def _looks_like_text(head: bytes) -> bool:
    decoded = head.decode("utf-8", "replace")
    # up to 3 replacement characters: a multi-byte character cut by the 4 KiB read
    if decoded.count("\ufffd") > 3:
        return False
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in decoded)
    return printable >= 0.95 * len(decoded)


def isobmff_damage(path: Path) -> str | None:
    """Say what is structurally wrong with an MP4/MOV file, or None if nothing is seen.

    Walks the top-level boxes (``size`` + ``type``), which is enough to tell a
    missing ``moov`` index and a file cut inside its last box apart.
    """
    size = path.stat().st_size
    box_types: set[bytes] = set()
    end = 0  # where the last top-level box claims to end
    with path.open("rb") as fh:
        while end + 8 <= size and len(box_types) < 64:
            fh.seek(end)
            header = fh.read(16)
            box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1 and len(header) == 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                box_size = size - end
            if box_size < 8:
                break
            box_types.add(box_type)
            end += box_size
    if b"ftyp" not in box_types:
        return None
    cut = f"the file ends {end - size} bytes before its last box does" if end > size else ""
    if b"moov" not in box_types:
        cut = f"; {cut}" if cut else ""
        return f"the 'moov' index box is missing{cut} (recording interrupted or upload cut short)"
    return f"{cut} (cut short)" if cut else None
