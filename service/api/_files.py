"""Serve a stored file through its decrypting reader, with single byte ranges (video seeking)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from service.store.crypto import DecryptingReader

__all__ = ["decrypted_response"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_BLOCK = 1 << 16


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """``(start, end_inclusive)``, None for the whole file, or ``"unsatisfiable"``."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m[1] and not m[2]):
        return None  # several ranges or a malformed one: the whole file is a valid answer (RFC 9110 14.2)
    if not m[1]:  # the last N bytes
        n = int(m[2])
        return (max(size - n, 0), size - 1) if n and size else "unsatisfiable"
    start = int(m[1])
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def decrypted_response(reader: DecryptingReader, range_header: str | None, media_type: str) -> Response:
    size = reader.size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    r = _byte_range(range_header, size)
    if r == "unsatisfiable":
        reader.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = r if isinstance(r, tuple) else (0, size - 1)

    def body() -> Iterator[bytes]:
        try:
            reader.seek(start)
            left = end - start + 1
            while left > 0:
                block = reader.read(min(_BLOCK, left))
                if not block:
                    break
                left -= len(block)
                yield block
        finally:
            reader.close()

    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if isinstance(r, tuple):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        body(), status_code=status, media_type=media_type, headers=headers, background=BackgroundTask(reader.close)
    )
