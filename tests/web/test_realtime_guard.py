"""The guards that keep the test browser off real-time scheduling (tests/web/realtime.py).

A Chromium from these tests once ran at SCHED_FIFO 99 for 30 minutes and starved the machine.
Setting a policy to SCHED_FIFO needs root (CAP_SYS_NICE); where it is refused, the tests that
need it skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.web.realtime import RealtimeWatchdog, descendants, guarded_command, kill_groups

CAP_SYS_NICE = 23
TRY_REALTIME = (
    "import os\n"
    "try:\n"
    "    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(99))\n"
    "    print('realtime')\n"
    "except PermissionError:\n"
    "    print('refused')\n"
)


def _fifo(pid: int, priority: int = 1) -> None:
    try:
        os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        pytest.skip("this user may not set SCHED_FIFO (needs root or CAP_SYS_NICE)")


def _wait_for(condition, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_guarded_command_is_refused_realtime_priority():
    guarded = subprocess.run(guarded_command([sys.executable, "-c", TRY_REALTIME]), capture_output=True, text=True)
    assert guarded.stdout.strip() == "refused", guarded
    plain = subprocess.run([sys.executable, "-c", TRY_REALTIME], capture_output=True, text=True)
    if plain.stdout.strip() == "refused":
        pytest.skip("unguarded processes are refused real-time priority here too: the guard is not what stops it")
    assert plain.stdout.strip() == "realtime"  # what the guard stops: root may take SCHED_FIFO 99


def test_the_watchdog_demotes_a_grandchild_set_to_sched_fifo(watchdog: RealtimeWatchdog):
    # The session's watchdog (tests/web/conftest.py), not a second one: two watchdogs scanning
    # the same tree race for the demotion, and the one that loses records nothing (CI, stop 25).
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    sleeper = None
    try:
        assert _wait_for(lambda: len(descendants(shell.pid)) == 1)
        (sleeper,) = descendants(shell.pid)
        mark = len(watchdog.demoted)
        _fifo(sleeper, 7)
        assert _wait_for(lambda: any(d.pid == sleeper for d in watchdog.since(mark)))
        assert os.sched_getscheduler(sleeper) == os.SCHED_OTHER
        (found,) = [d for d in watchdog.since(mark) if d.pid == sleeper]
        assert (found.pid, found.tid, found.policy, found.priority) == (sleeper, sleeper, os.SCHED_FIFO, 7)
        assert "SCHED_FIFO priority 7" in str(found)
    finally:
        if sleeper is not None:
            os.kill(sleeper, signal.SIGKILL)
        shell.kill()
        shell.wait()


def test_kill_groups_demotes_then_kills_a_realtime_group_and_spares_others():
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)  # its own group, as Playwright starts Chromium
    try:
        _fifo(sleeper.pid)
        assert kill_groups({os.getpgid(sleeper.pid)}, browser="chromium") == []  # not a browser: left alone
        assert kill_groups({os.getpgrp()}, browser="python") == []  # never this test run's own group
        assert kill_groups({os.getpgid(sleeper.pid)}, browser="sleep") == [sleeper.pid]
        assert sleeper.wait(timeout=5) == -9
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_the_test_browser_runs_without_realtime_priority_or_the_right_to_take_it(browser, watchdog):
    groups = watchdog.browser_groups()
    assert groups, "no Chromium process found below this test run"
    pids = [pid for pid in descendants(os.getpid()) if os.getpgid(pid) in groups]
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            assert os.sched_getscheduler(int(tid)) == os.SCHED_OTHER, (pid, tid)
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f)
        assert not int(status["CapEff"], 16) >> CAP_SYS_NICE & 1, pid
        assert not int(status["CapBnd"], 16) >> CAP_SYS_NICE & 1, pid
