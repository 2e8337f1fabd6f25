"""Where accepted assessments go to be analysed.

``local``: worker processes of ``motionscript serve`` poll the job table.
``celery``: the job id is also sent to Celery on Redis for ``motionscript worker``
processes, on any number of machines. Either way the job table is the truth.
"""

from __future__ import annotations

from typing import Protocol

from service.settings import Settings

__all__ = ["JobQueue", "make_queue"]


class JobQueue(Protocol):
    def submit(self, assessment_id: str) -> None: ...

    def ping(self) -> bool: ...


class LocalQueue:
    def submit(self, assessment_id: str) -> None:
        """Nothing to send: local workers find queued rows themselves."""

    def ping(self) -> bool:
        return True


class CeleryQueue:
    def __init__(self, settings: Settings) -> None:
        from service.jobs.celery_app import make_celery

        self.app = make_celery(settings)

    def submit(self, assessment_id: str) -> None:
        self.app.send_task("motionscript.run_assessment", args=[assessment_id])

    def ping(self) -> bool:
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False


def make_queue(settings: Settings) -> JobQueue:
    return CeleryQueue(settings) if settings.job_backend == "celery" else LocalQueue()
