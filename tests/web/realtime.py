"""Keep the test browser off real-time scheduling, and kill all of it on teardown.

A Chromium started by these tests once ran at SCHED_FIFO priority 99: it spun both cores
for 30 minutes, starved the machine, and its SIGKILL stayed pending until it was demoted by
hand (``chrt -o -p 0 PID``). Running as root it may ask for real-time priority (its audio
threads do) and get it. Three guards:

* :func:`guarded_command`: Chromium is started with ``RLIMIT_RTPRIO`` 0 and, as root,
  without ``CAP_SYS_NICE`` (``prlimit`` + ``setpriv``), so the kernel refuses it any
  real-time policy; ``RLIMIT_RTTIME`` kills a real-time thread that runs 2 s without
  blocking, should one get through anyway;
* :class:`RealtimeWatchdog`: a thread that scans every thread of this process's
  descendants, demotes any found with a real-time policy to SCHED_OTHER and records it,
  so the test that saw it fails loudly;
* :func:`kill_groups`: demote, then SIGKILL each browser process group (Playwright starts
  Chromium as a group leader), whatever state the browser's own close left it in.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

REALTIME = {os.SCHED_FIFO, os.SCHED_RR, getattr(os, "SCHED_DEADLINE", 6)}
RTTIME_US = (1_000_000, 2_000_000)  # SIGXCPU after 1 s of real-time CPU without blocking, SIGKILL after 2 s


def guarded_command(argv: list[str]) -> list[str]:
    """``argv`` run so that it cannot take real-time scheduling."""
    prlimit, setpriv = shutil.which("prlimit"), shutil.which("setpriv")
    if prlimit is None:
        raise RuntimeError("prlimit (util-linux) is needed to start the test browser without real-time priority")
    cmd = [prlimit, "--rtprio=0:0", f"--rttime={RTTIME_US[0]}:{RTTIME_US[1]}"]
    if os.geteuid() == 0:  # root ignores RLIMIT_RTPRIO: drop the capability that lets it
        if setpriv is None:
            raise RuntimeError("setpriv (util-linux) is needed to drop CAP_SYS_NICE from the test browser")
        cmd += [setpriv, "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--"]
    return cmd + argv


def guarded_executable(binary: str, directory: Path) -> Path:
    """A launcher script for Playwright's ``executable_path``: ``binary`` under :func:`guarded_command`."""
    path = directory / "chromium-no-realtime"
    quoted = " ".join(f"'{a}'" for a in guarded_command([binary]))
    path.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n')
    path.chmod(0o755)
    return path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (not ``root`` itself)."""
    tree, out, todo = _children(), [], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _comm(tid: int) -> str:
    try:
        return Path(f"/proc/{tid}/comm").read_text().strip()
    except OSError:
        return "?"


@dataclass(frozen=True)
class Demoted:
    """A thread found with a real-time policy, and what it was."""

    pid: int
    tid: int
    comm: str
    policy: int
    priority: int

    def __str__(self) -> str:
        name = {os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}.get(self.policy, f"policy {self.policy}")
        return f"pid {self.pid} thread {self.tid} ({self.comm}) ran at {name} priority {self.priority}"


def demote(pid: int) -> list[Demoted]:
    """Move every real-time thread of ``pid`` to SCHED_OTHER; what was found."""
    found = []
    for tid in _threads(pid):
        try:
            policy = os.sched_getscheduler(tid)
            if policy not in REALTIME:
                continue
            priority = os.sched_getparam(tid).sched_priority
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except (ProcessLookupError, PermissionError):
            continue
        found.append(Demoted(pid, tid, _comm(tid), policy, priority))
    return found


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def kill_groups(pgids: set[int], *, browser: str = "chromium") -> list[int]:
    """Demote every member of each process group, then SIGKILL the group; the pids killed.

    A starved real-time thread keeps a SIGKILL pending, hence the demotion first. A group is
    only touched while every member still runs ``browser`` (a reused group id is left alone),
    and never this test run's own group.
    """
    killed: list[int] = []
    for pgid in pgids:
        if pgid in (os.getpgrp(), 0, 1):
            continue
        members = _group_members(pgid)
        if not members or not all(browser in _exe(pid) for pid in members):
            continue
        for pid in members:
            demote(pid)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed += members
    return killed


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    members.append(int(entry.name))
            except OSError:
                continue
    return members


class RealtimeWatchdog:
    """Scans ``root``'s descendants every ``interval_s``; demotes and records real-time threads."""

    def __init__(self, root: int | None = None, *, interval_s: float = 0.25, browser: str = "chromium") -> None:
        self.root = os.getpid() if root is None else root
        self.interval_s = interval_s
        self.browser = browser
        self.demoted: list[Demoted] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="realtime-watchdog", daemon=True)

    def __enter__(self) -> RealtimeWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.scan()  # one last look

    def scan(self) -> list[Demoted]:
        found = []
        for pid in descendants(self.root):
            found += demote(pid)
        with self._lock:
            self.demoted += found
        return found

    def browser_groups(self) -> set[int]:
        """Process groups of the ``browser`` processes running below ``root`` now."""
        groups = set()
        for pid in descendants(self.root):
            if self.browser in _exe(pid):
                try:
                    groups.add(os.getpgid(pid))
                except OSError:
                    continue
        return groups

    def since(self, mark: int) -> list[Demoted]:
        """What was demoted after ``mark`` (a previous ``len(watchdog.demoted)``)."""
        with self._lock:
            return self.demoted[mark:]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.scan()
