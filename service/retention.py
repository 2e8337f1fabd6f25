"""Retention: recordings past ``MOTIONSCRIPT_RETENTION_DAYS`` are deleted, and orphaned partial files swept.

``sweep_expired`` deletes, for every finished assessment created more than ``retention_days`` ago,
what shows or re-creates the patient: the uploaded recording (video, image or landmark JSON), the
IMU/EMG files, and the stored per-frame landmarks of its annotated video. The result (angles,
metrics, findings) stays: it is the clinical record. Each assessment's deletion is one short
transaction that begins with its write (so SQLite never has to upgrade a read to a write, the
"database is locked" trap) and carries its audit event (``retention.delete_inputs``, actor
``system``). Files go only after the commit, and only when no other assessment of the clinic refers
to the same content (uploads are stored once per content).

``sweep_partial`` deletes what a killed process left: partial uploads
(``<uploads>/<clinic>/tmp/upload-*``) and overlay renders (``overlay-*``) untouched for longer than
any live upload could be (a live upload writes at least every ``body_timeout_s``), live recordings'
frame spools (``live-*``) untouched for longer than a live connection may be idle, and plaintext
scratch copies older than a day.

``serve`` runs both at start-up, in a thread after the migrations, and every ``sweep_interval_s``
(:class:`Sweeper`); ``motionscript sweep`` runs them once (e.g. from cron, beside Celery workers).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.live_spool import SPOOL_PREFIX, TOUCH_EVERY_S
from service.settings import Settings
from service.store.db import now, session_scope
from service.store.models import AssessmentLandmarks, AssessmentRow, AuditEvent
from service.store.uploads import UploadStore

__all__ = [
    "SYSTEM_ACTOR",
    "SweepReport",
    "Sweeper",
    "live_spool_max_age_s",
    "partial_max_age_s",
    "sweep_expired",
    "sweep_partial",
]

log = logging.getLogger("motionscript.retention")

SYSTEM_ACTOR = "system:retention"
_WEARABLE_FILES = ("imu", "emg")


@dataclass
class SweepReport:
    assessments: int = 0  # assessments whose inputs were deleted
    files: int = 0  # stored files removed
    partial: int = 0  # orphaned partial uploads / overlay renders removed
    scratch: int = 0
    errors: list[str] = field(default_factory=list)


def partial_max_age_s(settings: Settings) -> float:
    """A partial upload untouched this long belongs to no live request: a live one writes at least every
    ``body_timeout_s`` or is ended with a 408."""
    return max(2 * settings.body_timeout_s + 60.0, 300.0)


def live_spool_max_age_s(settings: Settings) -> float:
    """A live recording's spool untouched this long belongs to no connection: a connection touches it at least
    every ``TOUCH_EVERY_S`` while it receives, and one that receives nothing for ``live_idle_timeout_s`` is closed."""
    return max(2 * settings.live_idle_timeout_s + TOUCH_EVERY_S, 300.0)


def sweep_partial(store: UploadStore, settings: Settings, *, at: float | None = None) -> SweepReport:
    report = SweepReport()
    at = time.time() if at is None else at
    limits = {
        "upload-": at - partial_max_age_s(settings),
        "overlay-": at - partial_max_age_s(settings),
        SPOOL_PREFIX: at - live_spool_max_age_s(settings),
    }
    if store.root.is_dir():
        for clinic in store.root.iterdir():
            tmp = clinic / "tmp"
            if not tmp.is_dir():
                continue
            for p in tmp.iterdir():
                limit = next((v for k, v in limits.items() if p.name.startswith(k)), None)
                if limit is None:
                    continue
                try:
                    if p.is_file() and p.stat().st_mtime < limit:
                        p.unlink()
                        report.partial += 1
                except FileNotFoundError:
                    pass  # finished or removed meanwhile
    report.scratch = store.clean_scratch()
    return report


def _expired_ids(factory: sessionmaker[Session], cutoff: datetime, batch: int) -> list[str]:
    with factory() as s:
        # input_path is set while any input file is (a sensor-only assessment's input is its IMU or EMG file);
        # not "wearables IS NOT NULL": the JSON column stores None as the JSON text 'null'
        has_inputs = or_(
            AssessmentRow.input_path.is_not(None),
            AssessmentRow.id.in_(select(AssessmentLandmarks.assessment_id)),
        )
        return list(
            s.scalars(
                select(AssessmentRow.id)
                .where(
                    AssessmentRow.created_at < cutoff,
                    AssessmentRow.status.in_(("done", "failed")),
                    has_inputs,
                )
                .order_by(AssessmentRow.created_at)
                .limit(batch)
            )
        )


def _files_of(input_path: str | None, wearables: dict | None) -> list[str]:
    files = [input_path] if input_path else []
    for k in _WEARABLE_FILES:
        entry = (wearables or {}).get(k)
        if entry and entry.get("path"):
            files.append(entry["path"])
    return list(dict.fromkeys(files))  # a sensor-only assessment's input is its IMU (or EMG) file


def _expire_one(factory: sessionmaker[Session], assessment_id: str, days: float) -> tuple[str, list[str]] | None:
    """Clear one assessment's inputs and record it; returns its clinic and the files it referred to
    (None: nothing to do)."""
    with session_scope(factory) as s:
        row = s.get(AssessmentRow, assessment_id)
        if row is None:
            return None
        input_path, wearables = row.input_path, row.wearables
        frames = s.scalar(select(AssessmentLandmarks.frames).where(AssessmentLandmarks.assessment_id == assessment_id))
        files = _files_of(input_path, wearables)
        if not files and frames is None:
            return None
        kept_wearables = None
        if wearables:
            kept_wearables = {
                k: ({**v, "path": None} if k in _WEARABLE_FILES and isinstance(v, dict) else v)
                for k, v in wearables.items()
            }
        # The transaction's first statement is this write (pysqlite begins it here): SQLite takes the write
        # lock at once, waiting up to busy_timeout, instead of failing to upgrade a read snapshot.
        done = s.execute(
            update(AssessmentRow)
            .where(
                AssessmentRow.id == assessment_id,
                AssessmentRow.input_path.is_(None) if input_path is None else AssessmentRow.input_path == input_path,
            )
            .values(input_path=None, wearables=kept_wearables)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            return None  # changed meanwhile; the next sweep looks again
        s.execute(delete(AssessmentLandmarks).where(AssessmentLandmarks.assessment_id == assessment_id))
        s.add(
            AuditEvent(
                id=str(uuid.uuid4()),
                clinic_id=row.clinic_id,
                at=now(),
                actor_key_id=SYSTEM_ACTOR,
                actor_role="system",
                actor_type="system",
                actor_name="retention sweeper",
                action="retention.delete_inputs",
                entity_type="assessment",
                entity_id=assessment_id,
                before={
                    "input_kind": row.input_kind,
                    "input_sha256": row.input_sha256,
                    "input_bytes": row.input_bytes,
                    "created_at": row.created_at.isoformat(),
                    "files": len(files),
                    "landmark_frames": frames,
                },
                after={"inputs": "deleted", "retention_days": days},
            )
        )
        return row.clinic_id, files


def _unreferenced(factory: sessionmaker[Session], clinic_id: str, rel: str) -> bool:
    with factory() as s:
        used = s.scalar(
            select(func.count())
            .select_from(AssessmentRow)
            .where(
                AssessmentRow.clinic_id == clinic_id,
                or_(AssessmentRow.input_path == rel, cast(AssessmentRow.wearables, String).contains(rel)),
            )
        )
        return not used


def sweep_expired(
    factory: sessionmaker[Session],
    store: UploadStore,
    settings: Settings,
    *,
    at: datetime | None = None,
    batch: int = 200,
) -> SweepReport:
    """Delete the inputs of finished assessments older than ``settings.retention_days`` (no-op when unset)."""
    report = SweepReport()
    days = settings.retention_days
    if days is None:
        return report
    cutoff = (at or now()) - timedelta(days=days)
    seen: set[str] = set()
    while True:
        ids = [i for i in _expired_ids(factory, cutoff, batch) if i not in seen]
        if not ids:
            return report
        for assessment_id in ids:
            seen.add(assessment_id)
            try:
                expired = _expire_one(factory, assessment_id, days)
            except Exception as exc:  # one bad row must not stop the sweep
                log.warning("retention: could not expire an assessment", extra={"assessment_id": assessment_id})
                report.errors.append(f"{assessment_id}: {type(exc).__name__}")
                continue
            if expired is None:
                continue
            report.assessments += 1
            clinic_id, files = expired
            for rel in files:
                if _unreferenced(factory, clinic_id, rel):
                    store.delete(rel)
                    report.files += 1


class Sweeper:
    """``serve``'s in-process sweeper: once at start-up (after the migrations), then every ``sweep_interval_s``."""

    def __init__(self, factory: sessionmaker[Session], store: UploadStore, settings: Settings) -> None:
        self.factory, self.store, self.settings = factory, store, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="retention-sweeper")
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def sweep_once(self) -> SweepReport:
        partial = sweep_partial(self.store, self.settings)
        report = sweep_expired(self.factory, self.store, self.settings)
        report.partial, report.scratch = partial.partial, partial.scratch
        self.runs += 1
        if report.assessments or report.partial or report.scratch or report.errors:
            log.info(
                "retention sweep",
                extra={
                    "assessments": report.assessments,
                    "files": report.files,
                    "partial_uploads": report.partial,
                    "scratch": report.scratch,
                    "errors": len(report.errors),
                },
            )
        return report

    def _run(self) -> None:
        while True:
            try:
                self.sweep_once()
            except Exception:
                log.warning("retention sweep failed", exc_info=True)
            if self._stop.wait(self.settings.sweep_interval_s):
                return
