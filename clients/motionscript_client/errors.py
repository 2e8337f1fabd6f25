"""The SDK's exceptions, built from the service's ``application/problem+json`` answers.

::

    MotionscriptError
    ├── TransportError          the server could not be reached (after the retries)
    ├── WaitTimeout             wait() gave up; the assessment may still finish
    ├── AssessmentFailed        the analysis ran and failed; ``reason`` says why
    └── APIError                the server answered with a problem (type, status, detail)
        ├── BadRequest          400
        ├── Unauthorized        401
        ├── Forbidden           403
        ├── NotFound            404
        ├── Conflict            409
        ├── PayloadTooLarge     413
        ├── UnsupportedMedia    415
        ├── InvalidInput        422 (also a ValueError)
        └── ServerError         5xx
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AssessmentFailed",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "MotionscriptError",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnsupportedMedia",
    "WaitTimeout",
]


class MotionscriptError(Exception):
    """Base of every SDK error."""


class TransportError(MotionscriptError):
    """No answer from the server (connection refused, reset, timed out), retries included."""


class WaitTimeout(MotionscriptError, TimeoutError):
    def __init__(self, assessment_id: str, status: str, timeout_s: float) -> None:
        super().__init__(f"assessment {assessment_id} still {status} after {timeout_s:.0f} s")
        self.assessment_id, self.status, self.timeout_s = assessment_id, status, timeout_s


class AssessmentFailed(MotionscriptError):
    def __init__(self, assessment_id: str, reason: str | None) -> None:
        super().__init__(f"assessment {assessment_id} failed: {reason or 'no reason given'}")
        self.assessment_id, self.reason = assessment_id, reason


class APIError(MotionscriptError):
    """An error answer; ``type``, ``status`` and ``detail`` come from the problem document (RFC 9457)."""

    def __init__(
        self,
        status: int,
        type: str,
        detail: str,
        *,
        title: str | None = None,
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {detail}")
        self.status, self.type, self.detail, self.title = status, type, detail, title
        self.request_id, self.body = request_id, body or {}

    @property
    def kind(self) -> str:
        """The last segment of ``type``: ``not-found``, ``validation``, ..."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class BadRequest(APIError): ...


class Unauthorized(APIError): ...


class Forbidden(APIError): ...


class NotFound(APIError): ...


class Conflict(APIError): ...


class PayloadTooLarge(APIError): ...


class UnsupportedMedia(APIError): ...


class InvalidInput(APIError, ValueError): ...


class ServerError(APIError): ...


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMedia,
    422: InvalidInput,
}


def from_response(status: int, body: bytes, request_id: str | None = None) -> APIError:
    """The exception for an error answer; a body that is not a problem document still gives one."""
    import json

    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    detail = doc.get("detail") if isinstance(doc.get("detail"), str) else (body[:200].decode(errors="replace") or "")
    return cls(
        status,
        str(doc.get("type", "about:blank")),
        detail or f"HTTP {status}",
        title=doc.get("title"),
        request_id=doc.get("request_id") or request_id,
        body=doc,
    )
