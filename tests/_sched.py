"""Keep the test process itself off real-time scheduling.

The SVT-AV1 encoder (``libsvtav1``, used by ``tests/vision/test_decode.py`` to make an AV1
clip) moves the thread that calls it to SCHED_FIFO priority 99 when it runs as root, and
leaves it there. Every process the test run started afterwards inherited that policy: the
Playwright driver, Chromium, the service under test. That is how a Chromium once spun both
cores at SCHED_FIFO 99 for 30 minutes (tests/web/realtime.py), and how the browser tests of a
full run later failed their own real-time watchdog.

:func:`keep_policy` restores the calling thread's policy after a block that may change it;
:func:`demote_realtime_threads` is the process-wide check ``tests/conftest.py`` runs after
every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REALTIME = {os.SCHED_FIFO, os.SCHED_RR, getattr(os, "SCHED_DEADLINE", 6)}


@contextmanager
def keep_policy() -> Iterator[None]:
    """Run the block, then put the calling thread back on the scheduling policy it had."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority) != (policy, param.sched_priority):
            os.sched_setscheduler(0, policy, param)


def demote_realtime_threads() -> list[str]:
    """Move every thread of this process found at a real-time policy to SCHED_OTHER; describe each."""
    found = []
    for entry in os.scandir("/proc/self/task"):
        tid = int(entry.name)
        try:
            policy = os.sched_getscheduler(tid)
            if policy not in REALTIME:
                continue
            priority = os.sched_getparam(tid).sched_priority
            comm = Path(entry.path, "comm").read_text().strip()
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        found.append(f"thread {tid} ({comm}) at policy {policy} priority {priority}")
    return found
