"""Celery workers on Redis for analysis across machines (``motionscript worker``).

Delivery is at least once: tasks are acknowledged late and rejected back to
the queue if the worker process is lost, and Redis redelivers a message whose
worker vanished after ``celery_visibility_timeout_s``. A sweeper in every worker
re-sends jobs whose lease ran out. Duplicates are harmless because a run must
claim the job in the database first and stores its result only under its own
fencing token (see :mod:`service.jobs.runner`).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, timedelta

from celery import Celery

from service.settings import Settings

__all__ = ["make_celery"]

log = logging.getLogger("motionscript.jobs")


def make_celery(settings: Settings) -> Celery:
    app = Celery("motionscript", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout_s,
            # kombu looks for unacknowledged messages to restore only every interval x throttle
            # seconds (10 x 10 by default): scan often enough for the visibility timeout to hold.
            "unacked_restore_interval": max(1, min(10, int(settings.celery_visibility_timeout_s / 2))),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_ignore_result=True,
    )
    _register(app, settings)
    return app


def _register(app: Celery, settings: Settings) -> None:
    state: dict = {}

    def factory():
        if "factory" not in state:
            from sqlalchemy.orm import sessionmaker

            from service.store.db import WORKER_POOL, make_engine

            state["factory"] = sessionmaker(make_engine(settings.sqlalchemy_url, **WORKER_POOL), expire_on_commit=False)
        return state["factory"]

    @app.task(name="motionscript.run_assessment", bind=True, max_retries=None)
    def run_assessment(self, assessment_id: str) -> str:
        from service.jobs.runner import claim, run_job, worker_name
        from service.store.db import now, session_scope
        from service.store.models import AssessmentRow
        from service.webhooks import deliver_due

        f = factory()
        c = claim(f, assessment_id, settings, worker_name())
        if c is None:
            with session_scope(f) as s:
                row = s.get(AssessmentRow, assessment_id)
                if row is not None and row.status == "running" and row.lease_until is not None:
                    # Another worker holds a live lease: look again once it could have run out.
                    until = row.lease_until
                    if until.tzinfo is None:  # SQLite gives back naive UTC
                        until = until.replace(tzinfo=UTC)
                    left = (until - now()).total_seconds()
                    raise self.retry(countdown=max(1.0, left + 1.0))
            return "skipped"
        status = run_job(f, settings, c)
        deliver_due(f, settings)
        return status

    @app.task(name="motionscript.deliver_webhooks")
    def deliver_webhooks() -> int:
        from service.webhooks import deliver_due

        return deliver_due(factory(), settings)


def start_sweeper(app: Celery, settings: Settings, stop: threading.Event) -> threading.Thread:
    """Re-send jobs that are queued for long or whose lease ran out, and due webhooks."""
    from sqlalchemy.orm import sessionmaker

    from service.store.db import WORKER_POOL, make_engine

    f = sessionmaker(make_engine(settings.sqlalchemy_url, **WORKER_POOL), expire_on_commit=False)

    def loop() -> None:
        while not stop.wait(max(2.0, settings.job_lease_s / 2)):
            try:
                _sweep(app, settings, f)
            except Exception:
                log.warning("sweep failed", exc_info=True)

    t = threading.Thread(target=loop, daemon=True, name="job-sweeper")
    t.start()
    return t


def _sweep(app: Celery, settings: Settings, f) -> None:
    from sqlalchemy import and_, or_, select

    from service.store.db import now, session_scope
    from service.store.models import AssessmentRow, WebhookDelivery

    t = now()
    with session_scope(f) as s:
        ids = list(
            s.scalars(
                select(AssessmentRow.id)
                .where(
                    or_(
                        and_(
                            AssessmentRow.status == "queued",
                            AssessmentRow.created_at < t - timedelta(seconds=settings.job_lease_s),
                        ),
                        and_(AssessmentRow.status == "running", AssessmentRow.lease_until < t),
                    )
                )
                .limit(100)
            )
        )
        webhooks_due = s.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= t)
            .limit(1)
        )
    for assessment_id in ids:
        app.send_task("motionscript.run_assessment", args=[assessment_id])
    if webhooks_due:
        app.send_task("motionscript.deliver_webhooks")
    if ids:
        log.info("re-sent stalled jobs", extra={"count": len(ids)})
