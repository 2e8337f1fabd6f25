"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

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
    checks: dict[str, str] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["queue"] = "ok" if state.queue.ping() else "error: unreachable"
    checks["uploads"] = "ok" if state.uploads.root.is_dir() else "error: missing"
    try:
        from vision.models import model_spec, verify

        spec = model_spec(state.settings.pose_model_name)
        verify(spec)
        if spec.option("detector"):
            verify(model_spec(str(spec.option("detector"))))
        checks["model"] = "ok"
    except Exception as exc:
        checks["model"] = f"error: {exc}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", name="metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
