"""The browser pages: ``/app/login``, ``/app/patient``, ``/app/clinician``, their static files, and ``GET /v1/exercises``.

Plain HTML + ES modules + CSS from ``service/web/static`` (no build step). Every page and
file is sent with a strict Content-Security-Policy: scripts and styles only from this
server, no inline code, connections (fetch, the live WebSocket) only to this server, no
framing. The pages hold no data; they call the API with a person's login (cookie), a patient link
or an API key.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from kinematics.protocols import PROTOCOL_NAMES
from kinematics.streaming import COUNTED_EVENT, HOLDING
from service.auth import Principal
from service.deps import require
from service.errors import Problem
from service.live import EXERCISE_PLANE
from service.schemas import ExerciseList, ExerciseOut
from service.web import PLACEMENT, STATIC_DIR, STEADY, TITLES

router = APIRouter(tags=["web"])

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'{ws}; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _policy(request: Request) -> str:
    """The CSP; the live WebSocket of this very host is named too (CSP 2 browsers do not count ws: as 'self')."""
    host = request.headers.get("host", "")
    return CSP.format(ws=f" ws://{host} wss://{host}" if _HOST.match(host) else "")


_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _file(request: Request, relpath: str) -> FileResponse:
    path = (STATIC_DIR / relpath).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file() or path.suffix not in _TYPES:
        raise Problem(404, "not-found", f"no page or file {relpath!r}; pages: /app/login, /app/patient, /app/clinician")
    return FileResponse(
        path, media_type=_TYPES[path.suffix], headers={**_HEADERS, "Content-Security-Policy": _policy(request)}
    )


@router.get("/app/patient", name="patient_page", include_in_schema=False)
def patient_page(request: Request) -> FileResponse:
    return _file(request, "patient.html")


@router.get("/app/clinician", name="clinician_page", include_in_schema=False)
def clinician_page(request: Request) -> FileResponse:
    return _file(request, "clinician.html")


@router.get("/app/login", name="login_page", include_in_schema=False)
def login_page(request: Request) -> FileResponse:
    return _file(request, "login.html")


@router.get("/app/static/{relpath:path}", name="web_static", include_in_schema=False)
def web_static(request: Request, relpath: str) -> FileResponse:
    return _file(request, relpath)


@router.get("/v1/catalogue", name="get_catalogue", tags=["exercises"])
def get_catalogue(_: Annotated[Principal, require("assessments:read")], response: Response) -> dict:
    """Labels and units for series, metrics, evidence, events and outcomes: the words the reports use."""
    from service.catalogue import as_json

    response.headers["Cache-Control"] = "private, max-age=300"
    return as_json()


@router.get("/v1/exercises", response_model=ExerciseList, name="list_exercises", tags=["exercises"])
def list_exercises(_: Annotated[Principal, require("assessments:create")], response: Response) -> ExerciseList:
    """The exercises the service scores, with how to film each and what live feedback gives."""
    response.headers["Cache-Control"] = "private, max-age=300"
    items = []
    for name in PROTOCOL_NAMES:
        view, lines = PLACEMENT[name]
        items.append(
            ExerciseOut(
                name=name,
                title=TITLES[name],
                plane=EXERCISE_PLANE.get(name),
                view=view,
                placement=[*lines, STEADY],
                live_counted=COUNTED_EVENT.get(name),
                live_hold=name in HOLDING,
            )
        )
    return ExerciseList(items=items)
