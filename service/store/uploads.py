"""Content-addressed storage of uploaded inputs on the local disk.

Files live at ``<root>/<clinic>/<sha256[:2]>/<sha256>``: the same video uploaded
twice by one clinic is stored once, and clinics never share a file. Writes go
to a temporary file in the same folder and are renamed into place, so a
crash never leaves a half-written input under its final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StoredFile", "TooLarge", "UploadStore"]

CHUNK = 1 << 16


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"upload exceeds the limit of {limit // (1024 * 1024)} MB")
        self.limit = limit


@dataclass(frozen=True)
class StoredFile:
    relpath: str
    sha256: str
    size: int
    head: bytes  # the first bytes, for content sniffing


class UploadStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, relpath: str) -> Path:
        p = (self.root / relpath).resolve()
        if self.root.resolve() not in p.parents:
            raise ValueError("path escapes the uploads folder")
        return p

    def writer(self, clinic_id: str, limit: int) -> UploadWriter:
        folder = self.root / clinic_id / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="upload-")
        return UploadWriter(self, clinic_id, os.fdopen(fd, "wb"), Path(name), limit)

    async def save_stream(self, clinic_id: str, chunks: AsyncIterator[bytes], limit: int) -> StoredFile:
        """Stream chunks to disk, hashing as they pass; raise :class:`TooLarge` past ``limit``."""
        w = self.writer(clinic_id, limit)
        try:
            async for chunk in chunks:
                w.write(chunk)
            return w.commit()
        except BaseException:
            w.abort()
            raise

    def save_bytes(self, clinic_id: str, data: bytes) -> StoredFile:
        w = self.writer(clinic_id, max(len(data), 1))
        try:
            w.write(data)
            return w.commit()
        except BaseException:
            w.abort()
            raise

    def delete(self, relpath: str) -> None:
        self.path(relpath).unlink(missing_ok=True)


class UploadWriter:
    """One upload in progress: write chunks, then ``commit`` (rename into place) or ``abort``."""

    def __init__(self, store: UploadStore, clinic_id: str, f, tmp: Path, limit: int) -> None:
        self.store, self.clinic_id, self.f, self.tmp, self.limit = store, clinic_id, f, tmp, limit
        self.digest, self.size, self.head = hashlib.sha256(), 0, b""

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < 4096:
            self.head += chunk[: 4096 - len(self.head)]
        self.digest.update(chunk)
        self.f.write(chunk)

    def commit(self) -> StoredFile:
        self.f.close()
        sha = self.digest.hexdigest()
        rel = f"{self.clinic_id}/{sha[:2]}/{sha}"
        final = self.store.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, final)  # same content, same name: replacing is harmless
        return StoredFile(rel, sha, self.size, self.head)

    def abort(self) -> None:
        if not self.f.closed:
            self.f.close()
        self.tmp.unlink(missing_ok=True)
