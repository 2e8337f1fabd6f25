"""Content-addressed storage of uploaded inputs on the local disk, encrypted at rest.

Files live at ``<root>/<clinic>/<sha256[:2]>/<sha256>`` (the sha256 of the plaintext): the same
video uploaded twice by one clinic is stored once, and clinics never share a file. Writes go to a
temporary file in the same folder and are renamed into place, so a crash never leaves a
half-written input under its final name.

Every file is sealed as it streams in (:mod:`service.store.crypto`: a data key per file, wrapped
by the keyring's current key). Nothing outside this module opens a stored file directly:
:meth:`UploadStore.open` gives a seekable plaintext reader (byte ranges for the browser), and
:meth:`UploadStore.plaintext` a short-lived plaintext copy in the scratch folder for the decoders
that need a real file (PyAV, OpenCV, the sensor readers), removed as soon as the block ends.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from service.store.crypto import (
    DecryptingReader,
    EncryptingWriter,
    Header,
    Keyring,
    new_key_entry,
    read_header,
)

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["StoredFile", "TooLarge", "UploadStore", "load_keyring"]

CHUNK = 1 << 16
KEY_FILE_NAME = "storage.keys"


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


def load_keyring(settings: Settings, *, create: bool = True) -> Keyring:
    """The storage keyring: ``MOTIONSCRIPT_STORAGE_KEYS`` if set, else the key file.

    Without either, the embedded default generates a key file (``<data_dir>/storage.keys``, mode
    0600) on first start, so uploads are never stored in the clear; a deployment sets the keys
    from its secret store instead and keeps them out of the data volume (docs/deploy.md#keys).
    """
    if settings.storage_keys is not None:
        return Keyring.parse(settings.storage_keys.get_secret_value())
    path = settings.storage_key_path
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".storage-keys-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(
                    "# Motionscript storage keys (docs/deploy.md#keys): id:base64, the first one wraps new files.\n"
                    "# Without this file the stored uploads cannot be read. Keep a copy apart from the backups.\n"
                    + new_key_entry()
                    + "\n"
                )
            try:
                os.link(tmp, path)  # atomic and exclusive: of processes starting together, one key wins
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                with open(path, "x") as f:
                    f.write(Path(tmp).read_text())
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"no storage keys: set MOTIONSCRIPT_STORAGE_KEYS or restore the key file {path}") from None
    return Keyring.parse(text)


class UploadStore:
    def __init__(self, root: Path, keyring: Keyring | None, scratch: Path | None = None) -> None:
        self.root = Path(root)
        self.keyring = keyring
        self.scratch = Path(scratch) if scratch is not None else self.root.parent / "scratch"

    @classmethod
    def from_settings(cls, settings: Settings, *, create_key: bool = True) -> UploadStore:
        return cls(settings.uploads_path, load_keyring(settings, create=create_key), settings.scratch_path)

    def location(self, relpath: str) -> Path:
        """Where the (encrypted) file lives; read it with :meth:`open` or :meth:`plaintext`."""
        p = (self.root / relpath).resolve()
        if self.root.resolve() not in p.parents:
            raise ValueError("path escapes the uploads folder")
        return p

    def exists(self, relpath: str) -> bool:
        return self.location(relpath).is_file()

    def open(self, relpath: str) -> DecryptingReader:
        """A seekable reader of the plaintext (``.size`` bytes)."""
        return DecryptingReader(self.location(relpath), self.keyring)

    @contextmanager
    def plaintext(self, relpath: str) -> Iterator[Path]:
        """A plaintext copy for the block's duration (the file itself if it predates encryption)."""
        src = self.location(relpath)
        with open(src, "rb") as f:
            if read_header(f) is None:
                yield src
                return
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix="plain-")  # mode 0600
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(relpath) as reader:
                shutil.copyfileobj(reader, out, CHUNK)
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def clean_scratch(self, older_than_s: float = 24 * 3600) -> int:
        """Remove plaintext copies left by a process that was killed (older than any analysis)."""
        if not self.scratch.is_dir():
            return 0
        n, limit = 0, time.time() - older_than_s
        for p in self.scratch.glob("plain-*"):
            try:
                if p.stat().st_mtime < limit:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n

    def writer(self, clinic_id: str, limit: int) -> UploadWriter:
        folder = self.partial_folder(clinic_id)
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
        return self.save_chunks(clinic_id, [data], max(len(data), 1))

    def save_chunks(self, clinic_id: str, chunks: Iterable[bytes], limit: int | None = None) -> StoredFile:
        """Store what ``chunks`` yields, one block in memory at a time (``limit``: :class:`TooLarge` past it)."""
        w = self.writer(clinic_id, sys.maxsize if limit is None else limit)
        it = iter(chunks)
        try:
            for chunk in it:
                w.write(chunk)
            return w.commit()
        except BaseException:
            w.abort()
            raise
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # a generator's own clean-up (a scratch file) runs now, not at garbage collection

    def partial_folder(self, clinic_id: str) -> Path:
        """Where the clinic's files in progress are written (uploads, live recordings' spools)."""
        return self.root / clinic_id / "tmp"

    def delete(self, relpath: str) -> None:
        self.location(relpath).unlink(missing_ok=True)

    def files(self) -> Iterator[str]:
        """Relative paths of every stored file (uploads in progress left out)."""
        if not self.root.is_dir():
            return
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root)
            if p.is_file() and "tmp" not in rel.parts[1:2] and not p.name.startswith((".rotate-", "upload-")):
                yield rel.as_posix()

    def rewrap(self, relpath: str) -> str:
        """Wrap the file's data key with the current key: ``"rewrapped"``, ``"current"`` or ``"encrypted"``
        (a plaintext file from before encryption, now sealed). The content is never re-encrypted."""
        src = self.location(relpath)
        with open(src, "r+b") as f:
            header = read_header(f)
            if header is not None and header.kid == self.keyring.current:
                return "current"
            if header is not None:
                data_key = self.keyring.unwrap(header.kid, header.wrapped)
                kid, wrapped = self.keyring.wrap(data_key)
                new = Header.encode(kid, wrapped, header.chunk)
                if len(new) == header.size:  # same-length key ids: rewrite the header in place
                    f.seek(0)
                    f.write(new)
                    f.flush()
                    os.fsync(f.fileno())
                    return "rewrapped"
        fd, name = tempfile.mkstemp(dir=src.parent, prefix=".rotate-")
        tmp = Path(name)
        try:
            with open(src, "rb") as f, os.fdopen(fd, "wb") as out:
                if header is None:  # legacy plaintext: seal it now
                    w = EncryptingWriter(out, self.keyring)
                    while block := f.read(CHUNK):
                        w.write(block)
                    w.close()
                else:  # another header length: new header, the same sealed body
                    out.write(new)
                    f.seek(header.size)
                    shutil.copyfileobj(f, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, src)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return "encrypted" if header is None else "rewrapped"


class UploadWriter:
    """One upload in progress: write chunks, then ``commit`` (rename into place) or ``abort``."""

    def __init__(self, store: UploadStore, clinic_id: str, f, tmp: Path, limit: int) -> None:
        self.store, self.clinic_id, self.tmp, self.limit = store, clinic_id, tmp, limit
        self.f = EncryptingWriter(f, store.keyring)
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
            self.f.f.close()
            self.f.closed = True
        self.tmp.unlink(missing_ok=True)
