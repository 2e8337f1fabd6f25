"""The test process's own real-time guard (tests/_sched.py)."""

from __future__ import annotations

import os
import threading

import pytest

from tests._sched import demote_realtime_threads, keep_policy


def _try_fifo(tid: int, priority: int) -> None:
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        pytest.skip("this user may not set SCHED_FIFO (needs root or CAP_SYS_NICE)")


def test_keep_policy_puts_the_thread_back_on_its_policy() -> None:
    before = os.sched_getscheduler(0)
    with keep_policy():
        _try_fifo(0, 5)
        assert os.sched_getscheduler(0) == os.SCHED_FIFO
    assert os.sched_getscheduler(0) == before != os.SCHED_FIFO


def test_a_realtime_thread_of_the_test_process_is_found_and_demoted() -> None:
    ready, done = threading.Event(), threading.Event()
    tids: list[int] = []

    def worker() -> None:
        tids.append(threading.get_native_id())
        ready.set()
        done.wait(10)

    t = threading.Thread(target=worker, name="rt-probe")
    t.start()
    try:
        ready.wait(5)
        _try_fifo(tids[0], 7)
        found = demote_realtime_threads()
        assert (
            len(found) == 1
            and found[0].startswith(f"thread {tids[0]} (")
            and found[0].endswith(f"at policy {os.SCHED_FIFO} priority 7")
        )
        assert os.sched_getscheduler(tids[0]) == os.SCHED_OTHER
        assert demote_realtime_threads() == []
    finally:
        done.set()
        t.join()


def test_encoding_av1_leaves_the_test_process_off_realtime(tmp_path) -> None:
    from tests.vision.test_decode import write_video

    os.environ.setdefault("SVT_LOG", "0")
    write_video(tmp_path / "a.mkv", codec="libsvtav1", height=64)
    assert os.sched_getscheduler(0) not in {os.SCHED_FIFO, os.SCHED_RR}
