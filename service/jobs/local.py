"""The embedded job backend: worker processes started by ``motionscript serve``.

Job state lives in the database (see :mod:`service.jobs.runner`), so the
processes only poll it; a supervisor thread restarts any that die. A job whose
worker was killed is claimed again once its lease runs out.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time

from service.settings import Settings

__all__ = ["LocalWorkerPool", "work_loop"]

log = logging.getLogger("motionscript.jobs")


def work_loop(settings: Settings, stop, *, once: bool = False) -> None:
    """Claim and run jobs until ``stop`` is set (a multiprocessing or threading Event)."""
    from sqlalchemy.orm import sessionmaker

    from service.jobs.runner import claim, next_claimable, run_job, worker_name
    from service.logs import configure_logging
    from service.store.db import make_engine
    from service.webhooks import deliver_due

    configure_logging(settings.log_level)
    engine = make_engine(settings.sqlalchemy_url)
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


def _process_main(settings_json: str, stop) -> None:
    work_loop(Settings.model_validate_json(settings_json), stop)


class LocalWorkerPool:
    """``n`` worker processes, restarted when they die."""

    def __init__(self, settings: Settings, n: int) -> None:
        self.settings, self.n = settings, n
        self._ctx = mp.get_context("spawn")  # no forking of a threaded server
        self._stop = self._ctx.Event()
        self._procs: list[mp.process.BaseProcess] = []
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()

    def _spawn(self) -> mp.process.BaseProcess:
        p = self._ctx.Process(target=_process_main, args=(self.settings.model_dump_json(), self._stop),
                              name="motionscript-worker", daemon=True)
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
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for p in self._procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join(2)
