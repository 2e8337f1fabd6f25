"""Input limits applied before any route runs: control characters, JSON size and nesting depth.

PostgreSQL refuses a NUL byte in text with an error, and a NUL in a query
parameter, a path or a JSON string used to reach it (500 and a logged
``DataError``); a JSON body nested 200,000 deep ran Python's parser out of
stack (``RecursionError``, 500). This ASGI middleware refuses such requests
with a problem+json answer before the application sees them (docs/security.md):

* a path or query parameter holding a control character (C0, DEL): 422;
* a JSON body (``application/json`` or ``+json``) larger than ``max_json_bytes``: 413;
* a JSON body nested deeper than ``max_json_depth`` arrays/objects: 422;
* a JSON string holding NUL or another control character other than tab, line
  feed and carriage return (``\\u0000`` ... ``\\u001f``, ``\\u007f``): 422.

A WebSocket whose path or query holds a control character is refused before it
is accepted (the client sees HTTP 403). Multipart text fields are checked where
they are parsed (``service/api/_multipart.py``).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import numpy as np
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import problem_response

__all__ = ["InputLimits", "control_characters", "json_depth"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # free text may keep tab, LF, CR
# A \u escape of a control character (not tab, LF, CR) that is not itself escaped ("\\u0000" is text).
_CONTROL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")


def control_characters(text: str, *, allow_whitespace: bool = False) -> bool:
    """Whether ``text`` holds a control character (tab, LF and CR allowed with ``allow_whitespace``)."""
    return bool((_CONTROL_TEXT if allow_whitespace else _CONTROL).search(text))


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``raw``, without parsing it (linear, numpy).

    Brackets inside strings do not count: a quote preceded by an odd run of backslashes is
    escaped, and a bracket lies inside a string when an odd number of real quotes precede it.
    """
    a = np.frombuffer(raw, np.uint8)
    brackets = np.flatnonzero((a == 0x5B) | (a == 0x7B) | (a == 0x5D) | (a == 0x7D))  # [ { ] }
    if brackets.size == 0:
        return 0
    quotes = np.flatnonzero(a == 0x22)
    if quotes.size:
        slashes = np.flatnonzero(a == 0x5C)
        if slashes.size:  # runs of consecutive backslashes: where each ends and how long it is
            first = np.flatnonzero(np.r_[True, np.diff(slashes) != 1])
            starts = slashes[first]
            ends = np.r_[slashes[first[1:] - 1], slashes[-1]]
            k = np.minimum(np.searchsorted(ends, quotes - 1), ends.size - 1)
            escaped = (ends[k] == quotes - 1) & ((ends[k] - starts[k] + 1) % 2 == 1)
            quotes = quotes[~escaped]
        brackets = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    steps = np.where((a[brackets] == 0x5B) | (a[brackets] == 0x7B), 1, -1)
    return int(np.cumsum(steps).max()) if steps.size else 0


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def bad_target(scope: Scope) -> str | None:
    """Why the request's path or query may not be used (None when it may)."""
    if _CONTROL.search(scope.get("path", "")):
        return "the path holds a control character (such as NUL); ids and names never do"
    query = scope.get("query_string", b"")
    if query:
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            return "the query string is not valid UTF-8"
        for name, value in pairs:
            if _CONTROL.search(name) or _CONTROL.search(value):
                return f"query parameter {name[:50]!r}: control characters (such as NUL) are not accepted"
    return None


class InputLimits:
    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_json_depth: int) -> None:
        self.app, self.max_json_bytes, self.max_json_depth = app, max_json_bytes, max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = bad_target(scope)
        if why is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": why[:123]})
            else:
                await problem_response(422, "validation", why)(scope, receive, send)
            return
        if scope["type"] != "http" or not _is_json(scope) or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_json_bytes:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        while True:
            try:
                message = await receive()
            except HTTPException as exc:  # e.g. the body timeouts' 408 (service/limits.py), raised from receive
                response = problem_response(
                    exc.status_code,
                    "body-timeout" if exc.status_code == 408 else f"http-{exc.status_code}",
                    str(exc.detail),
                )
                response.headers["Connection"] = "close"  # the rest of the body is not read
                await response(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_json_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        raw = bytes(body)
        depth = json_depth(raw)
        if depth > self.max_json_depth:
            await problem_response(
                422,
                "too-deep",
                f"the JSON body nests {depth} levels of arrays and objects; at most {self.max_json_depth} are accepted",
            )(scope, receive, send)
            return
        if _CONTROL_ESCAPE.search(raw):
            await problem_response(
                422,
                "validation",
                "the JSON body holds a control character (such as \\u0000) in a string; "
                "only tab, line feed and carriage return are accepted in text",
            )(scope, receive, send)
            return
        await self.app(scope, _replay(raw, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        mb = self.max_json_bytes / (1024 * 1024)
        await problem_response(413, "too-large", f"the JSON body exceeds the limit of {mb:g} MB")(scope, receive, send)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()  # then wait for the disconnect, as the server would

    return replay
