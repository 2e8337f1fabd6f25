"""The embedded job backend: worker processes started by ``motionscript serve``.

Job state lives in the database (see :mod:`service.jobs.runner`), so the
processes only poll it; a supervisor thread restarts any that die. A job whose
worker was killed is claimed again once its lease runs out.

Workers are told to stop by closing a pipe, not by a ``multiprocessing.Event``:
an Event's ``set()`` waits for every process sleeping in ``wait()`` to wake, so a
worker killed while waiting (SIGKILL, the OOM killer, a SIGTERM to the whole
process group) made the server hang forever on shutdown. A closed pipe also
reaches the workers if the server itself is killed, so none is left orphaned.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
import time
from multiprocessing.connection import Connection

from service.settings import Settings

__all__ = ["LocalWorkerPool", "work_loop"]

log = logging.getLogger("motionscript.jobs")


def work_loop(settings: Settings, stop, *, once: bool = False) -> None:
    """Claim and run jobs until ``stop`` is set (a multiprocessing or threading Event)."""
    from sqlalchemy.orm import sessionmaker

    from service.jobs.runner import claim, next_claimable, run_job, worker_name
    from service.logs import configure_logging
    from service.store.db import WORKER_POOL, make_engine
    from service.webhooks import deliver_due

    configure_logging(settings.log_level)
    from service.analysis import preload

    preload()  # the heavy imports happen now, not while holding a job's lease

    engine = make_engine(settings.sqlalchemy_url, **WORKER_POOL)
    factory = sessionmaker(engine, expire_on_commit=False)
    me = worker_name()
    try:
        while not stop.is_set():
            ran = False
            for assessment_id in next_claimable(factory):
                c = claim(factory, assessment_id, settings, me)
                if c is not None:
                    run_job(factory, settings, c)
                    ran = True
                    break
            sent = deliver_due(factory, settings)
            if once:
                return
            if not ran and not sent:
                stop.wait(settings.poll_interval_s)
    finally:
        engine.dispose()


class _PipeClosed:
    """The stop signal of a worker process: set once the pool's end of the pipe is closed."""

    def __init__(self, conn: Connection) -> None:
        self._conn, self._set = conn, False

    def is_set(self) -> bool:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            self._set = self._conn.poll(timeout)  # readable only at EOF: the pool never writes
        return self._set


def _process_main(settings_json: str, stop_conn: Connection) -> None:
    # Ctrl-C reaches the whole process group: leave it to the server, which stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    work_loop(Settings.model_validate_json(settings_json), _PipeClosed(stop_conn))


class LocalWorkerPool:
    """``n`` worker processes, restarted when they die."""

    def __init__(self, settings: Settings, n: int) -> None:
        self.settings, self.n = settings, n
        self._ctx = mp.get_context("spawn")  # no forking of a threaded server
        self._stop_r, self._stop_w = self._ctx.Pipe(duplex=False)  # closing _stop_w stops the workers
        self._procs: list[mp.process.BaseProcess] = []
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()

    def _spawn(self) -> mp.process.BaseProcess:
        p = self._ctx.Process(
            target=_process_main,
            args=(self.settings.model_dump_json(), self._stop_r),
            name="motionscript-worker",
            daemon=True,
        )
        p.start()
        return p

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self.n)]
        self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="worker-supervisor")
        self._supervisor.start()
        log.info("local workers started", extra={"workers": self.n, "pids": self.pids})

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def _supervise(self) -> None:
        while not self._closing.wait(1.0):
            for i, p in enumerate(self._procs):
                if not p.is_alive() and not self._closing.is_set():
                    log.warning("worker died; restarting", extra={"pid": p.pid, "exitcode": p.exitcode})
                    self._procs[i] = self._spawn()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout_s)  # it restarts no worker from now on
        self._stop_w.close()
        deadline = time.monotonic() + timeout_s
        for p in self._procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join(2)
        self._stop_r.close()
