"""Readiness: the database, the queue, the uploads folder and the pose model file all answer (``GET /readyz``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["readiness"]


def readiness(engine: Engine, queue: Any, uploads_root: Path, pose_model_name: str) -> dict[str, str]:
    """``"ok"`` or ``"error: <why>"`` per dependency."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["queue"] = "ok" if queue.ping() else "error: unreachable"
    checks["uploads"] = "ok" if uploads_root.is_dir() else "error: missing"
    try:
        from vision.models import model_spec, verify

        spec = model_spec(pose_model_name)
        verify(spec)
        if spec.option("detector"):
            verify(model_spec(str(spec.option("detector"))))
        checks["model"] = "ok"
    except Exception as exc:
        checks["model"] = f"error: {exc}"
    return checks
