"""Motionscript clients: the Python SDK (HTTP only) and the CLI's remote mode."""

from clients.errors import (
    APIError,
    AssessmentFailed,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    MotionscriptError,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TransportError,
    Unauthorized,
    UnsupportedMedia,
    WaitTimeout,
)
from clients.models import AssessmentAccepted, AssessmentList, AssessmentPublic, AssessmentSummary, FrameResult
from clients.sdk import AsyncClient, Client

__all__ = [
    "APIError",
    "AssessmentAccepted",
    "AssessmentFailed",
    "AssessmentList",
    "AssessmentPublic",
    "AssessmentSummary",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "FrameResult",
    "InvalidInput",
    "MotionscriptError",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnsupportedMedia",
    "WaitTimeout",
]
