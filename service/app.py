"""The FastAPI application. ``create_app`` builds it; nothing connects at import time."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from functools import cache

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy.orm import sessionmaker

from service import errors
from service.api import assessments, auth, docs, frames, health, live, patients, web
from service.api import reports as report_routes
from service.api import reviews as review_routes
from service.api import signature as signature_routes
from service.input_limits import InputLimits
from service.jobs import make_queue
from service.limits import UploadSlots
from service.limits import install as install_limits
from service.live_spool import SpoolBudget
from service.logs import configure_logging, request_id
from service.metrics import Metrics
from service.retention import Sweeper
from service.settings import Settings, get_settings
from service.store.db import make_engine, migrate
from service.store.uploads import UploadStore
from service.version import __version__

__all__ = ["create_app"]

log = logging.getLogger("motionscript.api")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def create_app(settings: Settings | None = None, *, start_workers: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.uploads_path.mkdir(parents=True, exist_ok=True)
        migrate(settings.sqlalchemy_url)
        # One connection per handler thread (+ a few): see Settings.api_pool_size and docs/limits.md.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        engine = make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.api_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = sessionmaker(engine, expire_on_commit=False)
        app.state.uploads = UploadStore.from_settings(settings)  # generates the key file on a first start
        app.state.uploads.clean_scratch()
        app.state.queue = make_queue(settings)
        app.state.upload_slots = UploadSlots(
            per_key=settings.max_uploads_per_key,
            per_clinic=settings.max_uploads_per_clinic,
            total=settings.max_uploads_total,
            retry_after_s=settings.upload_retry_after_s,
        )
        app.state.upload_checks = anyio.CapacityLimiter(settings.upload_checks)
        app.state.metrics = Metrics(app.state.session_factory)

        @cache
        def frame_analyzer():  # one IMAGE-mode model shared by /v1/frames
            from service.frame_analysis import FrameAnalyzer

            return FrameAnalyzer(settings.backend_factory(video=False, quiet=False)())

        app.state.frame_analyzer = frame_analyzer

        def live_analyzer():  # each live connection's own tracking model
            from service.frame_analysis import FrameAnalyzer

            return FrameAnalyzer(settings.backend_factory(video=True, live=True, quiet=False)())

        app.state.live_analyzer = live_analyzer
        app.state.live_connections = {}  # clinic id -> open live connections
        # the disk every recording live connection's frame spool draws on together (live_record_budget_mb)
        app.state.live_spool_budget = SpoolBudget(settings.live_record_budget_bytes)
        pool = None
        if start_workers and settings.job_backend == "local" and settings.workers > 0:
            from service.jobs.local import LocalWorkerPool

            pool = LocalWorkerPool(settings, settings.workers)
            pool.start()
        app.state.workers = pool
        # Expired recordings and orphaned partial uploads: now (in a thread, after the migrations above) and hourly.
        sweeper = Sweeper(app.state.session_factory, app.state.uploads, settings)
        sweeper.start()
        app.state.sweeper = sweeper
        log.info("service started", extra={"job_backend": settings.job_backend, "workers": settings.workers})
        try:
            yield
        finally:
            sweeper.stop()
            if pool is not None:
                pool.stop()
            if frame_analyzer.cache_info().currsize:
                frame_analyzer().close()
            engine.dispose()

    app = FastAPI(
        title="Motionscript",
        version=__version__,
        summary="Markerless pelvis and hip movement assessment. Supports a clinician's judgement; never a diagnosis.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served by service/api/docs.py with local files
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=lambda route: route.name,  # stable operation ids
    )
    errors.install(app)
    errors.document_problems(app)
    # Middleware added first sits innermost: observe (outermost; logs every answer with its request
    # id) -> the body timeouts of service/limits.py -> InputLimits, whose reading of a JSON body the
    # timeouts therefore guard.
    app.add_middleware(
        InputLimits, max_json_bytes=settings.max_json_mb * 1024 * 1024, max_json_depth=settings.max_json_depth
    )
    install_limits(app, settings)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        rid = request.headers.get("x-request-id", "")
        if not _REQUEST_ID.fullmatch(rid):  # echoed and logged: a client's own id only if short and plain
            rid = uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = rid
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            if hasattr(request.app.state, "metrics"):
                request.app.state.metrics.requests.labels(request.method, path, str(status)).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            request_id.reset(token)

    app.include_router(assessments.router)
    app.include_router(auth.router)
    app.include_router(frames.router)
    app.include_router(health.router)
    app.include_router(live.router)
    app.include_router(patients.router)
    app.include_router(review_routes.router)
    app.include_router(signature_routes.router)
    app.include_router(report_routes.router)
    app.include_router(web.router)
    app.include_router(docs.router)
    return app
