"""A real ``motionscript serve`` process for benchmarks, and RSS sampling of its process tree.

RSS is read from ``/proc/<pid>/status`` (``VmRSS``) and the children from
``/proc/<pid>/task/<tid>/children``, so no psutil is needed (Linux only).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import httpx

__all__ = ["RssSampler", "ServerProcess", "cpu_seconds", "free_port", "process_tree", "rss_bytes", "tree_rss_bytes"]

REPO = Path(__file__).resolve().parents[1]


def rss_bytes(pid: int) -> int:
    """Resident set size of one process; 0 if it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def tree_rss_bytes(pid: int) -> int:
    return sum(rss_bytes(p) for p in process_tree(pid))


class RssSampler:
    """Sample RSS in a thread; ``peak`` is the largest value seen between ``start`` and ``stop``.

    ``tree=True`` sums the process and its descendants (the analysis workers).
    """

    def __init__(self, pid: int, *, tree: bool, interval_s: float = 0.02) -> None:
        self.pid, self.tree, self.interval_s = pid, tree, interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def sample(self) -> int:
        if not self.tree:
            return rss_bytes(self.pid)
        return tree_rss_bytes(self.pid)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.sample())
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> Self:
        self.peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())


def free_port() -> int:
    """A free loopback port (the benchmarks' and the tests' servers): from ``MOTIONSCRIPT_TEST_PORTS`` (``first-last``) when set, else any the system gives."""
    wanted = os.environ.get("MOTIONSCRIPT_TEST_PORTS", "")
    if wanted:
        first, _, last = wanted.partition("-")
        ports = list(range(int(first), int(last or first) + 1))
        random.shuffle(ports)  # two calls before either port is taken should not give the same one
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in MOTIONSCRIPT_TEST_PORTS={wanted}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m service.cli serve`` on a free port with its own data dir (embedded SQLite).

    Use as a context manager; ``keys`` maps clinic names to API keys created
    with ``motionscript keys create`` before the server starts.
    """

    def __init__(
        self,
        *,
        workers: int,
        clinics: tuple[str, ...] = ("bench",),
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 90.0,
        keys_in_process: bool = False,
    ) -> None:
        self.workers, self.clinics, self.extra_env = workers, clinics, env or {}
        self.keys_in_process = keys_in_process  # quicker for many clinics than `motionscript keys create` each
        self.startup_timeout_s = startup_timeout_s
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.keys: dict[str, str] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log = None
        self.proc: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
        env.update(MOTIONSCRIPT_DATA_DIR=str(self.data_dir), MOTIONSCRIPT_LOG_LEVEL="WARNING", **self.extra_env)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def __enter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="motionscript-bench-")
        try:
            if self.keys_in_process:
                self._create_keys_here()
            for clinic in () if self.keys_in_process else self.clinics:
                done = subprocess.run(
                    [sys.executable, "-m", "service.cli", "keys", "create", "--clinic", clinic],
                    env=self._env(),
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=True,
                )
                self.keys[clinic] = done.stdout.strip()
            self._log = open(self.data_dir / "server.log", "wb")  # closed in __exit__
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "service.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self._env(),
                cwd=REPO,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _create_keys_here(self) -> None:
        from sqlalchemy.orm import Session

        from service.auth import create_key
        from service.store.db import make_engine, migrate

        url = f"sqlite:///{self.data_dir / 'motionscript.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            with Session(engine) as s:
                for clinic in self.clinics:  # "Name#2": a second key of the clinic "Name"
                    self.keys[clinic], _ = create_key(s, clinic.split("#")[0], "admin")
                s.commit()
        finally:
            engine.dispose()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {self.startup_timeout_s:.0f} s:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down; the lifespan stops the workers
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for pid in reversed(process_tree(self.proc.pid)):  # a hung server's workers would outlive it
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
