"""Start and stop real ``motionscript`` processes for the end-to-end tests.

Every process runs in its own session (``start_new_session=True``), so it and
everything it starts (the local pool's workers, multiprocessing's resource
tracker) share one process group that :meth:`Processes.close` ends as a whole.
Output goes to a log file per process; :meth:`Processes.dump_logs` prints the
tails, and the fixture prints them at teardown, which pytest shows only when
the test failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._server import free_port as free_port  # one helper for the tests' and the benchmarks' servers

REPO = Path(__file__).resolve().parents[2]


def service_env(**settings: Any) -> dict[str, str]:
    """This environment without any ``MOTIONSCRIPT_*`` variable, plus ``settings`` as ``MOTIONSCRIPT_<NAME>``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["MOTIONSCRIPT_WEBHOOK_ALLOW_NETWORKS"] = '["127.0.0.0/8", "::1/128"]'  # the tests' receivers are on loopback
    env.update({f"MOTIONSCRIPT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run ``motionscript ARGS`` to completion; returns its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"motionscript {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 150) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group; reaping orphans is init's job, not always done in containers."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return [pgid] if _signal_group(pgid, 0) else []
    out = []
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(d.name))
    return out


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


@dataclass
class Processes:
    """The processes of one test; :meth:`close` always ends every one of them."""

    logs_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, *args: str, env: dict[str, str], cwd: Path) -> Proc:
        """``motionscript ARGS`` in its own process group."""
        return self.start_program(name, [sys.executable, "-m", "service.cli", *args], env=env, cwd=cwd)

    def start_program(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> Proc:
        log = self.logs_dir / f"{name}.log"
        with open(log, "ab") as out:  # the child keeps its own descriptor
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        p = Proc(name, popen, log)
        self.procs.append(p)
        return p

    def serve(self, name: str, port: int, *args: str, env: dict[str, str], cwd: Path) -> Proc:
        return self.start(name, "serve", "--host", "127.0.0.1", "--port", str(port), *args, env=env, cwd=cwd)

    def close(self, grace_s: float = 10.0) -> None:
        """SIGTERM each process (as an init system would), then SIGKILL its whole group after ``grace_s``."""
        for p in self.procs:
            if p.alive():
                p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            while _group_alive(p.pid) and time.monotonic() < deadline:
                time.sleep(0.1)  # the leader is gone; its workers are still shutting down
        for p in self.procs:
            _signal_group(p.pid, signal.SIGKILL)
            try:
                p.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, p: Proc, timeout_s: float = 20.0) -> int:
        """SIGTERM one process and wait until it and every process it started are gone; returns its exit code."""
        p.popen.send_signal(signal.SIGTERM)
        code = p.popen.wait(timeout_s)
        wait_until(f"the processes of {p.name} to exit", lambda: not _group_alive(p.pid), timeout_s)
        return code

    def dump_logs(self, lines: int = 150) -> None:
        for p in self.procs:
            state = "running" if p.alive() else f"exited {p.popen.returncode}"
            print(f"\n===== {p.name} (pid {p.pid}, {state}): last {lines} lines of {p.log} =====")
            print(p.tail(lines))


def wait_until(
    what: str,
    check: Callable[[], Any],
    timeout_s: float,
    interval_s: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> Any:
    """Call ``check`` until it returns something truthy; ``alive`` may raise if a process died."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        if alive is not None:
            alive()
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(interval_s)


def wait_ready(base_url: str, server: Proc, timeout_s: float = 60.0) -> dict:
    def alive() -> None:
        assert server.alive(), f"{server.name} exited with {server.popen.returncode}:\n{server.tail()}"

    def ready():
        try:
            r = httpx.get(f"{base_url}/readyz", timeout=5)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    return wait_until(f"{base_url}/readyz", ready, timeout_s, alive=alive)


class WebhookReceiver:
    """An HTTP server on loopback that records every POST body it is sent."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []
        lock = self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    received.append({"body": json.loads(body), "headers": dict(self.headers)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="webhook-receiver")
        self._thread.start()

    def bodies(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class Db:
    """Read the service's tables directly (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(url, poolclass=NullPool)

    def rows(self, sql: str, **params) -> list[dict]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def assessment(self, assessment_id: str) -> dict:
        rows = self.rows(
            "SELECT id, status, attempts, worker_id, reason, result IS NOT NULL AS has_result, "
            "started_at, finished_at, lease_until FROM assessments WHERE id = :id",
            id=assessment_id,
        )
        assert len(rows) == 1, rows
        return rows[0]

    def count(self, table: str) -> int:
        return self.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"]  # table names are the tests' own

    def close(self) -> None:
        self.engine.dispose()
