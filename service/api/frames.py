"""``POST /v1/frames``: one image in, landmarks and instantaneous angles out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from service.auth import Principal
from service.deps import require
from service.errors import Problem
from service.schemas import FrameResult

router = APIRouter(prefix="/v1/frames", tags=["frames"])

MAX_FRAME_BYTES = 20 * 1024 * 1024


@router.post(
    "",
    response_model=FrameResult,
    name="analyze_frame",
    responses={413: {"description": "image too large"}, 415: {"description": "not an image"}},
)
async def analyze_frame(
    request: Request,
    image: UploadFile,
    principal: Annotated[Principal, require("frames:analyze")],
) -> FrameResult:
    """Analyse a single JPEG/PNG/WebP image synchronously (no job, nothing stored)."""
    data = await image.read(MAX_FRAME_BYTES + 1)
    if len(data) > MAX_FRAME_BYTES:
        raise Problem(413, "too-large", f"image exceeds {MAX_FRAME_BYTES // (1024 * 1024)} MB")
    analyzer = request.app.state.frame_analyzer()
    return await run_in_threadpool(analyzer.analyze_bytes, data, image.filename or "image")
