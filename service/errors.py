"""Errors as ``application/problem+json`` (RFC 9457), mapped from domain errors.

The core raises :mod:`kinematics.errors` classes and the service's domain modules
:mod:`service.domain_errors` ones; this module alone decides their HTTP status. Every problem has a stable ``type`` URI per kind.
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
    MediaTooLargeError,
    MotionscriptError,
    NoPersonError,
    UnsupportedMediaError,
)
from service.domain_errors import Conflict, DomainError, Forbidden, Invalid, NotFound, StoredDataError
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


def problem_response(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429 and isinstance(extra.get("retry_after_s"), int):
        headers["Retry-After"] = str(extra["retry_after_s"])
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own Allow names one route's only)."""
    from starlette.routing import Match

    routes = request.app.router.routes
    return [
        m
        for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)
    ]


_DOMAIN = (
    (UnsupportedMediaError, 415, "unsupported-media"),
    (CorruptMediaError, 422, "corrupt-media"),
    (MediaTooLargeError, 413, "too-many-pixels"),
    (LandmarkFormatError, 422, "malformed-landmarks"),
    (NoPersonError, 422, "no-person"),
    (InputError, 422, "invalid-input"),
    (MotionscriptError, 422, "not-measurable"),
)


_STATUS_OF: dict[type[DomainError], int] = {
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    StoredDataError: 500,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.detail, **exc.extra)

    @app.exception_handler(DomainError)
    async def _service_domain(_: Request, exc: DomainError) -> JSONResponse:
        status = next(code for cls, code in _STATUS_OF.items() if isinstance(exc, cls))
        return problem_response(status, exc.kind, exc.detail, **exc.extra)

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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = _allowed_methods(request) or headers.get("Allow", "").split(", ")
            headers["Allow"] = ", ".join(m for m in allowed if m)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return problem_response(exc.status_code, f"http-{exc.status_code}", detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("motionscript.api").exception("unhandled error")
        return problem_response(500, "internal", "an unexpected error occurred; it has been logged")


# -- OpenAPI: every operation documents its problem+json answers ----------------------------------------------------

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `type` is stable per kind of problem",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "example": TYPE_BASE + "validation"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong and what is accepted; shown as it is"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "422 validation: every error"},
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "Bad request: the request could not be read",
    401: "No valid API key",
    403: "The key's role may not do this",
    404: "Not found (another clinic's ids are not found either)",
    405: "Method not allowed; the `Allow` header lists the allowed ones",
    409: "Conflict with the resource's state",
    413: "Content too large: upload, JSON body or pictures beyond the limits",
    415: "Unsupported media type",
    422: "Unprocessable content: the field and what is accepted are named in `detail`",
    429: "Too many requests at once; retry after `Retry-After` seconds",
}


def document_problems(app: FastAPI) -> None:
    """Replace FastAPI's own 422 schema with problem+json and add 400/413/415/422/429 to every operation."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path in doc.get("paths", {}).values():
            for op in path.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                codes = {400, 422}
                body = op.get("requestBody", {}).get("content", {})
                if body:
                    codes |= {413, 415}
                if "multipart/form-data" in body:  # uploads: bounded concurrency per clinic and key
                    codes.add(429)
                codes |= {int(c) for c in op["responses"] if str(c).isdigit() and int(c) >= 400}
                for code in sorted(codes):
                    entry = op["responses"].setdefault(str(code), {"description": _DESCRIPTIONS.get(code, "Error")})
                    entry["content"] = problem
                    if entry.get("description") == "Validation Error":  # FastAPI's, for its own schema
                        entry["description"] = _DESCRIPTIONS[422]
                    if code == 429:
                        entry["headers"] = {
                            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
                        }
        import json

        if "#/components/schemas/HTTPValidationError" not in json.dumps(doc["paths"]):
            for name in ("HTTPValidationError", "ValidationError"):
                doc["components"]["schemas"].pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
