"""Prometheus metrics: request durations here; job figures read from the database at scrape time.

Jobs run in other processes (or on other machines), so their durations,
failures and the queue depth are taken from the job table, which every worker
writes, rather than from in-process counters that would only see one process.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.store.db import now
from service.store.models import AssessmentRow

__all__ = ["Metrics"]

JOB_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


class _JobCollector:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self):
        with self.factory() as s:
            counts = dict(s.execute(select(AssessmentRow.status, func.count()).group_by(AssessmentRow.status)).all())
            since = now() - timedelta(hours=24)
            rows = s.execute(
                select(AssessmentRow.started_at, AssessmentRow.finished_at).where(
                    AssessmentRow.finished_at.is_not(None),
                    AssessmentRow.finished_at >= since,
                    AssessmentRow.started_at.is_not(None),
                )
            ).all()
        jobs = GaugeMetricFamily("motionscript_jobs", "Assessment jobs by status", labels=["status"])
        for status in ("queued", "running", "done", "failed"):
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        yield GaugeMetricFamily("motionscript_queue_depth", "Jobs waiting for a worker", value=counts.get("queued", 0))
        durations = sorted((f - st).total_seconds() for st, f in rows)
        buckets, i = [], 0
        for b in JOB_BUCKETS:
            while i < len(durations) and durations[i] <= b:
                i += 1
            buckets.append((str(b), i))
        buckets.append(("+Inf", len(durations)))
        h = HistogramMetricFamily("motionscript_job_duration_seconds", "Run time of jobs finished in the last 24 h")
        h.add_metric([], buckets, sum(durations))
        yield h


class Metrics:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "motionscript_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.registry.register(_JobCollector(factory))
