"""Limits that keep one slow or busy client from stalling every clinic (docs/limits.md).

- :class:`BodyTimeoutMiddleware`: a request body that stops arriving (``body_timeout_s`` without a
  byte) or trickles (below ``body_min_rate_bps`` on average once ``body_timeout_s`` has passed) is
  answered 408 and its connection closed (slowloris).
- :class:`UploadSlots`: uploads streamed at once, per API key, per clinic and in all; one more is a
  429 with ``Retry-After``.
- :class:`LoginThrottle`: failed logins per email and per client address; beyond the limit, 429
  with ``Retry-After`` until the window passes.
- A database pool that stays empty for ``db_pool_timeout_s`` is a 503 with ``Retry-After``, never a
  500. It should not happen: no request holds a connection while it waits for its client
  (authentication releases its connection before the body is read; routes' sessions close before
  the response is sent).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import Principal
from service.errors import Problem, problem_response
from service.settings import Settings

__all__ = ["BodyTimeout", "BodyTimeoutMiddleware", "LoginThrottle", "TooManyUploads", "UploadSlots", "install"]


class BodyTimeout(StarletteHTTPException):
    """Raised from ``receive`` when the body stalls. An HTTPException so that FastAPI's own body
    reading (form and JSON routes) passes it on instead of turning it into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(408, detail)


class BodyTimeoutMiddleware:
    """Bound the wait for each piece of a request body, and its average rate."""

    def __init__(self, app: ASGIApp, *, idle_s: float, min_rate_bps: int) -> None:
        self.app, self.idle_s, self.min_rate_bps = app, idle_s, min_rate_bps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"done": False, "bytes": 0, "started": 0.0}
        idle_s, min_rate = self.idle_s, self.min_rate_bps

        async def guarded() -> Message:
            if state["done"]:  # the body is complete: waiting for a disconnect is not bounded
                return await receive()
            if not state["started"]:
                state["started"] = time.monotonic()
            try:
                async with asyncio.timeout(idle_s):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    f"the request body stopped arriving: nothing for {idle_s:g} s after {state['bytes']} bytes"
                ) from None
            if message["type"] != "http.request":
                return message
            state["bytes"] += len(message.get("body", b""))
            if not message.get("more_body", False):
                state["done"] = True
                return message
            elapsed = time.monotonic() - state["started"]
            if min_rate and elapsed > idle_s and state["bytes"] / elapsed < min_rate:
                raise BodyTimeout(
                    f"the request body is arriving at {state['bytes'] / elapsed:.0f} bytes/s, "
                    f"below the minimum of {min_rate} bytes/s"
                )
            return message

        await self.app(scope, guarded, send)


class TooManyUploads(Problem):
    def __init__(self, detail: str, retry_after_s: int, **extra: object) -> None:
        super().__init__(429, "too-many-uploads", detail, **extra)
        self.retry_after_s = retry_after_s


class UploadSlots:
    """Uploads being streamed now, per key, per clinic and in all (one event loop: no lock needed)."""

    def __init__(self, *, per_key: int, per_clinic: int, total: int, retry_after_s: int) -> None:
        self.per_key, self.per_clinic, self.total, self.retry_after_s = per_key, per_clinic, total, retry_after_s
        self.keys: Counter[str] = Counter()
        self.clinics: Counter[str] = Counter()
        self.active = 0

    @contextmanager
    def hold(self, principal: Principal) -> Iterator[None]:
        for scope, used, limit in (
            ("key", self.keys[principal.key_id], self.per_key),
            ("clinic", self.clinics[principal.clinic_id], self.per_clinic),
            ("service", self.active, self.total),
        ):
            if used >= limit:
                who = {"key": "this API key", "clinic": "this clinic", "service": "the service"}[scope]
                raise TooManyUploads(
                    f"{who} is already sending {used} uploads at once (the limit is {limit}); "
                    f"retry in {self.retry_after_s} s",
                    self.retry_after_s,
                    limit=limit,
                    scope=scope,
                )
        self.keys[principal.key_id] += 1
        self.clinics[principal.clinic_id] += 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            for counter, name in ((self.keys, principal.key_id), (self.clinics, principal.clinic_id)):
                counter[name] -= 1
                if counter[name] <= 0:
                    del counter[name]


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        BodyTimeoutMiddleware,  # type: ignore[arg-type]
        idle_s=settings.body_timeout_s,
        min_rate_bps=settings.body_min_rate_bps,
    )

    @app.exception_handler(BodyTimeout)
    async def _body_timeout(_: Request, exc: BodyTimeout) -> JSONResponse:
        response = problem_response(408, "body-timeout", str(exc.detail))
        response.headers["Connection"] = "close"  # the rest of the body is not read: end the connection
        return response

    @app.exception_handler(TooManyUploads)
    async def _too_many(_: Request, exc: TooManyUploads) -> JSONResponse:
        response = problem_response(exc.status, exc.kind, exc.detail, **exc.extra)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        # No "Connection: close": uvicorn then reads (and drops) the rest of the body, so a client still
        # sending it reads this answer instead of a connection reset (seen in `python -m bench load`).
        return response

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        import logging

        logging.getLogger("motionscript.api").warning("database pool exhausted")
        response = problem_response(
            503, "database-busy", "every database connection is in use; retry shortly", retry_after_s=2
        )
        response.headers["Retry-After"] = "2"
        return response


class LoginThrottle:
    """Failed logins per email and per client address within a window; beyond the limit, 429 until it passes.

    Kept in the API process (``app.state``): with several API processes each counts its own.
    Argon2's cost already makes each guess slow; this stops a patient guesser at a handful.
    """

    def __init__(self, per_email: int = 5, per_client: int = 30, window_s: float = 900.0) -> None:
        self.limits = {"email": per_email, "client": per_client}
        self.window_s = window_s
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def check(self, email: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for kind, value in (("email", email), ("client", client)):
                times = self._recent((kind, value), now)
                if len(times) >= self.limits[kind]:
                    wait = int(self.window_s - (now - times[0])) + 1
                    raise Problem(
                        429,
                        "too-many-attempts",
                        f"too many failed logins for this {'account' if kind == 'email' else 'address'}; "
                        f"try again in {wait // 60 + 1} min or ask for a login link",
                        retry_after_s=wait,
                    )

    def failed(self, email: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (("email", email), ("client", client)):
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(("email", email), None)
