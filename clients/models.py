"""Typed responses of the Motionscript REST API, mirrored here so the SDK needs nothing from ``service/``.

``tests/clients/test_models.py`` checks each model's fields against the
service's live ``/openapi.json``. Unknown fields are kept (``extra="allow"``),
so a newer server does not break an older client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DOCUMENT_FIELDS",
    "AssessmentAccepted",
    "AssessmentList",
    "AssessmentPublic",
    "AssessmentSummary",
    "FrameResult",
    "Status",
    "View",
]

Status = Literal["queued", "running", "done", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class AssessmentAccepted(_Model):
    """``202`` answer to a submission: where to follow the job."""

    id: str
    status: Status
    url: str


class AssessmentSummary(_Model):
    id: str
    status: Status
    reason: str | None = None
    exercise: str | None = None
    patient_id: str | None = None
    input_kind: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int


# The assessment document's fields, in the order `motionscript analyze` writes them.
DOCUMENT_FIELDS: tuple[str, ...] = (
    "schema_version",
    "exercise",
    "input",
    "model",
    "subject",
    "view",
    "quality",
    "series",
    "confidence",
    "unavailable",
    "metrics",
    "events",
    "findings",
    "coaching",
    "detected",
    "conventions",
    "processing",
    "wearables",
)


class AssessmentPublic(AssessmentSummary):
    """An assessment; when ``status`` is ``done`` the document's fields are filled in."""

    schema_version: str | None = None
    input: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    subject: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    quality: list[dict[str, Any]] | None = None
    series: dict[str, list[float | None] | None] | None = None
    confidence: dict[str, list[float] | None] | None = None
    unavailable: dict[str, str] | None = None
    metrics: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None
    findings: list[dict[str, Any]] | None = None
    coaching: list[dict[str, Any]] | None = None
    detected: dict[str, Any] | None = None
    conventions: dict[str, dict[str, Any]] | None = None
    processing: dict[str, Any] | None = None
    wearables: dict[str, Any] | None = None
    findings_filter: str | None = None  # "signed_off_only": an app key sees only reviewed findings (docs/review.md)

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    def document(self) -> dict[str, Any]:
        """The assessment document alone, as ``motionscript analyze`` writes it (field order included)."""
        data = self.model_dump(mode="json")
        return {name: data.get(name) for name in DOCUMENT_FIELDS}


class AssessmentList(_Model):
    items: list[AssessmentSummary]
    next_cursor: str | None = None


class View(_Model):
    view: Literal["frontal", "sagittal", "oblique", "unknown"]
    yaw_deg: float | None = None
    off_frontal_deg: float | None = None
    yaw_sd_deg: float | None = None
    facing: Literal["front", "back", "unknown"] = "unknown"
    confidence: float
    share: dict[str, float] = Field(default_factory=dict)
    measurable_planes: list[str]


class FrameResult(_Model):
    """One image analysed synchronously: landmarks and instantaneous angles."""

    image_size: tuple[int, int]
    person_found: bool
    landmarks: list[list[float]] | None = None
    world_landmarks: list[list[float]] | None = None
    view: View
    angles: dict[str, float | None]
    unavailable: dict[str, str]
    quality: list[dict[str, Any]]
    conventions: dict[str, dict[str, Any]]
