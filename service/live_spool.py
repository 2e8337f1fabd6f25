"""The frames of a recording live connection, spooled to disk instead of kept in memory.

A ``?record=1`` connection may keep up to the upload limit of JPEGs (1 GB by default) and up to
``live_max_connections`` of them record at once, so the frames go to a temporary file in the
clinic's upload folder, ``<uploads>/<clinic>/tmp/live-*``, beside partial uploads. Each frame is
one record, sealed with AES-256-GCM under a key that lives only in this process's memory:

    u32 len(sealed)   sealed = AES-GCM(nonce = frame index, f64 t_s + JPEG bytes)

so the frames are never on disk in the clear, records cannot be reordered or cut unnoticed, and
a spool left by a killed process is unreadable (and swept: :func:`service.retention.sweep_partial`
removes ``live-*`` files untouched for longer than a live connection may be idle). Memory held per
connection is one frame at a time, writing or reading.

Frames are appended from the connection's event loop while a ``save`` reads them in a thread:
:meth:`FrameSpool.frames` reads the records written when it was called, each flushed before it is
counted.

Every spool of the process draws on one :class:`SpoolBudget` (``live_record_budget_mb``): a record
is written only when its bytes fit in what the other recording connections have left, so however
many connections record at once, their spools never hold more than the budget. A record that does
not fit is not written; the recording stops there and keeps what it wrote. A spool's bytes go back
to the budget when it is deleted. While the budget is :attr:`SpoolBudget.full` (less left than the
smallest record it has had to refuse) a new connection is not offered recording at all: it is told
so when it connects (:func:`service.live_record.start_recording`) instead of at its first frame.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SPOOL_PREFIX", "FrameSpool", "SpoolBudget", "SpoolBudgetExhausted"]

SPOOL_PREFIX = "live-"
_LEN = struct.Struct("<I")
_T = struct.Struct("<d")
TOUCH_EVERY_S = 30.0  # a live connection's spool is never older than this plus its idle timeout


_TAG = 16  # AES-GCM's tag, added to every sealed record


class SpoolBudgetExhausted(OSError):
    """A record would take the live spools of the whole process beyond their budget."""


class SpoolBudget:
    """The disk the live spools of every connection may hold together, in bytes (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._used = 0
        self._refused: int | None = None  # the smallest record refused so far
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    @property
    def full(self) -> bool:
        """Less is left than the smallest record refused so far (or nothing at all): a new recording
        could not keep a frame. It clears as soon as connections give back enough."""
        with self._lock:
            return self.max_bytes - self._used < (self._refused or 1)

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes; False (nothing reserved) when they do not fit."""
        with self._lock:
            if self._used + n > self.max_bytes:
                # the smallest, not the last: a budget is called full only when even that frame would not fit
                self._refused = n if self._refused is None else min(self._refused, n)
                return False
            self._used += n
            return True

    def give_back(self, n: int) -> None:
        with self._lock:
            self._used = max(0, self._used - n)


class FrameSpool:
    """Timestamped JPEG frames appended to a sealed temporary file in ``folder``.

    With a ``budget``, each record is reserved from it before it is written (else
    :class:`SpoolBudgetExhausted`), and :meth:`close` gives the spool's bytes back.
    """

    @staticmethod
    def record_bytes(jpeg_bytes: int) -> int:
        """What one frame of ``jpeg_bytes`` takes on disk: length, time, JPEG and the AES-GCM tag."""
        return _LEN.size + _T.size + jpeg_bytes + _TAG

    def __init__(self, folder: Path, budget: SpoolBudget | None = None) -> None:
        self.budget = budget
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=SPOOL_PREFIX)  # mode 0600
        self.path = Path(name)
        self._f = os.fdopen(fd, "wb")
        self._aes = AESGCM(AESGCM.generate_key(bit_length=256))  # in memory only
        self._lock = threading.Lock()
        self.count = 0  # frames written
        self.bytes = 0  # spool file size
        self._reserved = 0  # taken from the budget
        self.closed = False
        self._touched = time.monotonic()

    def append(self, t_s: float, jpeg: bytes) -> None:
        with self._lock:
            if self.closed:
                return
            size = self.record_bytes(len(jpeg))
            if self.budget is not None and not self.budget.take(size):
                raise SpoolBudgetExhausted(
                    f"the live recordings of this server hold their disk budget of "
                    f"{self.budget.max_bytes / 1024**2:g} MB (live_record_budget_mb)"
                )
            self._reserved += size  # kept until close even if the write fails: part of it may be on disk
            sealed = self._aes.encrypt(self.count.to_bytes(12, "big"), _T.pack(t_s) + jpeg, None)
            self._f.write(_LEN.pack(len(sealed)))
            self._f.write(sealed)
            self._f.flush()  # written before it is counted, so a reader sees whole records only
            self.count += 1
            self.bytes += size
            self._touched = time.monotonic()

    def touch(self) -> None:
        """Mark the spool as in use (the connection is alive), at most every ``TOUCH_EVERY_S``."""
        now = time.monotonic()
        if now - self._touched < TOUCH_EVERY_S or self.closed:
            return
        self._touched = now
        try:
            os.utime(self.path)
        except FileNotFoundError:
            pass

    def frames(self) -> Iterator[tuple[float, bytes]]:
        """``(t_s, jpeg)`` of the frames written so far, one at a time, oldest first."""
        with self._lock:
            n, size = self.count, self.bytes
        if n == 0:
            return
        with open(self.path, "rb") as f:  # an unlinked spool stays readable while it is open
            for i in range(n):
                head = f.read(_LEN.size)
                if len(head) != _LEN.size or f.tell() > size:
                    raise OSError("the live recording's spool is shorter than what was written")
                plain = self._aes.decrypt(i.to_bytes(12, "big"), f.read(_LEN.unpack(head)[0]), None)
                yield _T.unpack_from(plain)[0], plain[_T.size :]

    def close(self) -> None:
        """Delete the spool (idempotent); frames appended afterwards are ignored."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self._f.close()
            finally:
                self.path.unlink(missing_ok=True)
                if self.budget is not None:
                    self.budget.give_back(self._reserved)
