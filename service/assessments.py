"""A clinic's stored assessments: read one, list them, export or render from them, delete one.

Clinic-scoped: another clinic's id, or (for a patient link) another patient's, is
:class:`service.domain_errors.NotFound`. Taking a new assessment in is :mod:`service.intake`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from service.auth import Principal, pinned_to
from service.domain_errors import Conflict, NotFound
from service.intake import discard_wearables
from service.pagination import decode_cursor, encode_cursor, valid_id
from service.schemas import AssessmentList, AssessmentSummary, Status
from service.store.models import AssessmentRow
from service.store.uploads import UploadStore

__all__ = [
    "delete",
    "document",
    "get_row",
    "input_media_type",
    "live_record",
    "page",
    "recording",
    "render_overlay",
    "series_file",
]


def get_row(session: Session, principal: Principal, assessment_id: str) -> AssessmentRow:
    row = session.get(AssessmentRow, assessment_id) if valid_id(assessment_id) else None
    if row is None or row.clinic_id != principal.clinic_id:  # another clinic's id is simply not found
        raise NotFound(f"no assessment {assessment_id}")
    if not pinned_to(principal, row.patient_id):  # a patient link sees its own patient's assessments only
        raise NotFound(f"no assessment {assessment_id}")
    return row


def summary(row: AssessmentRow) -> dict:
    return dict(
        id=row.id,
        status=row.status,
        reason=row.reason,
        exercise=row.exercise,
        patient_id=row.patient_id,
        input_kind=row.input_kind,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
    )


def document(session: Session, principal: Principal, assessment_id: str) -> dict:
    """The assessment; when done, with the whole document, as the clinic's feedback policy shows it."""
    row = get_row(session, principal, assessment_id)
    out = summary(row)
    if row.status == "done" and row.result:
        out.update({k: v for k, v in row.result.items() if k not in out or k == "exercise"})
    from service.review import app_view  # the clinic's feedback policy for patients' apps (docs/review.md)

    return app_view(session, principal, row, out)


def live_record(session: Session, principal: Principal, assessment_id: str) -> dict:
    """What the patient was told live (an assessment saved from ``/v1/live?record=1``)."""
    row = get_row(session, principal, assessment_id)
    live = (row.wearables or {}).get("live")
    if live is None:
        raise Conflict("not-live", f"assessment {assessment_id} was not recorded from a live session")
    return live


def page(
    session: Session,
    principal: Principal,
    *,
    status: Status | None = None,
    patient_id: str | None = None,
    exercise: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> AssessmentList:
    """Newest first, ``limit`` per page."""
    q = select(AssessmentRow).where(AssessmentRow.clinic_id == principal.clinic_id)
    if status:
        q = q.where(AssessmentRow.status == status)
    if patient_id:
        q = q.where(AssessmentRow.patient_id == patient_id)
    if exercise:
        q = q.where(AssessmentRow.exercise == exercise)
    if cursor:
        created, rid = decode_cursor(cursor)
        q = q.where(
            or_(AssessmentRow.created_at < created, and_(AssessmentRow.created_at == created, AssessmentRow.id < rid))
        )
    rows = list(session.scalars(q.order_by(AssessmentRow.created_at.desc(), AssessmentRow.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    return AssessmentList(
        items=[AssessmentSummary(**summary(r)) for r in items],
        next_cursor=encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None,
    )


def series_file(session: Session, principal: Principal, assessment_id: str, fmt: Literal["csv", "mot"]) -> str:
    """The angle series as CSV, or as an OpenSim ``.mot`` motion file (angles only)."""
    from service.export import to_csv, to_mot

    row = get_row(session, principal, assessment_id)
    if row.status != "done" or not row.result:
        raise Conflict("not-done", f"assessment {assessment_id} is {row.status}; series exist once it is done")
    return to_csv(row.result) if fmt == "csv" else to_mot(row.result, name=assessment_id)


_VIDEO_TYPES = (
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
    (b"ftyp", 4, "video/mp4"),
    (b"RIFF", 0, "video/x-msvideo"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG", 0, "image/png"),
)


def input_media_type(head: bytes) -> str:
    """The media type of a stored recording, from its first 16 bytes."""
    return next((t for magic, at, t in _VIDEO_TYPES if head[at : at + len(magic)] == magic), "application/octet-stream")


def recording(session: Session, store: UploadStore, principal: Principal, assessment_id: str) -> AssessmentRow:
    """The row of an assessment whose uploaded video or image is still stored."""
    row = get_row(session, principal, assessment_id)
    if row.input_kind not in ("video", "image") or not row.input_path or not store.exists(row.input_path):
        raise Conflict(
            "no-recording",
            f"assessment {assessment_id} has no stored recording "
            f"(its input is {row.input_kind}); only uploaded videos and images can be played back",
        )
    return row


def render_overlay(session: Session, store: UploadStore, principal: Principal, assessment_id: str) -> str:
    """The uploaded video annotated (H.264 MP4) in a new file of the private scratch folder; the caller removes it."""
    from service.overlay import render_assessment_overlay
    from service.store.models import AssessmentLandmarks

    row = get_row(session, principal, assessment_id)
    if row.status != "done" or not row.result:
        raise Conflict("not-done", f"assessment {assessment_id} is {row.status}; its overlay exists once it is done")
    if row.input_kind != "video" or not row.input_path or not store.exists(row.input_path):
        raise Conflict(
            "no-recording",
            f"assessment {assessment_id} has no stored video (its input is {row.input_kind}); "
            "an annotated video needs an uploaded video",
        )
    stored = session.get(AssessmentLandmarks, assessment_id)
    if stored is None:
        raise Conflict(
            "no-landmarks",
            f"assessment {assessment_id} was analysed before landmarks were kept for annotated videos; "
            "submit the video again to get one",
        )
    # The rendered video shows the patient: it goes to the private scratch folder (0600), never
    # under the uploads; the input is read through a plaintext copy there.
    store.scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=store.scratch, prefix="plain-overlay-", suffix=".mp4")
    os.close(fd)
    try:
        with store.plaintext(row.input_path) as path:
            render_assessment_overlay(path, stored.data, row.result, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def delete(session: Session, store: UploadStore, principal: Principal, assessment_id: str) -> None:
    """Remove the assessment, its result, and its input and sensor files unless another assessment uses them."""
    row = get_row(session, principal, assessment_id)
    rel, wearables = row.input_path, row.wearables
    session.delete(row)
    session.commit()
    discard_wearables(session, store, wearables, principal.clinic_id)
    if rel:
        others = session.scalar(
            select(func.count())
            .select_from(AssessmentRow)
            .where(AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.input_path == rel)
        )
        if not others:
            store.delete(rel)
