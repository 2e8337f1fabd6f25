"""``/v1/assessments``: submit a recording or landmarks, follow the job, read or delete the result."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError

from kinematics.errors import MotionscriptError
from kinematics.protocols import PROTOCOL_NAMES
from kinematics.schemas import SCHEMAS as LANDMARK_SCHEMAS
from service.api._files import decrypted_response
from service.api._multipart import read_multipart
from service.api._pagination import decode_cursor, encode_cursor, valid_id
from service.auth import Principal, pinned_to
from service.deps import SessionDep, SettingsDep, StoreDep, require
from service.errors import Problem
from service.schemas import AssessmentAccepted, AssessmentList, AssessmentPublic, AssessmentSummary
from service.store.db import now
from service.store.models import AssessmentRow
from service.store.uploads import StoredFile, TooLarge, UploadStore
from service.wearables import WearablesRequest

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])

_PATIENT_ID = re.compile(r"\A[A-Za-z0-9._:-]{1,100}\Z")  # \Z: "$" would let a final newline through
_MAX_JSON_BYTES = 64 * 1024 * 1024


def _validate_fields(exercise: str | None, patient_id: str | None, callback_url: str | None) -> None:
    if exercise is not None and exercise not in PROTOCOL_NAMES:
        raise Problem(
            422,
            "validation",
            f"exercise: unknown exercise {exercise!r}; accepted: {', '.join(PROTOCOL_NAMES)}",
            accepted=list(PROTOCOL_NAMES),
        )
    if patient_id is not None and not _PATIENT_ID.match(patient_id):
        raise Problem(
            422, "validation", "patient_id: use a pseudonymous id of 1-100 letters, digits or . _ : - (no names)"
        )


def _check_callback(callback_url: str | None, settings) -> None:
    """The URL's form, then where it leads (service.egress); may resolve a name, so run it in a thread."""
    if callback_url is None:
        return
    from service import egress

    try:
        egress.check_url(callback_url, settings.webhook_allow_networks)
    except egress.EgressRefused as exc:
        raise Problem(422, "validation", f"callback_url: {exc}") from None


def _summary(row: AssessmentRow) -> dict:
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


def _accepted(row: AssessmentRow, response: Response) -> AssessmentAccepted:
    url = f"/v1/assessments/{row.id}"
    response.headers["Location"] = url
    return AssessmentAccepted(id=row.id, status=row.status, url=url)  # type: ignore[arg-type]


WEARABLE_FILES = ("imu", "emg")
WEARABLE_FIELDS = tuple(WearablesRequest.model_fields)
_WEARABLE_PROPERTIES = {
    "imu": {"type": "string", "format": "binary", "description": "IMU file (docs/wearables.md)"},
    "emg": {"type": "string", "format": "binary", "description": "EMG file (docs/wearables.md)"},
    **{
        name: {"type": "string", "description": f.description or name}
        for name, f in WearablesRequest.model_fields.items()
    },
}


def _wearable_paths(wearables: dict | None) -> list[str]:
    # a path is None once retention deleted the file (service/retention.py)
    return [wearables[k]["path"] for k in WEARABLE_FILES if wearables and wearables.get(k) and wearables[k].get("path")]


def _discard_wearables(session, store: UploadStore, wearables: dict | None, clinic_id: str) -> None:
    """Delete wearable uploads that no stored assessment refers to."""
    for rel in _wearable_paths(wearables):
        used = session.scalar(
            select(func.count())
            .select_from(AssessmentRow)
            .where(
                AssessmentRow.clinic_id == clinic_id,
                or_(AssessmentRow.input_path == rel, cast(AssessmentRow.wearables, String).contains(rel)),
            )
        )
        if not used:
            store.delete(rel)


def _discard(session, store: UploadStore, stored: StoredFile, clinic_id: str) -> None:
    """Delete an upload unless an existing assessment uses the same content."""
    used = session.scalar(
        select(func.count())
        .select_from(AssessmentRow)
        .where(AssessmentRow.clinic_id == clinic_id, AssessmentRow.input_path == stored.relpath)
    )
    if not used:
        store.delete(stored.relpath)


@router.post(
    "",
    status_code=202,
    response_model=AssessmentAccepted,
    name="create_assessment",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "description": "a 'video' file, or sensor files 'imu' and/or 'emg' alone (no camera)",
                        "properties": {
                            "video": {"type": "string", "format": "binary"},
                            "exercise": {"type": "string", "enum": list(PROTOCOL_NAMES)},
                            "patient_id": {"type": "string"},
                            "callback_url": {"type": "string"},
                            **_WEARABLE_PROPERTIES,
                        },
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["schema", "space", "frames"],
                        "properties": {
                            "schema": {"type": "string", "enum": list(LANDMARK_SCHEMAS)},
                            "space": {"type": "string", "enum": ["image", "world", "camera"]},
                            "image_size": {"type": "array", "items": {"type": "integer"}},
                            "fps": {"type": "number"},
                            "frames": {"type": "array", "items": {"type": "object"}},
                            "exercise": {"type": "string", "enum": list(PROTOCOL_NAMES)},
                            "patient_id": {"type": "string"},
                            "callback_url": {"type": "string"},
                        },
                    }
                },
            },
            "required": True,
        }
    },
    responses={413: {"description": "upload too large"}, 415: {"description": "not a video, image or landmark JSON"}},
)
async def create_assessment(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    principal: Annotated[Principal, require("assessments:create")],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> AssessmentAccepted:
    """Accept a video/image (multipart ``video``, optionally with ``imu``/``emg``), sensor files alone, or a
    landmark JSON body; analysis runs in the background."""
    # The database is used in short steps, in threads, and never while the body streams in: a slow
    # client must not hold a pooled connection (docs/limits.md). An Idempotency-Key is looked up once the
    # body is read (in _record): a retry must be the same request, not merely carry the same key.
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise Problem(
            413, "too-large", f"upload of {int(declared)} bytes exceeds the limit of {settings.max_upload_mb} MB"
        )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with request.app.state.upload_slots.hold(principal):
        try:
            if ctype == "multipart/form-data":
                stored, kind, fields, wearables = await _from_multipart(request, store, settings, principal)
            elif ctype in ("application/json", "application/vnd.motionscript.landmarks+json"):
                stored, kind, fields = await _from_json(request, store, principal)
                wearables = None
            else:
                raise Problem(
                    415,
                    "unsupported-media",
                    f"content type {ctype or 'missing'!r}: send multipart/form-data with a 'video' file, "
                    "or application/json with a landmark sequence",
                )
        except TooLarge as exc:
            raise Problem(413, "too-large", str(exc)) from None
        row, created = await run_in_threadpool(
            _record, session, store, settings, principal, idempotency_key, stored, kind, fields, wearables
        )
    if not created:
        return _accepted(row, response)
    try:
        await run_in_threadpool(request.app.state.queue.submit, row.id)
    except Exception:
        import logging

        logging.getLogger("motionscript.api").warning(
            "queue submit failed; left for the sweeper", extra={"assessment_id": row.id}
        )
    return _accepted(row, response)


def _existing(session, principal: Principal, idempotency_key: str) -> AssessmentRow | None:
    return session.scalar(
        select(AssessmentRow).where(
            AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.idempotency_key == idempotency_key
        )
    )


def _fingerprint(
    kind: str,
    stored: StoredFile,
    exercise: str | None,
    patient_id: str | None,
    callback_url: str | None,
    wearables: dict | None,
) -> str:
    """sha256 of what a submission asks for: the input's content, its fields, the sensor files and settings.

    Not of the raw bytes: a multipart boundary or a file's name may differ between two sends of one request.
    """
    what = {
        "kind": kind,
        "input": stored.sha256,
        "exercise": exercise,
        "patient_id": patient_id,
        "callback_url": callback_url,
        "wearables": None
        if not wearables
        else {k: (v["sha256"] if k in WEARABLE_FILES else v) for k, v in sorted(wearables.items())},
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _same_request(existing: AssessmentRow, fingerprint: str, key: str) -> AssessmentRow:
    """The first assessment again for a retried request; 422 for another request under the same key."""
    if existing.request_fingerprint is not None and existing.request_fingerprint != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            f"Idempotency-Key {key!r} was already used for a different request (assessment {existing.id}: "
            "another input file, exercise, patient_id, callback_url or sensor file); "
            "a retry must send the same request, and a new request needs a new key",
            idempotency_key=key,
        )
    return existing


def _record(
    session,
    store: UploadStore,
    settings,
    principal: Principal,
    idempotency_key: str | None,
    stored: StoredFile,
    kind: str,
    fields: dict,
    wearables: dict | None,
) -> tuple[AssessmentRow, bool]:
    """Validate the fields and store the assessment row (in a thread: the event loop never waits on the database)."""
    exercise, patient_id, callback = (
        fields.get("exercise") or None,
        fields.get("patient_id") or None,
        fields.get("callback_url") or None,
    )
    try:
        _validate_fields(exercise, patient_id, callback)
        _check_callback(callback, settings)
        if principal.patient_code is not None:  # a patient link: the patient is the link's, never typed
            if patient_id not in (None, principal.patient_code):
                raise Problem(403, "forbidden", "a patient link records for its own patient only")
            patient_id = principal.patient_code
        fingerprint = _fingerprint(kind, stored, exercise, patient_id, callback, wearables)
        existing = _existing(session, principal, idempotency_key) if idempotency_key else None
        if existing is not None:
            _same_request(existing, fingerprint, idempotency_key)  # type: ignore[arg-type]
    except Problem:
        _discard(session, store, stored, principal.clinic_id)
        _discard_wearables(session, store, wearables, principal.clinic_id)
        session.close()
        raise
    if existing is not None:  # a retry: nothing new is stored (its files are the first request's)
        _discard(session, store, stored, principal.clinic_id)
        _discard_wearables(session, store, wearables, principal.clinic_id)
        session.close()
        return existing, False
    row = AssessmentRow(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        patient_id=patient_id,
        exercise=exercise,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint if idempotency_key else None,
        callback_url=callback,
        input_kind=kind,
        input_sha256=stored.sha256,
        input_bytes=stored.size,
        input_path=stored.relpath,
        wearables=wearables,
        status="queued",
        attempts=0,
        created_at=now(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same Idempotency-Key raced us: answer with the winner
        session.rollback()
        existing = session.scalar(
            select(AssessmentRow).where(
                AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.idempotency_key == idempotency_key
            )
        )
        _discard(session, store, stored, principal.clinic_id)
        _discard_wearables(session, store, wearables, principal.clinic_id)
        if existing is None:
            raise
        return _same_request(existing, fingerprint, idempotency_key), False  # type: ignore[arg-type]
    except BaseException:
        session.rollback()
        _discard(session, store, stored, principal.clinic_id)
        _discard_wearables(session, store, wearables, principal.clinic_id)
        raise
    finally:
        session.close()
    return row, True


async def _from_multipart(request: Request, store: UploadStore, settings, principal: Principal):
    from vision._sniff import sniff_bytes

    upload = await read_multipart(
        request,
        store,
        principal.clinic_id,
        settings.max_upload_bytes,
        ("video", "file"),
        extra_file_fields=WEARABLE_FILES,
    )
    if upload.file is None:
        return await _sensors_only(request, upload, store, principal)
    stored = upload.file
    try:
        kind = sniff_bytes(stored.head, upload.filename or "upload")
        if kind not in ("video", "image"):
            raise Problem(
                415,
                "unsupported-media",
                f"{upload.filename or 'upload'}: expected a video or image file, "
                "found landmark JSON; send landmarks as an application/json body",
            )
        if kind == "video":
            from vision.decode import probe

            def check() -> None:  # refuses cut or corrupt files now, not later
                with store.plaintext(stored.relpath) as plain:
                    try:
                        probe(plain)
                    except MotionscriptError as exc:  # it names the stored file (a sha256): name the upload
                        raise type(exc)(str(exc).replace(Path(plain).name, upload.filename or "upload")) from None

            # a few at a time, in threads of their own: the handlers' threads stay free for other clinics
            await anyio.to_thread.run_sync(check, limiter=request.app.state.upload_checks)
        wearables = await _wearables(request, upload, store)
    except Exception:
        if not await run_in_threadpool(_in_use, request, stored, principal):
            store.delete(stored.relpath)
        for extra in upload.extra_files.values():
            if not await run_in_threadpool(_in_use, request, extra, principal, True):
                store.delete(extra.relpath)
        raise
    return stored, kind, upload.fields, wearables


NO_INPUT = (
    "no input: send a multipart file field 'video' (a video or an image), or sensor files 'imu' and/or 'emg' "
    "(a sensor-only assessment); landmarks go as an application/json body"
)


async def _sensors_only(request: Request, upload, store: UploadStore, principal: Principal):
    """A multipart with only 'imu' and/or 'emg': a sensor-only assessment; the IMU (else the EMG) is its input."""
    if not upload.extra_files:
        raise Problem(422, "validation", NO_INPUT, accepted=["video", *WEARABLE_FILES])
    try:
        wearables = await _wearables(request, upload, store)
    except Exception:
        for extra in upload.extra_files.values():
            if not await run_in_threadpool(_in_use, request, extra, principal, True):
                store.delete(extra.relpath)
        raise
    main = upload.extra_files.get("imu") or upload.extra_files["emg"]
    return main, "sensors", upload.fields, wearables


def _wearable_value(name: str, raw: str) -> object:
    if name in ("imu_calibration_window_s", "emg_baseline_s"):
        try:
            return [float(x) for x in raw.split(",")]
        except ValueError:
            raise Problem(422, "validation", f"{name}: expected two numbers 'start,end' in seconds") from None
    if name == "emg_reference_mv":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise Problem(422, "validation", f"{name}: expected a JSON object {{channel: mV}}") from None
    return raw


async def _wearables(request: Request, upload, store: UploadStore) -> dict | None:
    """Validate the wearable fields and files now (malformed files are named, not found later by the job)."""
    from pydantic import ValidationError

    from kinematics.fusion import SensorFormatError, read_emg, read_imu

    given = {k: _wearable_value(k, v) for k, v in upload.fields.items() if k in WEARABLE_FIELDS and v.strip()}
    if not upload.extra_files:
        if given:
            raise Problem(422, "validation", f"{next(iter(given))}: sent without an 'imu' or 'emg' file")
        return None
    try:
        req = WearablesRequest.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Problem(
            422, "validation", f"{first['loc'][0] if first['loc'] else 'wearables'}: {first['msg']}"
        ) from None
    checks = {
        "imu": lambda p: read_imu(
            p, placement=req.imu_placement, side=req.imu_side, sampling_rate_hz=req.imu_sampling_rate_hz
        ),
        "emg": lambda p: read_emg(p, sampling_rate_hz=req.emg_sampling_rate_hz),
    }
    for name, f in upload.extra_files.items():

        def check(name: str = name, rel: str = f.relpath) -> None:
            with store.plaintext(rel) as path:
                try:
                    checks[name](path)
                except SensorFormatError as exc:  # the message names the scratch path: show the field name
                    raise Problem(422, "malformed-sensor-file", str(exc).replace(str(path), name)) from None

        await anyio.to_thread.run_sync(check, limiter=request.app.state.upload_checks)
    out: dict = {
        name: {"path": f.relpath, "sha256": f.sha256, "bytes": f.size} for name, f in upload.extra_files.items()
    }
    out["request"] = req.model_dump(mode="json", exclude_none=True)
    return out


def _in_use(request: Request, stored: StoredFile, principal: Principal, wearable: bool = False) -> bool:
    used = AssessmentRow.input_path == stored.relpath
    if wearable:  # the same sensor file may serve several assessments
        used = or_(used, cast(AssessmentRow.wearables, String).contains(stored.relpath))
    with request.app.state.session_factory() as s:
        return bool(
            s.scalar(
                select(func.count())
                .select_from(AssessmentRow)
                .where(AssessmentRow.clinic_id == principal.clinic_id, used)
            )
        )


async def _from_json(request: Request, store: UploadStore, principal: Principal):
    from vision.landmark_json import parse_landmarks

    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_JSON_BYTES:
            raise TooLarge(_MAX_JSON_BYTES)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and integers of over 4300 digits
        raise Problem(422, "malformed-json", f"the body is not valid JSON: {getattr(exc, 'msg', str(exc))}") from None
    except RecursionError:  # service/input_limits.py caps the depth first; this stays a client error regardless
        raise Problem(422, "too-deep", "the JSON body nests too deeply") from None
    if not isinstance(doc, dict):
        raise Problem(422, "malformed-landmarks", "landmark JSON: top level: expected an object")
    fields = {k: doc.pop(k) for k in ("exercise", "patient_id", "callback_url") if k in doc}
    for k, v in fields.items():
        if v is not None and not isinstance(v, str):
            raise Problem(422, "validation", f"{k}: expected a string")
    for k in ("schema", "space"):  # looked up in dicts by the parser: a list or object here was a TypeError (500)
        if not isinstance(doc.get(k), str | None):
            raise Problem(
                422, "malformed-landmarks", f"landmark JSON: {k}: expected a string, got {type(doc[k]).__name__}"
            )
    await anyio.to_thread.run_sync(
        parse_landmarks, doc, limiter=request.app.state.upload_checks
    )  # malformed documents are refused now, with the place named
    stored = store.save_bytes(principal.clinic_id, json.dumps(doc).encode())
    return stored, "landmarks", fields


def _get_row(session, principal: Principal, assessment_id: str) -> AssessmentRow:
    row = session.get(AssessmentRow, assessment_id) if valid_id(assessment_id) else None
    if row is None or row.clinic_id != principal.clinic_id:  # another clinic's id is simply not found
        raise Problem(404, "not-found", f"no assessment {assessment_id}")
    if not pinned_to(principal, row.patient_id):  # a patient link sees its own patient's assessments only
        raise Problem(404, "not-found", f"no assessment {assessment_id}")
    return row


@router.get(
    "/{assessment_id}", response_model=AssessmentPublic, response_model_exclude_none=False, name="get_assessment"
)
def get_assessment(
    assessment_id: str,
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:read")],
) -> dict:
    """The assessment; when ``status`` is ``done`` it carries the whole document."""
    row = _get_row(session, principal, assessment_id)
    out = _summary(row)
    if row.status == "done" and row.result:
        out.update({k: v for k, v in row.result.items() if k not in out or k == "exercise"})
    from service.review import app_view  # the clinic's feedback policy for patients' apps (docs/review.md)

    return app_view(session, principal, row, out)


@router.get(
    "/{assessment_id}/live",
    name="get_assessment_live",
    responses={409: {"description": "not recorded from a live session"}},
)
def get_assessment_live(
    assessment_id: str,
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:read")],
) -> dict:
    """What the patient was told live: every cue with its time, the timing per repetition, and each
    sensor's stated latency (an assessment saved from ``/v1/live?record=1``)."""
    row = _get_row(session, principal, assessment_id)
    live = (row.wearables or {}).get("live")
    if live is None:
        raise Problem(409, "not-live", f"assessment {assessment_id} was not recorded from a live session")
    return live


@router.get("", response_model=AssessmentList, name="list_assessments")
def list_assessments(
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:list")],
    status: Literal["queued", "running", "done", "failed"] | None = None,
    patient_id: Annotated[str | None, Query(max_length=100)] = None,
    exercise: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
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
    page = rows[:limit]
    return AssessmentList(
        items=[AssessmentSummary(**_summary(r)) for r in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None,
    )


@router.get(
    "/{assessment_id}/series.{fmt}",
    name="export_assessment_series",
    responses={200: {"content": {"text/csv": {}, "text/plain": {}}}, 409: {"description": "not done yet"}},
)
def export_assessment_series(
    assessment_id: str,
    fmt: Literal["csv", "mot"],
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:read")],
) -> Response:
    """The angle series as CSV, or as an OpenSim ``.mot`` motion file (angles only)."""
    from service.export import to_csv, to_mot

    row = _get_row(session, principal, assessment_id)
    if row.status != "done" or not row.result:
        raise Problem(409, "not-done", f"assessment {assessment_id} is {row.status}; series exist once it is done")
    if fmt == "csv":
        return Response(
            to_csv(row.result),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{assessment_id}.csv"'},
        )
    return Response(
        to_mot(row.result, name=assessment_id),
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{assessment_id}.mot"'},
    )


_VIDEO_TYPES = (
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
    (b"ftyp", 4, "video/mp4"),
    (b"RIFF", 0, "video/x-msvideo"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG", 0, "image/png"),
)


@router.get(
    "/{assessment_id}/input",
    name="get_assessment_input",
    responses={200: {"content": {"video/*": {}, "image/*": {}}}, 409: {"description": "no recording stored"}},
)
def get_assessment_input(
    assessment_id: str,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: Annotated[Principal, require("assessments:input")],
) -> Response:
    """The uploaded video or image (byte ranges supported), for review next to the result."""
    row = _get_row(session, principal, assessment_id)
    if row.input_kind not in ("video", "image") or not row.input_path or not store.exists(row.input_path):
        raise Problem(
            409,
            "no-recording",
            f"assessment {assessment_id} has no stored recording "
            f"(its input is {row.input_kind}); only uploaded videos and images can be played back",
        )
    reader = store.open(row.input_path)  # decrypts as it streams; closed by the response
    head = reader.read(16)
    media = next(
        (t for magic, at, t in _VIDEO_TYPES if head[at : at + len(magic)] == magic), "application/octet-stream"
    )
    return decrypted_response(reader, request.headers.get("range"), media)


@router.get(
    "/{assessment_id}/overlay.mp4",
    name="get_assessment_overlay",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the video with the skeleton, angles and events drawn"},
        409: {"description": "not done, not a video, or no stored landmarks"},
    },
)
def get_assessment_overlay(
    assessment_id: str,
    session: SessionDep,
    store: StoreDep,
    principal: Annotated[Principal, require("assessments:input")],
) -> Response:
    """The uploaded video annotated: full skeleton, pelvis line, the measured angles as numbers and the events
    (H.264 MP4, the input's frames and timestamps, upright). Rendered frame by frame on each request."""
    import os
    import tempfile

    from fastapi.responses import FileResponse
    from starlette.background import BackgroundTask

    from service.overlay import render_assessment_overlay
    from service.store.models import AssessmentLandmarks

    row = _get_row(session, principal, assessment_id)
    if row.status != "done" or not row.result:
        raise Problem(
            409, "not-done", f"assessment {assessment_id} is {row.status}; its overlay exists once it is done"
        )
    if row.input_kind != "video" or not row.input_path or not store.exists(row.input_path):
        raise Problem(
            409,
            "no-recording",
            f"assessment {assessment_id} has no stored video (its input is {row.input_kind}); "
            "an annotated video needs an uploaded video",
        )
    stored = session.get(AssessmentLandmarks, assessment_id)
    if stored is None:
        raise Problem(
            409,
            "no-landmarks",
            f"assessment {assessment_id} was analysed before landmarks were kept for annotated videos; "
            "submit the video again to get one",
        )
    # The rendered video shows the patient: it goes to the private scratch folder (0600), never
    # under the uploads, and is removed once sent; the input is read through a plaintext copy there.
    store.scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=store.scratch, prefix="plain-overlay-", suffix=".mp4")
    os.close(fd)
    try:
        with store.plaintext(row.input_path) as path:
            render_assessment_overlay(path, stored.data, row.result, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return FileResponse(
        tmp,
        media_type="video/mp4",
        background=BackgroundTask(os.unlink, tmp),
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{assessment_id}.overlay.mp4"',
        },
    )


@router.delete("/{assessment_id}", status_code=204, name="delete_assessment")
def delete_assessment(
    assessment_id: str,
    session: SessionDep,
    store: StoreDep,
    principal: Annotated[Principal, require("assessments:delete")],
) -> Response:
    """Remove the assessment, its result and its input file."""
    row = _get_row(session, principal, assessment_id)
    rel, wearables = row.input_path, row.wearables
    session.delete(row)
    session.commit()
    _discard_wearables(session, store, wearables, principal.clinic_id)
    if rel:
        others = session.scalar(
            select(func.count())
            .select_from(AssessmentRow)
            .where(AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.input_path == rel)
        )
        if not others:
            store.delete(rel)
    return Response(status_code=204)
