"""motionscript-client: the Motionscript REST API from Python, over httpx, with typed pydantic models.

    from motionscript_client import Client

    with Client("http://127.0.0.1:8000", api_key="ms_...") as ms:
        accepted = ms.create_assessment("squat.mp4", exercise="squat")
        assessment = ms.wait(accepted.id, timeout_s=300)

It depends on httpx and pydantic only (no pose model, no OpenCV): install it next to an app with
``pip install ./clients`` from a Motionscript checkout. See docs/sdk.md for every call and the role it needs.
"""

from motionscript_client.errors import (
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
from motionscript_client.models import (
    AssessmentAccepted,
    AssessmentList,
    AssessmentPublic,
    AssessmentSummary,
    AuditEvent,
    Clinic,
    Event,
    Finding,
    FindingItem,
    FindingList,
    FrameResult,
    LiveFrame,
    LiveRecordingStopped,
    Metric,
    NotMeasured,
    Outcome,
    Patient,
    PatientDetail,
    Progress,
    Review,
    Session,
    Suggestion,
    SuggestionDecision,
    SuggestionList,
    WebhookSecret,
)
from motionscript_client.sdk import AsyncClient, Client

__version__ = "0.2.0"

__all__ = [
    "APIError",
    "AssessmentAccepted",
    "AssessmentFailed",
    "AssessmentList",
    "AssessmentPublic",
    "AssessmentSummary",
    "AsyncClient",
    "AuditEvent",
    "BadRequest",
    "Client",
    "Clinic",
    "Conflict",
    "Event",
    "Finding",
    "FindingItem",
    "FindingList",
    "Forbidden",
    "FrameResult",
    "InvalidInput",
    "LiveFrame",
    "LiveRecordingStopped",
    "Metric",
    "MotionscriptError",
    "NotFound",
    "NotMeasured",
    "Outcome",
    "Patient",
    "PatientDetail",
    "PayloadTooLarge",
    "Progress",
    "Review",
    "ServerError",
    "Session",
    "Suggestion",
    "SuggestionDecision",
    "SuggestionList",
    "TransportError",
    "Unauthorized",
    "UnsupportedMedia",
    "WaitTimeout",
    "WebhookSecret",
]
