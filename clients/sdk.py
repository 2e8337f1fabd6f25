"""``Client`` and ``AsyncClient``: the Motionscript REST API over httpx.

    with Client("http://127.0.0.1:8000", api_key="ms_...") as ms:
        accepted = ms.create_assessment("squat.mp4", exercise="squat")
        assessment = ms.wait(accepted.id, timeout_s=300)

Connection errors and 502/503/504 answers are retried with exponential
backoff; a submission keeps its ``Idempotency-Key`` across the retries, so a
retried upload never creates a second assessment. Error answers raise the
exceptions of :mod:`clients.errors`.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Self

import httpx

from clients import errors
from clients._requests import Progress, Upload, image_upload, source_upload
from clients.models import AssessmentAccepted, AssessmentPublic, AssessmentSummary, FrameResult

__all__ = ["RETRY_STATUSES", "AsyncClient", "Client"]

RETRY_STATUSES = frozenset({502, 503, 504})
USER_AGENT = "motionscript-sdk/0.1"
Source = str | os.PathLike[str] | dict[str, Any]
StatusCallback = Callable[[AssessmentPublic], None]


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

    @staticmethod
    def _check(r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            raise errors.from_response(r.status_code, r.content, r.headers.get("x-request-id"))
        return r

    @staticmethod
    def _fields(exercise: str | None, patient_id: str | None, callback_url: str | None) -> dict[str, str | None]:
        return {"exercise": exercise, "patient_id": patient_id, "callback_url": callback_url}


class Client(_Common):
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
    ) -> httpx.Response:
        attempt = 0
        while True:
            h = dict(headers or {})
            if upload is not None:
                h.update({"Content-Type": upload.content_type, "Content-Length": str(upload.length)})
            r, exc = None, None
            try:
                r = self._http.request(
                    method, path, headers=h, params=params, content=None if upload is None else upload.chunks(progress)
                )
            except httpx.TransportError as e:
                exc = e
            delay = self._retry(attempt, r, exc)
            if delay is None:
                assert r is not None
                return self._check(r)
            if r is not None:
                r.close()
            self._sleep(delay)
            attempt += 1

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
        params: dict[str, Any] = {
            k: v for k, v in (("status", status), ("patient_id", patient_id), ("exercise", exercise)) if v is not None
        }
        params["limit"] = page_size
        while True:
            page = self._request("GET", "/v1/assessments", params=params).json()
            for item in page["items"]:
                yield AssessmentSummary.model_validate(item)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def delete_assessment(self, assessment_id: str) -> None:
        self._request("DELETE", f"/v1/assessments/{assessment_id}")

    def analyze_frame(self, image: bytes | str | os.PathLike[str]) -> FrameResult:
        """One JPEG/PNG/WebP image (bytes or a path) analysed synchronously."""
        return FrameResult.model_validate_json(self._request("POST", "/v1/frames", upload=image_upload(image)).content)


class AsyncClient(_Common):
    """The same API for asyncio."""

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
    ) -> httpx.Response:
        attempt = 0
        while True:
            h = dict(headers or {})
            if upload is not None:
                h.update({"Content-Type": upload.content_type, "Content-Length": str(upload.length)})
            r, exc = None, None
            try:
                r = await self._http.request(
                    method, path, headers=h, params=params, content=None if upload is None else upload.achunks(progress)
                )
            except httpx.TransportError as e:
                exc = e
            delay = self._retry(attempt, r, exc)
            if delay is None:
                assert r is not None
                return self._check(r)
            if r is not None:
                await r.aclose()
            await asyncio.sleep(delay)
            attempt += 1

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

    async def list_assessments(
        self,
        *,
        status: str | None = None,
        patient_id: str | None = None,
        exercise: str | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[AssessmentSummary]:
        params: dict[str, Any] = {
            k: v for k, v in (("status", status), ("patient_id", patient_id), ("exercise", exercise)) if v is not None
        }
        params["limit"] = page_size
        while True:
            page = (await self._request("GET", "/v1/assessments", params=params)).json()
            for item in page["items"]:
                yield AssessmentSummary.model_validate(item)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    async def delete_assessment(self, assessment_id: str) -> None:
        await self._request("DELETE", f"/v1/assessments/{assessment_id}")

    async def analyze_frame(self, image: bytes | str | os.PathLike[str]) -> FrameResult:
        r = await self._request("POST", "/v1/frames", upload=image_upload(image))
        return FrameResult.model_validate_json(r.content)
