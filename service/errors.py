"""Errors as ``application/problem+json`` (RFC 9457), mapped from domain errors.

The core raises :mod:`kinematics.errors` classes; this module alone decides
their HTTP status. Every problem has a stable ``type`` URI per kind.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kinematics.errors import (
    CorruptMediaError,
    InputError,
    LandmarkFormatError,
    MotionscriptError,
    NoPersonError,
    UnsupportedMediaError,
)
from service.logs import request_id

__all__ = ["Problem", "install"]

TYPE_BASE = "https://motionscript.dev/problems/"


class Problem(Exception):
    """An HTTP error with a problem type, raised by routes."""

    def __init__(self, status: int, kind: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.extra = status, kind, detail, extra


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem_response(status: int, kind: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 429 and isinstance(extra.get("retry_after_s"), int):
        headers["Retry-After"] = str(extra["retry_after_s"])
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


_DOMAIN = (
    (UnsupportedMediaError, 415, "unsupported-media"),
    (CorruptMediaError, 422, "corrupt-media"),
    (LandmarkFormatError, 422, "malformed-landmarks"),
    (NoPersonError, 422, "no-person"),
    (InputError, 422, "invalid-input"),
    (MotionscriptError, 422, "not-measurable"),
)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.detail, **exc.extra)

    @app.exception_handler(MotionscriptError)
    async def _domain(_: Request, exc: MotionscriptError) -> JSONResponse:
        for cls, status, kind in _DOMAIN:
            if isinstance(exc, cls):
                return problem_response(status, kind, str(exc))
        raise exc  # pragma: no cover - MotionscriptError is the last entry

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path", "header"))
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        return problem_response(422, "validation", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, f"http-{exc.status_code}", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("motionscript.api").exception("unhandled error")
        return problem_response(500, "internal", "an unexpected error occurred; it has been logged")
