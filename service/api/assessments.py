"""``/v1/assessments``: submit a recording or landmarks, follow the job, read or delete the result.

HTTP only: the body is streamed to disk here, then :mod:`service.intake` checks and records it in
worker threads; reading, exporting and deleting are :mod:`service.assessments`.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from kinematics.protocols import PROTOCOL_NAMES
from kinematics.schemas import SCHEMAS as LANDMARK_SCHEMAS
from service import assessments, intake
from service.api._files import decrypted_response
from service.api._multipart import MultipartUpload, read_multipart
from service.auth import Principal
from service.deps import SessionDep, SettingsDep, StoreDep, require
from service.errors import Problem
from service.intake import WEARABLE_FILES
from service.schemas import AssessmentAccepted, AssessmentList, AssessmentPublic, Status, WearablesRequest
from service.store.models import AssessmentRow
from service.store.uploads import StoredFile, TooLarge, UploadStore

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])
log = logging.getLogger("motionscript.api")

_MAX_JSON_BYTES = 64 * 1024 * 1024


def _accepted(row: AssessmentRow, response: Response) -> AssessmentAccepted:
    url = f"/v1/assessments/{row.id}"
    response.headers["Location"] = url
    return AssessmentAccepted(id=row.id, status=row.status, url=url)  # type: ignore[arg-type]


_WEARABLE_PROPERTIES = {
    "imu": {"type": "string", "format": "binary", "description": "IMU file (docs/wearables.md)"},
    "emg": {"type": "string", "format": "binary", "description": "EMG file (docs/wearables.md)"},
    **{
        name: {"type": "string", "description": f.description or name}
        for name, f in WearablesRequest.model_fields.items()
    },
}


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
    # body is read (intake.record): a retry must be the same request, not merely carry the same key.
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
            intake.record,
            session,
            store,
            settings.webhook_allow_networks,
            principal,
            idempotency_key,
            stored,
            kind,
            fields,
            wearables,
        )
    if not created:
        return _accepted(row, response)
    try:
        await run_in_threadpool(request.app.state.queue.submit, row.id)
    except Exception:
        log.warning("queue submit failed; left for the sweeper", extra={"assessment_id": row.id})
    return _accepted(row, response)


async def _in_use(request: Request, stored: StoredFile, principal: Principal, wearable: bool = False) -> bool:
    return await run_in_threadpool(
        intake.in_use, request.app.state.session_factory, principal.clinic_id, stored, wearable
    )


async def _drop_unused(request: Request, store: UploadStore, principal: Principal, upload: MultipartUpload) -> None:
    """After a refusal: delete the request's files unless a stored assessment already uses the same content."""
    if upload.file is not None and not await _in_use(request, upload.file, principal):
        store.delete(upload.file.relpath)
    for extra in upload.extra_files.values():
        if not await _in_use(request, extra, principal, True):
            store.delete(extra.relpath)


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
    try:
        if upload.file is None:
            if not upload.extra_files:
                raise Problem(422, "validation", NO_INPUT, accepted=["video", *WEARABLE_FILES])
            # only 'imu' and/or 'emg': a sensor-only assessment; the IMU (else the EMG) is its input
            main, kind = upload.extra_files.get("imu") or upload.extra_files["emg"], "sensors"
        else:
            main, kind = upload.file, sniff_bytes(upload.file.head, upload.filename or "upload")
            if kind not in ("video", "image"):
                raise Problem(
                    415,
                    "unsupported-media",
                    f"{upload.filename or 'upload'}: expected a video or image file, "
                    "found landmark JSON; send landmarks as an application/json body",
                )
            if kind == "video":  # a few at a time, in threads of their own: the handlers' threads stay free
                await anyio.to_thread.run_sync(
                    intake.check_video,
                    store,
                    main,
                    upload.filename or "upload",
                    limiter=request.app.state.upload_checks,
                )
        wearables = await _wearables(request, upload, store)
    except Exception:
        await _drop_unused(request, store, principal, upload)
        raise
    return main, kind, upload.fields, wearables


NO_INPUT = (
    "no input: send a multipart file field 'video' (a video or an image), or sensor files 'imu' and/or 'emg' "
    "(a sensor-only assessment); landmarks go as an application/json body"
)


async def _wearables(request: Request, upload: MultipartUpload, store: UploadStore) -> dict | None:
    """The wearable fields and files, checked now (malformed files are named, not found later by the job)."""
    req = intake.wearables_request(upload.fields, bool(upload.extra_files))
    if req is None:
        return None
    for name, f in upload.extra_files.items():
        await anyio.to_thread.run_sync(
            intake.check_sensor_file, store, name, f, req, limiter=request.app.state.upload_checks
        )
    return intake.wearables_entry(upload.extra_files, req)


async def _from_json(request: Request, store: UploadStore, principal: Principal):
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
    fields = await anyio.to_thread.run_sync(intake.check_landmarks, doc, limiter=request.app.state.upload_checks)
    stored = await run_in_threadpool(store.save_bytes, principal.clinic_id, json.dumps(doc).encode())
    return stored, "landmarks", fields


@router.get(
    "/{assessment_id}", response_model=AssessmentPublic, response_model_exclude_none=False, name="get_assessment"
)
def get_assessment(
    assessment_id: str,
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:read")],
) -> dict:
    """The assessment; when ``status`` is ``done`` it carries the whole document."""
    return assessments.document(session, principal, assessment_id)


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
    return assessments.live_record(session, principal, assessment_id)


@router.get("", response_model=AssessmentList, name="list_assessments")
def list_assessments(
    session: SessionDep,
    principal: Annotated[Principal, require("assessments:list")],
    status: Status | None = None,
    patient_id: Annotated[str | None, Query(max_length=100)] = None,
    exercise: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AssessmentList:
    """Newest first, ``limit`` per page."""
    return assessments.page(
        session, principal, status=status, patient_id=patient_id, exercise=exercise, limit=limit, cursor=cursor
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
    body = assessments.series_file(session, principal, assessment_id, fmt)
    return Response(
        body,
        media_type="text/csv" if fmt == "csv" else "text/plain",
        headers={"Content-Disposition": f'attachment; filename="{assessment_id}.{fmt}"'},
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
    row = assessments.recording(session, store, principal, assessment_id)
    reader = store.open(row.input_path)  # decrypts as it streams; closed by the response
    media = assessments.input_media_type(reader.read(16))
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

    from fastapi.responses import FileResponse
    from starlette.background import BackgroundTask

    tmp = assessments.render_overlay(session, store, principal, assessment_id)
    return FileResponse(  # the rendered video shows the patient: removed once sent
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
    assessments.delete(session, store, principal, assessment_id)
    return Response(status_code=204)
