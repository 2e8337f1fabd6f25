"""Taking in an assessment: check what came with an upload, store the row, drop files nothing refers to.

Everything here is synchronous (SQLAlchemy, name resolution, file reads): the route
(``service/api/assessments.py``) streams the body to disk and then calls these functions
in a worker thread, in short steps that never hold a pooled connection while a body
streams in. Refusals are :mod:`service.domain_errors`; :mod:`service.errors` maps them to
problem+json.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinematics.errors import MotionscriptError
from kinematics.protocols import PROTOCOL_NAMES
from service.auth import Principal
from service.domain_errors import DomainError, Forbidden, Invalid
from service.schemas import WearablesRequest
from service.store.db import now
from service.store.models import AssessmentRow
from service.store.uploads import StoredFile, UploadStore

__all__ = [
    "WEARABLE_FIELDS",
    "WEARABLE_FILES",
    "check_landmarks",
    "check_sensor_file",
    "check_video",
    "discard",
    "discard_wearables",
    "in_use",
    "queued_row",
    "record",
    "wearables_entry",
    "wearables_request",
]

PATIENT_ID = re.compile(r"\A[A-Za-z0-9._:-]{1,100}\Z")  # \Z: "$" would let a final newline through
WEARABLE_FILES = ("imu", "emg")
WEARABLE_FIELDS = tuple(WearablesRequest.model_fields)


# -- the fields -----------------------------------------------------------------------------------------------------


def queued_row(
    *,
    clinic_id: str,
    patient_id: str | None,
    exercise: str | None,
    kind: str,
    main: StoredFile,
    wearables: dict | None,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
    callback_url: str | None = None,
) -> AssessmentRow:
    """A new assessment row, queued for analysis: every submission's one shape (an upload, a live recording).

    ``main`` is the stored input the row is named after (the video, else the IMU, else the EMG
    file); ``kind`` is its input kind.
    """
    return AssessmentRow(
        id=str(uuid.uuid4()),
        clinic_id=clinic_id,
        patient_id=patient_id,
        exercise=exercise,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        callback_url=callback_url,
        input_kind=kind,
        input_sha256=main.sha256,
        input_bytes=main.size,
        input_path=main.relpath,
        wearables=wearables,
        status="queued",
        attempts=0,
        created_at=now(),
    )


def validate_fields(exercise: str | None, patient_id: str | None) -> None:
    if exercise is not None and exercise not in PROTOCOL_NAMES:
        raise Invalid(
            f"exercise: unknown exercise {exercise!r}; accepted: {', '.join(PROTOCOL_NAMES)}",
            accepted=list(PROTOCOL_NAMES),
        )
    if patient_id is not None and not PATIENT_ID.match(patient_id):
        raise Invalid("patient_id: use a pseudonymous id of 1-100 letters, digits or . _ : - (no names)")


def check_callback(callback_url: str | None, allow_networks: list[str]) -> None:
    """The URL's form, then where it leads (service.egress); may resolve a name."""
    if callback_url is None:
        return
    from service import egress

    try:
        egress.check_url(callback_url, allow_networks)
    except egress.EgressRefused as exc:
        raise Invalid(f"callback_url: {exc}") from None


# -- idempotency ----------------------------------------------------------------------------------------------------


def existing(session: Session, principal: Principal, idempotency_key: str) -> AssessmentRow | None:
    return session.scalar(
        select(AssessmentRow).where(
            AssessmentRow.clinic_id == principal.clinic_id, AssessmentRow.idempotency_key == idempotency_key
        )
    )


def fingerprint(
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


def same_request(existing: AssessmentRow, fingerprint: str, key: str) -> AssessmentRow:
    """The first assessment again for a retried request; refused for another request under the same key."""
    if existing.request_fingerprint is not None and existing.request_fingerprint != fingerprint:
        raise Invalid(
            f"Idempotency-Key {key!r} was already used for a different request (assessment {existing.id}: "
            "another input file, exercise, patient_id, callback_url or sensor file); "
            "a retry must send the same request, and a new request needs a new key",
            kind="idempotency-key-reused",
            idempotency_key=key,
        )
    return existing


# -- the row --------------------------------------------------------------------------------------------------------


def record(
    session: Session,
    store: UploadStore,
    allow_networks: list[str],
    principal: Principal,
    idempotency_key: str | None,
    stored: StoredFile,
    kind: str,
    fields: Mapping[str, object],
    wearables: dict | None,
) -> tuple[AssessmentRow, bool]:
    """Validate the fields and store a ``queued`` row; ``(row, False)`` for a retry of an earlier request.

    The uploaded files are deleted when the request is refused, and for a retry (its files are the first
    request's). The session is closed before this returns.
    """
    exercise, patient_id, callback = (
        fields.get("exercise") or None,
        fields.get("patient_id") or None,
        fields.get("callback_url") or None,
    )
    try:
        validate_fields(exercise, patient_id)  # type: ignore[arg-type]
        check_callback(callback, allow_networks)  # type: ignore[arg-type]
        if principal.patient_code is not None:  # a patient link: the patient is the link's, never typed
            if patient_id not in (None, principal.patient_code):
                raise Forbidden("a patient link records for its own patient only")
            patient_id = principal.patient_code
        wanted = fingerprint(kind, stored, exercise, patient_id, callback, wearables)  # type: ignore[arg-type]
        earlier = existing(session, principal, idempotency_key) if idempotency_key else None
        if earlier is not None:
            same_request(earlier, wanted, idempotency_key)  # type: ignore[arg-type]
    except DomainError:
        _discard_all(session, store, stored, wearables, principal.clinic_id)
        session.close()
        raise
    if earlier is not None:  # a retry: nothing new is stored
        _discard_all(session, store, stored, wearables, principal.clinic_id)
        session.close()
        return earlier, False
    row = queued_row(
        clinic_id=principal.clinic_id,
        patient_id=patient_id,
        exercise=exercise,
        kind=kind,
        main=stored,
        wearables=wearables,
        idempotency_key=idempotency_key,
        request_fingerprint=wanted if idempotency_key else None,
        callback_url=callback,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same Idempotency-Key raced us: answer with the winner
        session.rollback()
        winner = existing(session, principal, idempotency_key)  # type: ignore[arg-type]
        _discard_all(session, store, stored, wearables, principal.clinic_id)
        if winner is None:
            raise
        return same_request(winner, wanted, idempotency_key), False  # type: ignore[arg-type]
    except BaseException:
        session.rollback()
        _discard_all(session, store, stored, wearables, principal.clinic_id)
        raise
    finally:
        session.close()
    return row, True


# -- files nothing refers to ----------------------------------------------------------------------------------------


def wearable_paths(wearables: dict | None) -> list[str]:
    # a path is None once retention deleted the file (service/retention.py)
    return [wearables[k]["path"] for k in WEARABLE_FILES if wearables and wearables.get(k) and wearables[k].get("path")]


def discard_wearables(session: Session, store: UploadStore, wearables: dict | None, clinic_id: str) -> None:
    """Delete wearable uploads that no stored assessment refers to."""
    for rel in wearable_paths(wearables):
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


def discard(session: Session, store: UploadStore, stored: StoredFile, clinic_id: str) -> None:
    """Delete an upload unless an existing assessment uses the same content."""
    used = session.scalar(
        select(func.count())
        .select_from(AssessmentRow)
        .where(AssessmentRow.clinic_id == clinic_id, AssessmentRow.input_path == stored.relpath)
    )
    if not used:
        store.delete(stored.relpath)


def _discard_all(
    session: Session, store: UploadStore, stored: StoredFile, wearables: dict | None, clinic_id: str
) -> None:
    discard(session, store, stored, clinic_id)
    discard_wearables(session, store, wearables, clinic_id)


def in_use(session_factory: Callable[[], Session], clinic_id: str, stored: StoredFile, wearable: bool = False) -> bool:
    """Whether a stored assessment of the clinic refers to this upload (as its input, or as a sensor file)."""
    used = AssessmentRow.input_path == stored.relpath
    if wearable:  # the same sensor file may serve several assessments
        used = or_(used, cast(AssessmentRow.wearables, String).contains(stored.relpath))
    with session_factory() as s:
        return bool(
            s.scalar(select(func.count()).select_from(AssessmentRow).where(AssessmentRow.clinic_id == clinic_id, used))
        )


# -- the inputs, checked before anything is queued ------------------------------------------------------------------


def check_video(store: UploadStore, stored: StoredFile, filename: str) -> None:
    """Refuse a cut or corrupt video now, not later in the job; the error names the upload, not the stored file."""
    from vision.decode import probe

    with store.plaintext(stored.relpath) as plain:
        try:
            probe(plain)
        except MotionscriptError as exc:  # it names the stored file (a sha256): name the upload
            raise type(exc)(str(exc).replace(Path(plain).name, filename)) from None


def _wearable_value(name: str, raw: str) -> object:
    if name in ("imu_calibration_window_s", "emg_baseline_s"):
        try:
            return [float(x) for x in raw.split(",")]
        except ValueError:
            raise Invalid(f"{name}: expected two numbers 'start,end' in seconds") from None
    if name == "emg_reference_mv":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise Invalid(f"{name}: expected a JSON object {{channel: mV}}") from None
    return raw


def wearables_request(fields: Mapping[str, str], with_files: bool) -> WearablesRequest | None:
    """The wearable fields of a multipart upload as a request (None without sensor files)."""
    from pydantic import ValidationError

    given = {k: _wearable_value(k, v) for k, v in fields.items() if k in WEARABLE_FIELDS and v.strip()}
    if not with_files:
        if given:
            raise Invalid(f"{next(iter(given))}: sent without an 'imu' or 'emg' file")
        return None
    try:
        return WearablesRequest.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"{first['loc'][0] if first['loc'] else 'wearables'}: {first['msg']}") from None


def check_sensor_file(store: UploadStore, name: str, stored: StoredFile, request: WearablesRequest) -> None:
    """Read an uploaded ``imu`` or ``emg`` file once: a malformed file is named now, not found later by the job."""
    from kinematics.fusion import SensorFormatError, read_emg, read_imu

    with store.plaintext(stored.relpath) as path:
        try:
            if name == "imu":
                read_imu(
                    path,
                    placement=request.imu_placement,
                    side=request.imu_side,
                    sampling_rate_hz=request.imu_sampling_rate_hz,
                )
            else:
                read_emg(path, sampling_rate_hz=request.emg_sampling_rate_hz)
        except SensorFormatError as exc:  # the message names the scratch path: show the field name
            raise Invalid(str(exc).replace(str(path), name), kind="malformed-sensor-file") from None


def wearables_entry(files: Mapping[str, StoredFile], request: WearablesRequest) -> dict:
    """What the row stores of the sensor files and the caller's settings."""
    out: dict = {name: {"path": f.relpath, "sha256": f.sha256, "bytes": f.size} for name, f in files.items()}
    out["request"] = request.model_dump(mode="json", exclude_none=True)
    return out


def check_landmarks(doc: object) -> dict:
    """A landmark JSON body, checked: its fields taken out (``exercise``, ``patient_id``, ``callback_url``).

    A malformed document is refused now, with the place named.
    """
    from vision.landmark_json import parse_landmarks

    if not isinstance(doc, dict):
        raise Invalid("landmark JSON: top level: expected an object", kind="malformed-landmarks")
    fields = {k: doc.pop(k) for k in ("exercise", "patient_id", "callback_url") if k in doc}
    for k, v in fields.items():
        if v is not None and not isinstance(v, str):
            raise Invalid(f"{k}: expected a string")
    for k in ("schema", "space"):  # looked up in dicts by the parser: a list or object here was a TypeError (500)
        if not isinstance(doc.get(k), str | None):
            raise Invalid(
                f"landmark JSON: {k}: expected a string, got {type(doc[k]).__name__}", kind="malformed-landmarks"
            )
    parse_landmarks(doc)
    return fields
