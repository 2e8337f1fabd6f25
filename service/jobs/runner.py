"""Run one assessment job, safely against crashes and duplicate deliveries.

A job is claimed by bumping ``attempts`` with a conditional UPDATE; the new
value is the run's *fencing token*. The worker renews a lease while it runs.
If it dies, the lease runs out and another worker may claim the job again
(with a higher token). The result is written with ``WHERE attempts = token``,
so however many workers ran a job, exactly one result is stored: the first
finisher's write of a stale token matches no row.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinematics.errors import MotionscriptError
from service.settings import Settings
from service.store.crypto import DecryptError, KeyMissing
from service.store.db import now, session_scope
from service.store.models import AssessmentLandmarks, AssessmentRow, WebhookDelivery
from service.store.uploads import UploadStore

__all__ = ["Claim", "claim", "next_claimable", "run_job", "worker_name"]

log = logging.getLogger("motionscript.jobs")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    assessment_id: str
    token: int


def _claimable():
    t = now()
    return or_(
        AssessmentRow.status == "queued",
        and_(AssessmentRow.status == "running", AssessmentRow.lease_until < t),
    )


def next_claimable(factory: sessionmaker[Session], limit: int = 5) -> list[str]:
    with session_scope(factory) as s:
        rows = s.scalars(select(AssessmentRow.id).where(_claimable()).order_by(AssessmentRow.created_at).limit(limit))
        return list(rows)


def claim(factory: sessionmaker[Session], assessment_id: str, settings: Settings, worker: str) -> Claim | None:
    """Take the job if it is queued or its previous runner's lease ran out."""
    with session_scope(factory) as s:
        row = s.get(AssessmentRow, assessment_id)
        if row is None:
            return None
        token = row.attempts + 1
        if token > settings.job_max_attempts and row.status == "running":
            # Its workers keep dying: give up instead of killing more of them. Only once the
            # last run's lease ran out, though: a duplicate delivery must not fail a live run.
            s.execute(
                update(AssessmentRow)
                .where(
                    AssessmentRow.id == assessment_id,
                    AssessmentRow.attempts == row.attempts,
                    AssessmentRow.status == "running",
                    _claimable(),
                )
                .values(
                    status="failed",
                    reason=f"the analysis stopped unexpectedly {row.attempts} times",
                    finished_at=now(),
                    lease_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            return None
        t = now()
        res = s.execute(
            update(AssessmentRow)
            .where(AssessmentRow.id == assessment_id, AssessmentRow.attempts == row.attempts, _claimable())
            .values(
                status="running",
                attempts=token,
                worker_id=worker,
                started_at=t,
                lease_until=t + timedelta(seconds=settings.job_lease_s),
            )
            # The WHERE is the database's to judge: evaluating it in Python against the loaded row
            # compares SQLite's naive datetimes with aware ones and raises TypeError.
            .execution_options(synchronize_session=False)
        )
        return Claim(assessment_id, token) if res.rowcount == 1 else None


class _Heartbeat(threading.Thread):
    def __init__(self, factory: sessionmaker[Session], c: Claim, lease_s: float) -> None:
        super().__init__(daemon=True, name=f"lease-{c.assessment_id[:8]}")
        self.factory, self.claim, self.lease_s = factory, c, lease_s
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.lease_s / 3):
            try:
                with session_scope(self.factory) as s:
                    s.execute(
                        update(AssessmentRow)
                        .where(AssessmentRow.id == self.claim.assessment_id, AssessmentRow.attempts == self.claim.token)
                        .values(lease_until=now() + timedelta(seconds=self.lease_s))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                log.warning("lease renewal failed", extra={"assessment_id": self.claim.assessment_id})


def _finish(factory: sessionmaker[Session], c: Claim, landmarks: tuple[int, bytes] | None = None, **values) -> bool:
    with session_scope(factory) as s:
        res = s.execute(
            update(AssessmentRow)
            .where(
                AssessmentRow.id == c.assessment_id,
                AssessmentRow.attempts == c.token,
                AssessmentRow.status == "running",
            )
            .values(finished_at=now(), lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            return False  # another run took over; its result is the one kept
        if landmarks is not None:  # in the same transaction as the result: both or neither
            s.merge(
                AssessmentLandmarks(
                    assessment_id=c.assessment_id, format="npz-q4-v1", frames=landmarks[0], data=landmarks[1]
                )
            )
        row = s.get(AssessmentRow, c.assessment_id)
        if row is not None and row.callback_url:
            body = json.dumps(
                {
                    "event": "assessment.finished",
                    "id": row.id,
                    "status": values["status"],
                    "reason": values.get("reason"),
                    "url": f"/v1/assessments/{row.id}",
                }
            )
            s.add(
                WebhookDelivery(
                    id=str(uuid.uuid4()), assessment_id=row.id, url=row.callback_url, body=body, next_attempt_at=now()
                )
            )
        return True


def run_job(factory: sessionmaker[Session], settings: Settings, c: Claim, analyze=None) -> str:
    """Analyse a claimed job and store its outcome. Returns the final status."""
    with session_scope(factory) as s:
        row = s.get(AssessmentRow, c.assessment_id)
        if row is None:
            return "deleted"
        rel, exercise, wearables_row, kind = row.input_path, row.exercise, row.wearables, row.input_kind
    heartbeat = _Heartbeat(factory, c, settings.job_lease_s)
    heartbeat.start()
    started = time.monotonic()
    kept: list = []  # the video's landmarks in pixels, for its annotated video (docs/assessment.md)
    landmarks: tuple[int, bytes] | None = None
    path: Path | None = None
    try:
        if analyze is None:
            # Slow the first time in a process (numpy, scipy, the pose runtime): the lease is being renewed.
            from service.analysis import analyze_file as analyze

            extra_landmarks = {"on_landmarks": kept.append}
        else:
            extra_landmarks = {}
        if rel is None:
            raise MotionscriptError("the input was deleted before it could be analysed")
        store = UploadStore.from_settings(settings)
        if not store.exists(rel):
            raise MotionscriptError("the input was deleted before it could be analysed")
        with ExitStack() as plain:  # plaintext copies exist only while the analysis runs
            path = None if kind == "sensors" else plain.enter_context(store.plaintext(rel))
            from service.analysis import PoseModels

            extra: dict[str, object] = {"pose": PoseModels.from_settings(settings)}  # this worker's settings
            if wearables_row:
                from service.wearables import WearableFiles, WearablesRequest

                imu, emg = wearables_row.get("imu"), wearables_row.get("emg")
                extra["wearables"] = WearableFiles(
                    imu_path=plain.enter_context(store.plaintext(imu["path"])) if imu else None,
                    emg_path=plain.enter_context(store.plaintext(emg["path"])) if emg else None,
                    request=WearablesRequest.model_validate(wearables_row.get("request") or {}),
                )
            doc = analyze(path, exercise=exercise, filename=None, **extra, **extra_landmarks)
        result = json.loads(doc.model_dump_json())
        if kept and kind == "video":
            from vision.overlay import pack_landmarks

            landmarks = (len(kept[0]), pack_landmarks(kept[0]))
        status, values = "done", {"status": "done", "result": result, "reason": None}
    except (MotionscriptError, KeyMissing, DecryptError) as exc:  # a stored file's name is a sha256: not shown
        reason = str(exc).replace(path.name, "the recording") if path is not None else str(exc)
        status, values = "failed", {"status": "failed", "reason": reason}
    except Exception as exc:
        log.exception("analysis crashed", extra={"assessment_id": c.assessment_id})
        status, values = "failed", {"status": "failed", "reason": f"internal error: {type(exc).__name__}"}
    finally:
        heartbeat.stop.set()
    stored = _finish(factory, c, landmarks=landmarks if status == "done" else None, **values)
    log.info(
        "job finished",
        extra={
            "assessment_id": c.assessment_id,
            "status": status,
            "stored": stored,
            "attempt": c.token,
            "duration_s": round(time.monotonic() - started, 3),
        },
    )
    return status if stored else "superseded"
