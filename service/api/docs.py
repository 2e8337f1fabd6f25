"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their files served from here, never from a CDN.

The files are the ones the ``fastapi-offline`` package ships (its ``static`` folder: Swagger UI's bundle
and stylesheet, ReDoc's standalone bundle); nothing else of that package is used. The pages load only
from this server (their Content-Security-Policy says so), so they render on a clinic network without
internet access.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service.errors import Problem

router = APIRouter(include_in_schema=False)

STATIC = Path(str(files("fastapi_offline") / "static"))
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# Inline scripts: the pages' one-line initialisers (FastAPI's templates); blob: workers: ReDoc's search.
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_BASE = "/docs/static"


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _with_csp(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} API",
            swagger_js_url=f"{_BASE}/swagger-ui-bundle.js",
            swagger_css_url=f"{_BASE}/swagger-ui.css",
            swagger_favicon_url=f"{_BASE}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": False},
        )
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _with_csp(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} API",
            redoc_js_url=f"{_BASE}/redoc.standalone.js",
            redoc_favicon_url=f"{_BASE}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(_BASE + "/{name}")
def docs_file(name: str) -> FileResponse:
    if name not in _FILES:
        raise Problem(404, "not-found", f"no docs file {name!r}")
    return FileResponse(STATIC / name, media_type=_FILES[name], headers={"Cache-Control": "public, max-age=86400"})
