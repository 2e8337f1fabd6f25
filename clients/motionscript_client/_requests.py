"""What a call sends, built once and shared by :class:`~motionscript_client.Client` and :class:`~motionscript_client.AsyncClient`."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHUNK_BYTES", "Progress", "Upload", "landmark_upload", "multipart_upload", "source_upload"]

CHUNK_BYTES = 256 * 1024
Progress = Callable[[int, int], None]  # (bytes sent, bytes in total)


@dataclass
class Upload:
    """A request body that can be produced again for each retry (a stream can be read only once)."""

    content_type: str
    length: int
    head: bytes = b""
    path: Path | None = None  # streamed between head and tail
    tail: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def chunks(self, progress: Progress | None = None) -> Iterator[bytes]:
        sent = 0

        def tick(n: int) -> None:
            nonlocal sent
            sent += n
            if progress is not None:
                progress(sent, self.length)

        yield self.head
        tick(len(self.head))
        if self.path is not None:
            with open(self.path, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
                    tick(len(chunk))
        if self.tail:
            yield self.tail
            tick(len(self.tail))

    async def achunks(self, progress: Progress | None = None) -> AsyncIterator[bytes]:
        # Local file reads of 256 KiB block for well under a millisecond; no thread hop is needed.
        for chunk in self.chunks(progress):
            yield chunk


def _form_field(boundary: str, name: str, value: str) -> bytes:
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()


def multipart_upload(path: Path, file_field: str, fields: dict[str, str | None]) -> Upload:
    """``multipart/form-data`` with the file streamed from disk; the file's own name is not sent."""
    boundary = uuid.uuid4().hex
    head = b"".join(_form_field(boundary, k, v) for k, v in fields.items() if v is not None)
    # Uploaded names may carry a patient's name: send only the extension, which the server may use as a hint.
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="upload{path.suffix}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.path.getsize(path)
    return Upload(f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), head, path, tail)


def landmark_upload(doc: dict[str, Any], fields: dict[str, str | None]) -> Upload:
    body = json.dumps({**doc, **{k: v for k, v in fields.items() if v is not None}}).encode()
    return Upload("application/json", len(body), body)


def _looks_like_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    with open(path, "rb") as f:
        return f.read(64).lstrip()[:1] in (b"{", b"[")


def source_upload(source: str | os.PathLike[str] | dict[str, Any], fields: dict[str, str | None]) -> Upload:
    """A video or image file (multipart), a landmark JSON file or a landmark document (JSON body)."""
    if isinstance(source, dict):
        return landmark_upload(source, fields)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if _looks_like_json(path):
        try:
            doc = json.loads(path.read_bytes())
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: a landmark document is a JSON object, got {type(doc).__name__}")
        return landmark_upload(doc, fields)
    return multipart_upload(path, "video", fields)


def image_upload(image: bytes | str | os.PathLike[str]) -> Upload:
    if isinstance(image, bytes | bytearray | memoryview):
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="frame"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + bytes(image)
        tail = f"\r\n--{boundary}--\r\n".encode()
        return Upload(f"multipart/form-data; boundary={boundary}", len(head) + len(tail), head, None, tail)
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return multipart_upload(path, "image", {})
