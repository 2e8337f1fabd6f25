"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.health import readiness
from service.version import __version__

router = APIRouter(tags=["operations"])


@router.get("/healthz", name="healthz")
def healthz() -> dict[str, str]:
    """The process is up, and which Motionscript version it runs."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", name="readyz")
def readyz(request: Request) -> JSONResponse:
    """The database, the queue, the uploads folder and the model file all answer."""
    state = request.app.state
    checks = readiness(state.engine, state.queue, state.uploads.root, state.settings.pose_model_name)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", name="metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
