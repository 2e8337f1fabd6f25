"""Envelope encryption of stored files (uploaded videos, images, landmark and sensor files).

Every file gets its own random 256-bit *data key*. The content is sealed with AES-256-GCM in
chunks of :data:`CHUNK` bytes, so a file of any size is encrypted and decrypted with flat memory,
and any byte range can be read by opening only the chunks it touches (video seeking). The data
key is wrapped (AES key wrap, RFC 3394) by a *key-encryption key* from the keyring, and the file
header names that key's id. Rotating keys re-wraps data keys only: the sealed content is never
re-encrypted (``motionscript storage rotate-keys``).

Layout of a file::

    b"MSENC1"  u8 len(kid)  kid  u8 len(wrapped)  wrapped data key  u32 chunk size   (header)
    chunk 0: ciphertext + 16-byte tag, chunk 1, ...                                   (body)

Chunk ``i`` is sealed with the nonce ``i`` (11 bytes, big endian) followed by one byte that is 1
for the last chunk, 0 otherwise (the STREAM construction: chunks cannot be reordered, and a file
cut at a chunk boundary is refused because its last chunk is not marked last). The associated data
is the magic and the chunk size, the parts of the header that rotation never changes. Nonces
repeat across files, never under one key: each file has its own data key.

A file without the magic is a plaintext file from before encryption; it is read as it is, and
``rotate-keys`` encrypts it.
"""

from __future__ import annotations

import base64
import io
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

__all__ = [
    "CHUNK",
    "MAGIC",
    "DecryptError",
    "DecryptingReader",
    "EncryptingWriter",
    "KeyMissing",
    "Keyring",
    "is_encrypted",
    "new_key_entry",
    "read_header",
]

MAGIC = b"MSENC1"
CHUNK = 1 << 16
TAG = 16
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyMissing(Exception):
    """The file's key-encryption key is not in the keyring."""

    def __init__(self, kid: str) -> None:
        super().__init__(
            f"stored file is encrypted with storage key {kid!r}, which is not in the keyring "
            "(MOTIONSCRIPT_STORAGE_KEYS or the key file; docs/deploy.md#keys)"
        )
        self.kid = kid


class DecryptError(Exception):
    """The file is damaged, cut short or was not sealed with the key its header names."""


def new_key_entry(kid: str | None = None) -> str:
    """A new keyring entry ``kid:base64url(32 random bytes)``; the kid is 8 hex digits unless given."""
    kid = kid or secrets.token_hex(4)
    if not _KID.match(kid):
        raise ValueError(f"key id {kid!r}: use 1-64 letters, digits or . _ -")
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys by id; ``current`` wraps new data keys, every key unwraps."""

    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """``kid:key[,kid:key...]`` (commas or newlines); keys are 32 bytes in base64; the first is current."""
        keys: dict[str, bytes] = {}
        lines = [line for line in spec.splitlines() if not line.strip().startswith("#")]
        entries = [e.strip() for e in ",".join(lines).split(",") if e.strip()]
        for n, entry in enumerate(entries, 1):
            kid, sep, b64 = entry.partition(":")
            kid = kid.strip()
            if not sep or not _KID.match(kid):
                raise ValueError(
                    f"storage keys, entry {n}: expected 'id:base64key' with an id of letters, digits or . _ - "
                    "(make one with `motionscript storage keygen`)"
                )
            try:
                raw = base64.urlsafe_b64decode(b64.strip().replace("+", "-").replace("/", "_"))
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError(f"storage keys, key {kid!r}: expected 32 bytes in base64, got {len(raw)}")
            if kid in keys:
                raise ValueError(f"storage keys: key id {kid!r} appears twice")
            keys[kid] = raw
        if not keys:
            raise ValueError("storage keys: no key given")
        return cls(keys, next(iter(keys)))

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        return self.current, aes_key_wrap(self.keys[self.current], data_key)

    def unwrap(self, kid: str, wrapped: bytes) -> bytes:
        kek = self.keys.get(kid)
        if kek is None:
            raise KeyMissing(kid)
        try:
            return aes_key_unwrap(kek, wrapped)
        except InvalidUnwrap:
            raise DecryptError(f"the data key does not unwrap with storage key {kid!r}") from None


@dataclass(frozen=True)
class Header:
    kid: str
    wrapped: bytes
    chunk: int
    size: int  # bytes of the header

    @staticmethod
    def encode(kid: str, wrapped: bytes, chunk: int) -> bytes:
        k = kid.encode()
        return MAGIC + bytes([len(k)]) + k + bytes([len(wrapped)]) + wrapped + struct.pack(">I", chunk)


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def read_header(f) -> Header | None:
    """The header at the start of open file ``f`` (None for a plaintext file); leaves ``f`` after it."""
    f.seek(0)
    if f.read(len(MAGIC)) != MAGIC:
        return None
    try:
        (n,) = f.read(1)
        kid = f.read(n).decode()
        (m,) = f.read(1)
        wrapped = f.read(m)
        (chunk,) = struct.unpack(">I", f.read(4))
    except (ValueError, UnicodeDecodeError, struct.error):
        raise DecryptError("the encryption header is damaged") from None
    if len(wrapped) != m or not 0 < chunk <= 1 << 24:
        raise DecryptError("the encryption header is damaged")
    return Header(kid, wrapped, chunk, len(MAGIC) + 1 + n + 1 + m + 4)


def _nonce(i: int, last: bool) -> bytes:
    return i.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _aad(chunk: int) -> bytes:
    return MAGIC + struct.pack(">I", chunk)


class EncryptingWriter:
    """Seal what is written to ``f`` (an open binary file) under a new data key; ``close`` seals the last chunk."""

    def __init__(self, f, keyring: Keyring, chunk: int = CHUNK) -> None:
        self.f, self.chunk = f, chunk
        data_key = AESGCM.generate_key(bit_length=256)
        kid, wrapped = keyring.wrap(data_key)
        self._aes, self._aad = AESGCM(data_key), _aad(chunk)
        self._buf = bytearray()
        self._i = 0
        self.closed = False
        f.write(Header.encode(kid, wrapped, chunk))

    def write(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) > self.chunk:  # a full chunk is sealed once more data follows it
            self.f.write(self._aes.encrypt(_nonce(self._i, False), bytes(self._buf[: self.chunk]), self._aad))
            del self._buf[: self.chunk]
            self._i += 1

    def close(self) -> None:
        if not self.closed:
            self.f.write(self._aes.encrypt(_nonce(self._i, True), bytes(self._buf), self._aad))
            self._buf.clear()
            self.closed = True
            self.f.close()


class DecryptingReader(io.RawIOBase):
    """A seekable plaintext view of a stored file (encrypted or legacy plaintext).

    Reads open only the chunks they touch, so memory stays at one chunk whatever the file size.
    """

    def __init__(self, path: Path, keyring: Keyring | None) -> None:
        super().__init__()
        self._f = open(path, "rb")
        try:
            self.header = read_header(self._f)
            total = os.fstat(self._f.fileno()).st_size
            if self.header is None:
                self._aes = None
                self.size = total
            else:
                if keyring is None:
                    raise KeyMissing(self.header.kid)
                self._aes = AESGCM(keyring.unwrap(self.header.kid, self.header.wrapped))
                body = total - self.header.size
                step = self.header.chunk + TAG
                self._chunks = max(1, -(-body // step))
                self.size = body - TAG * self._chunks
                if self.size < 0:
                    raise DecryptError("the file is cut short")
        except BaseException:
            self._f.close()
            raise
        self._pos = 0
        self._cache: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def _chunk(self, i: int) -> bytes:
        if self._cache is not None and self._cache[0] == i:
            return self._cache[1]
        assert self.header is not None and self._aes is not None
        step = self.header.chunk + TAG
        self._f.seek(self.header.size + i * step)
        sealed = self._f.read(step)
        last = i == self._chunks - 1
        try:
            plain = self._aes.decrypt(_nonce(i, last), sealed, _aad(self.header.chunk))
        except InvalidTag:
            raise DecryptError(f"chunk {i} does not authenticate: the file is damaged or cut short") from None
        self._cache = (i, plain)
        return plain

    def readinto(self, b) -> int:
        """Fill ``b`` as far as the file goes (across chunks: never a short read before the end)."""
        view = memoryview(b).cast("B")
        want = min(len(view), max(self.size - self._pos, 0))
        if self.header is None:
            self._f.seek(self._pos)
            n = self._f.readinto(view[:want])
            self._pos += n
            return n
        done = 0
        while done < want:
            i, at = divmod(self._pos, self.header.chunk)
            plain = self._chunk(i)
            n = min(want - done, len(plain) - at)
            view[done : done + n] = plain[at : at + n]
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()
