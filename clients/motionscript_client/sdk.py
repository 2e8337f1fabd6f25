"""``Client`` and ``AsyncClient``: the Motionscript REST API over httpx.

    with Client("http://127.0.0.1:8000", api_key="ms_...") as ms:
        accepted = ms.create_assessment("squat.mp4", exercise="squat")
        assessment = ms.wait(accepted.id, timeout_s=300)

Connection errors and 502/503/504 answers are retried with exponential
backoff; a submission keeps its ``Idempotency-Key`` across the retries, so a
retried upload never creates a second assessment. Error answers raise the
exceptions of :mod:`motionscript_client.errors`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Concatenate, Literal, ParamSpec, Self, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from motionscript_client import errors
from motionscript_client._requests import Progress, Upload, image_upload, source_upload
from motionscript_client.models import (
    AssessmentAccepted,
    AssessmentPublic,
    AssessmentSummary,
    AuditEvent,
    Clinic,
    FindingList,
    FrameResult,
    Outcome,
    Patient,
    PatientDetail,
    Review,
    Session,
    SuggestionDecision,
    SuggestionList,
    WebhookSecret,
)
from motionscript_client.models import Progress as ProgressReport

__all__ = ["RETRY_STATUSES", "AsyncClient", "Client"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})  # 429: too many uploads at once (docs/limits.md)
USER_AGENT = "motionscript-client/0.2"
Source = str | os.PathLike[str] | dict[str, Any]
StatusCallback = Callable[[AssessmentPublic], None]
_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Common:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float,
        max_retries: int,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("MOTIONSCRIPT_API_KEY")
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s

    def _headers(self) -> dict[str, str]:
        h = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = response.headers.get("retry-after", "") if response is not None else ""
        if after.isdigit():
            return min(float(after), self.max_backoff_s)
        return min(self.backoff_s * 2**attempt, self.max_backoff_s)

    def _retry(self, attempt: int, response: httpx.Response | None, exc: Exception | None) -> float | None:
        """Seconds to wait before the next attempt, or None to stop here."""
        if attempt >= self.max_retries:
            if exc is not None:
                raise errors.TransportError(
                    f"{self.base_url}: {type(exc).__name__}: {exc or 'no answer'} (after {attempt + 1} attempts)"
                ) from exc
            return None
        if exc is not None or (response is not None and response.status_code in RETRY_STATUSES):
            return self._delay(attempt, response)
        return None

    def _settle(self, attempt: int, response: httpx.Response | None, exc: Exception | None) -> httpx.Response | float:
        """The checked response to return, or the seconds to wait before the next attempt."""
        delay = self._retry(attempt, response, exc)
        if delay is None:
            assert response is not None
            return self._check(response)
        return delay

    @staticmethod
    def _send_headers(headers: dict[str, str] | None, upload: Upload | None, content: bytes | None) -> dict[str, str]:
        h = dict(headers or {})
        if upload is not None:
            h.update({"Content-Type": upload.content_type, "Content-Length": str(upload.length)})
        elif content is not None:
            h["Content-Type"] = "application/json"
        return h

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            raise errors.from_response(r.status_code, r.content, r.headers.get("x-request-id"))
        return r

    @staticmethod
    def _fields(exercise: str | None, patient_id: str | None, callback_url: str | None) -> dict[str, str | None]:
        return {"exercise": exercise, "patient_id": patient_id, "callback_url": callback_url}


def _id(value: str) -> str:
    """A path segment: an id can never step into another route."""
    return quote(str(value), safe="")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class _Call:
    """One request and how to read its answer: into ``model``, or as JSON, text, bytes or nothing."""

    method: str
    path: str
    body: Any = None
    params: dict[str, Any] | None = None
    model: type[BaseModel] | None = None
    read: Literal["json", "text", "bytes", "none"] = "json"

    def answer(self, r: httpx.Response) -> Any:
        if self.model is not None:
            return self.model.model_validate_json(r.content)
        return {"json": r.json, "text": lambda: r.text, "bytes": lambda: r.content, "none": lambda: None}[self.read]()


def _without_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _Endpoints:
    """Every call beyond submitting and following assessments, shared by both clients.

    Each method builds a :class:`_Call`; ``Client`` runs it and returns the answer, ``AsyncClient``
    returns a coroutine of the same answer (it takes each method through :func:`_awaited`, which
    says so to a type checker). The role each needs is in docs/sdk.md.
    """

    def _call(self, call: _Call) -> Any:  # pragma: no cover - implemented by the clients
        raise NotImplementedError

    # -- assessments: files -------------------------------------------------------------------------------

    def get_overlay(self, assessment_id: str) -> bytes:
        """The video annotated with the skeleton, angles and events (MP4, H.264). admin, clinician."""
        return self._call(_Call("GET", f"/v1/assessments/{_id(assessment_id)}/overlay.mp4", read="bytes"))

    def export_series(self, assessment_id: str, fmt: Literal["csv", "mot"] = "csv") -> str:
        """The angle series as CSV or an OpenSim ``.mot`` file. admin, clinician, app."""
        return self._call(_Call("GET", f"/v1/assessments/{_id(assessment_id)}/series.{fmt}", read="text"))

    def get_input(self, assessment_id: str) -> bytes:
        """The uploaded video or image as stored. admin, clinician."""
        return self._call(_Call("GET", f"/v1/assessments/{_id(assessment_id)}/input", read="bytes"))

    # -- patients, sessions, outcomes, progress ------------------------------------------------------------

    def create_patient(self, code: str, *, birth_year: int | None = None, sex: str | None = None) -> Patient:
        """Register a pseudonymous patient under the clinic's own ``code`` (never a name). admin, clinician."""
        body = _without_none(code=code, birth_year=birth_year, sex=sex)
        return self._call(_Call("POST", "/v1/patients", body, model=Patient))

    def get_patient(self, patient_id: str) -> PatientDetail:
        """The patient with their sessions and outcomes. admin, clinician."""
        return self._call(_Call("GET", f"/v1/patients/{_id(patient_id)}", model=PatientDetail))

    def update_patient(self, patient_id: str, **changes: Any) -> Patient:
        """Change ``code``, ``birth_year`` or ``sex`` (``None`` clears the last two); audited. admin, clinician."""
        return self._call(_Call("PATCH", f"/v1/patients/{_id(patient_id)}", changes, model=Patient))

    def delete_patient(self, patient_id: str) -> None:
        """Delete the patient, their sessions and outcomes (assessments stay, unlinked); audited. admin, clinician."""
        return self._call(_Call("DELETE", f"/v1/patients/{_id(patient_id)}", read="none"))

    def create_session(
        self,
        patient_id: str,
        *,
        date: date | None = None,
        notes: str | None = None,
        assessment_ids: list[str] | tuple[str, ...] = (),
    ) -> Session:
        """Open a session (a visit or day), linking assessments by id. admin, clinician."""
        body = _without_none(date=date, notes=notes) | {"assessment_ids": list(assessment_ids)}
        return self._call(_Call("POST", f"/v1/patients/{_id(patient_id)}/sessions", body, model=Session))

    def update_session(self, patient_id: str, session_id: str, **changes: Any) -> Session:
        """Change a session's ``date`` or ``notes``; audited. admin, clinician."""
        path = f"/v1/patients/{_id(patient_id)}/sessions/{_id(session_id)}"
        return self._call(_Call("PATCH", path, changes, model=Session))

    def link_assessments(self, patient_id: str, session_id: str, assessment_ids: list[str]) -> Session:
        """Add assessments to a session. admin, clinician."""
        path = f"/v1/patients/{_id(patient_id)}/sessions/{_id(session_id)}/assessments"
        return self._call(_Call("POST", path, {"assessment_ids": list(assessment_ids)}, model=Session))

    def record_odi(
        self,
        patient_id: str,
        answers: dict[str, int | None],
        *,
        session_id: str | None = None,
        recorded_at: datetime | None = None,
    ) -> Outcome:
        """An Oswestry questionnaire: every section 0-5 or ``None`` (docs/outcomes.md). admin, clinician, app."""
        body = {"instrument": "odi", "answers": answers} | _without_none(session_id=session_id, recorded_at=recorded_at)
        return self._call(_Call("POST", f"/v1/patients/{_id(patient_id)}/outcomes", body, model=Outcome))

    def record_nrs(
        self,
        patient_id: str,
        value: int,
        *,
        site: Literal["leg", "back"] | None = None,
        session_id: str | None = None,
        recorded_at: datetime | None = None,
    ) -> Outcome:
        """A pain rating 0-10, of the leg or the back. admin, clinician, app."""
        body = {"instrument": "nrs", "value": value} | _without_none(
            site=site, session_id=session_id, recorded_at=recorded_at
        )
        return self._call(_Call("POST", f"/v1/patients/{_id(patient_id)}/outcomes", body, model=Outcome))

    def get_progress(self, patient_id: str) -> ProgressReport:
        """Every outcome and protocol metric over time, each change judged against MCID/MDC. admin, clinician."""
        return self._call(_Call("GET", f"/v1/patients/{_id(patient_id)}/progress", model=ProgressReport))

    def get_signature(self, patient_id: str) -> dict[str, Any]:
        """The patient's motion signature per session (docs/signature.md), as JSON. admin, clinician."""
        return self._call(_Call("GET", f"/v1/patients/{_id(patient_id)}/signature"))

    # -- reports and FHIR ----------------------------------------------------------------------------------

    def get_report_pdf(self, patient_id: str, session_id: str) -> bytes:
        """A session's report as an A4 PDF (docs/reports.md). admin, clinician."""
        path = f"/v1/patients/{_id(patient_id)}/sessions/{_id(session_id)}/report.pdf"
        return self._call(_Call("GET", path, read="bytes"))

    def get_report_html(self, patient_id: str, session_id: str) -> str:
        """A session's report as one HTML page. admin, clinician."""
        path = f"/v1/patients/{_id(patient_id)}/sessions/{_id(session_id)}/report.html"
        return self._call(_Call("GET", path, read="text"))

    def get_fhir_bundle(self, patient_id: str) -> dict[str, Any]:
        """The patient's FHIR R4 Bundle (Patient, QuestionnaireResponses, Observations). admin, clinician."""
        return self._call(_Call("GET", f"/v1/patients/{_id(patient_id)}/fhir"))

    # -- clinician review, exercise suggestions, clinic ---------------------------------------------------

    def list_findings(self, assessment_id: str) -> FindingList:
        """An assessment's findings, each with its latest review. admin, clinician."""
        return self._call(_Call("GET", f"/v1/assessments/{_id(assessment_id)}/findings", model=FindingList))

    def review_finding(
        self,
        assessment_id: str,
        index: int,
        action: Literal["sign_off", "correct", "reject"],
        *,
        note: str | None = None,
        correction: dict[str, str] | None = None,
    ) -> Review:
        """Sign off, correct (``correction={"severity"?, "message"?}`` and a note) or reject (a note) a finding;
        audited. admin, clinician."""
        path = f"/v1/assessments/{_id(assessment_id)}/findings/{int(index)}/review"
        body = {"action": action} | _without_none(note=note, correction=correction)
        return self._call(_Call("POST", path, body, model=Review))

    def list_suggestions(self, assessment_id: str) -> SuggestionList:
        """Exercises suggested from the findings (an app key sees approved ones only). admin, clinician, app."""
        return self._call(_Call("GET", f"/v1/assessments/{_id(assessment_id)}/suggestions", model=SuggestionList))

    def decide_suggestion(
        self,
        assessment_id: str,
        n: int,
        action: Literal["approve", "reject"],
        *,
        note: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> SuggestionDecision:
        """Approve (optionally changing ``sets``, ``reps``, ``hold_s``, ``tempo``, ``rest_s``) or reject (a note)
        suggestion ``n``; audited. admin, clinician."""
        path = f"/v1/assessments/{_id(assessment_id)}/suggestions/{int(n)}/decision"
        body = {"action": action} | _without_none(note=note, overrides=overrides)
        return self._call(_Call("POST", path, body, model=SuggestionDecision))

    def get_clinic(self) -> Clinic:
        """The caller's clinic and its settings. admin."""
        return self._call(_Call("GET", "/v1/clinic", model=Clinic))

    def update_clinic(self, *, patient_feedback: Literal["all", "signed_off_only"]) -> Clinic:
        """What app keys see of findings: all, or only signed-off ones; audited. admin."""
        return self._call(_Call("PATCH", "/v1/clinic", {"patient_feedback": patient_feedback}, model=Clinic))

    def get_webhook_secret(self) -> WebhookSecret:
        """The secret that signs this clinic's webhooks. admin."""
        return self._call(_Call("GET", "/v1/clinic/webhook-secret", model=WebhookSecret))

    def rotate_webhook_secret(self) -> WebhookSecret:
        """Replace the webhook secret; the new one is returned (and used from now on); audited. admin."""
        return self._call(_Call("POST", "/v1/clinic/webhook-secret", model=WebhookSecret))


def _awaited(method: Callable[Concatenate[Any, _P], _T]) -> Callable[Concatenate[Any, _P], Coroutine[Any, Any, _T]]:
    """An :class:`_Endpoints` method as :class:`AsyncClient` has it: the same function, typed as what it is there.

    The method returns ``self._call(...)``, which on ``AsyncClient`` is a coroutine of the answer;
    inherited, it would be typed as the answer itself (``await ms.create_patient(...)`` read as
    awaiting a ``Patient``, and a forgotten ``await`` went unseen). Only the type changes.
    """
    return cast("Callable[Concatenate[Any, _P], Coroutine[Any, Any, _T]]", method)


def _page_params(page_size: int, **filters: Any) -> dict[str, Any]:
    return _without_none(**filters) | {"limit": page_size}


class Client(_Common, _Endpoints):
    """Synchronous client. ``transport`` replaces httpx's (for tests, proxies, Unix sockets)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
        )
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers(), timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        upload: Upload | None = None,
        progress: Progress | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        content = None if body is None else json.dumps(_jsonable(body)).encode()
        h = self._send_headers(headers, upload, content)
        attempt = 0
        while True:
            r, exc = None, None
            try:
                r = self._http.request(
                    method,
                    path,
                    headers=h,
                    params=params,
                    content=content if upload is None else upload.chunks(progress),
                )
            except httpx.TransportError as e:
                exc = e
            delay = self._settle(attempt, r, exc)
            if isinstance(delay, httpx.Response):
                return delay
            if r is not None:
                r.close()
            self._sleep(delay)
            attempt += 1

    def _call(self, call: _Call) -> Any:
        return call.answer(self._request(call.method, call.path, params=call.params, body=call.body))

    def _pages(self, path: str, params: dict[str, Any], model: type[BaseModel]) -> Iterator[Any]:
        params = dict(params)
        while True:
            page = self._request("GET", path, params=params).json()
            for item in page["items"]:
                yield model.model_validate(item)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def list_patients(self, *, code: str | None = None, page_size: int = 50) -> Iterator[Patient]:
        """Every patient, newest first (``code`` finds one), fetching pages lazily. admin, clinician."""
        return self._pages("/v1/patients", _page_params(page_size, code=code), Patient)

    def list_audit_events(
        self, *, entity_type: str | None = None, entity_id: str | None = None, page_size: int = 50
    ) -> Iterator[AuditEvent]:
        """The clinic's audit events, newest first. admin, clinician."""
        params = _page_params(page_size, entity_type=entity_type, entity_id=entity_id)
        return self._pages("/v1/audit", params, AuditEvent)

    def create_assessment(
        self,
        source: Source,
        *,
        exercise: str | None = None,
        patient_id: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> AssessmentAccepted:
        """Submit a video/image file, a landmark JSON file or a landmark document (dict).

        ``progress(sent, total)`` is called as the body streams (bytes); the
        same ``Idempotency-Key`` (a new uuid4 unless given) is sent on every retry.
        """
        upload = source_upload(source, self._fields(exercise, patient_id, callback_url))
        key = idempotency_key or str(uuid.uuid4())
        r = self._request("POST", "/v1/assessments", upload=upload, progress=progress, headers={"Idempotency-Key": key})
        return AssessmentAccepted.model_validate_json(r.content)

    def get_assessment(self, assessment_id: str) -> AssessmentPublic:
        return AssessmentPublic.model_validate_json(self._request("GET", f"/v1/assessments/{assessment_id}").content)

    def wait(
        self,
        assessment_id: str,
        *,
        timeout_s: float = 600.0,
        poll_s: float = 0.25,
        max_poll_s: float = 2.0,
        on_status: StatusCallback | None = None,
    ) -> AssessmentPublic:
        """Poll until the assessment is done; raises AssessmentFailed or WaitTimeout otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            a = self.get_assessment(assessment_id)
            if on_status is not None:
                on_status(a)
            if a.status == "done":
                return a
            if a.status == "failed":
                raise errors.AssessmentFailed(assessment_id, a.reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.WaitTimeout(assessment_id, a.status, timeout_s)
            self._sleep(min(poll_s, left))
            poll_s = min(poll_s * 1.5, max_poll_s)

    def list_assessments(
        self,
        *,
        status: str | None = None,
        patient_id: str | None = None,
        exercise: str | None = None,
        page_size: int = 50,
    ) -> Iterator[AssessmentSummary]:
        """Every matching assessment, newest first, fetching pages as they are needed."""
        params = _page_params(page_size, status=status, patient_id=patient_id, exercise=exercise)
        return self._pages("/v1/assessments", params, AssessmentSummary)

    def delete_assessment(self, assessment_id: str) -> None:
        self._request("DELETE", f"/v1/assessments/{assessment_id}")

    def analyze_frame(self, image: bytes | str | os.PathLike[str]) -> FrameResult:
        """One JPEG/PNG/WebP image (bytes or a path) analysed synchronously."""
        return FrameResult.model_validate_json(self._request("POST", "/v1/frames", upload=image_upload(image)).content)


class AsyncClient(_Common):
    """The same API for asyncio."""

    # the shared endpoints, each a coroutine of what Client's returns (_awaited)
    get_overlay = _awaited(_Endpoints.get_overlay)
    export_series = _awaited(_Endpoints.export_series)
    get_input = _awaited(_Endpoints.get_input)
    create_patient = _awaited(_Endpoints.create_patient)
    get_patient = _awaited(_Endpoints.get_patient)
    update_patient = _awaited(_Endpoints.update_patient)
    delete_patient = _awaited(_Endpoints.delete_patient)
    create_session = _awaited(_Endpoints.create_session)
    update_session = _awaited(_Endpoints.update_session)
    link_assessments = _awaited(_Endpoints.link_assessments)
    record_odi = _awaited(_Endpoints.record_odi)
    record_nrs = _awaited(_Endpoints.record_nrs)
    get_progress = _awaited(_Endpoints.get_progress)
    get_signature = _awaited(_Endpoints.get_signature)
    get_report_pdf = _awaited(_Endpoints.get_report_pdf)
    get_report_html = _awaited(_Endpoints.get_report_html)
    get_fhir_bundle = _awaited(_Endpoints.get_fhir_bundle)
    list_findings = _awaited(_Endpoints.list_findings)
    review_finding = _awaited(_Endpoints.review_finding)
    list_suggestions = _awaited(_Endpoints.list_suggestions)
    decide_suggestion = _awaited(_Endpoints.decide_suggestion)
    get_clinic = _awaited(_Endpoints.get_clinic)
    update_clinic = _awaited(_Endpoints.update_clinic)
    get_webhook_secret = _awaited(_Endpoints.get_webhook_secret)
    rotate_webhook_secret = _awaited(_Endpoints.rotate_webhook_secret)

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        upload: Upload | None = None,
        progress: Progress | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        content = None if body is None else json.dumps(_jsonable(body)).encode()
        h = self._send_headers(headers, upload, content)
        attempt = 0
        while True:
            r, exc = None, None
            try:
                r = await self._http.request(
                    method,
                    path,
                    headers=h,
                    params=params,
                    content=content if upload is None else upload.achunks(progress),
                )
            except httpx.TransportError as e:
                exc = e
            delay = self._settle(attempt, r, exc)
            if isinstance(delay, httpx.Response):
                return delay
            if r is not None:
                await r.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def _call(self, call: _Call) -> Any:
        return call.answer(await self._request(call.method, call.path, params=call.params, body=call.body))

    async def _pages(self, path: str, params: dict[str, Any], model: type[BaseModel]) -> AsyncIterator[Any]:
        params = dict(params)
        while True:
            page = (await self._request("GET", path, params=params)).json()
            for item in page["items"]:
                yield model.model_validate(item)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def list_patients(self, *, code: str | None = None, page_size: int = 50) -> AsyncIterator[Patient]:
        return self._pages("/v1/patients", _page_params(page_size, code=code), Patient)

    def list_audit_events(
        self, *, entity_type: str | None = None, entity_id: str | None = None, page_size: int = 50
    ) -> AsyncIterator[AuditEvent]:
        params = _page_params(page_size, entity_type=entity_type, entity_id=entity_id)
        return self._pages("/v1/audit", params, AuditEvent)

    async def create_assessment(
        self,
        source: Source,
        *,
        exercise: str | None = None,
        patient_id: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        progress: Progress | None = None,
    ) -> AssessmentAccepted:
        upload = source_upload(source, self._fields(exercise, patient_id, callback_url))
        key = idempotency_key or str(uuid.uuid4())
        r = await self._request(
            "POST", "/v1/assessments", upload=upload, progress=progress, headers={"Idempotency-Key": key}
        )
        return AssessmentAccepted.model_validate_json(r.content)

    async def get_assessment(self, assessment_id: str) -> AssessmentPublic:
        r = await self._request("GET", f"/v1/assessments/{assessment_id}")
        return AssessmentPublic.model_validate_json(r.content)

    async def wait(
        self,
        assessment_id: str,
        *,
        timeout_s: float = 600.0,
        poll_s: float = 0.25,
        max_poll_s: float = 2.0,
        on_status: StatusCallback | None = None,
    ) -> AssessmentPublic:
        deadline = time.monotonic() + timeout_s
        while True:
            a = await self.get_assessment(assessment_id)
            if on_status is not None:
                on_status(a)
            if a.status == "done":
                return a
            if a.status == "failed":
                raise errors.AssessmentFailed(assessment_id, a.reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.WaitTimeout(assessment_id, a.status, timeout_s)
            await asyncio.sleep(min(poll_s, left))
            poll_s = min(poll_s * 1.5, max_poll_s)

    def list_assessments(
        self,
        *,
        status: str | None = None,
        patient_id: str | None = None,
        exercise: str | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[AssessmentSummary]:
        params = _page_params(page_size, status=status, patient_id=patient_id, exercise=exercise)
        return self._pages("/v1/assessments", params, AssessmentSummary)

    async def delete_assessment(self, assessment_id: str) -> None:
        await self._request("DELETE", f"/v1/assessments/{assessment_id}")

    async def analyze_frame(self, image: bytes | str | os.PathLike[str]) -> FrameResult:
        r = await self._request("POST", "/v1/frames", upload=image_upload(image))
        return FrameResult.model_validate_json(r.content)
