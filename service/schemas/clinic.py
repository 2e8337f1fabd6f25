"""The clinic's settings, its webhook secret and its audit log (docs/review.md, docs/sdk.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas._base import UtcDatetime, _RowPublic


class ClinicPublic(BaseModel):
    id: str
    name: str
    patient_feedback: Literal["all", "signed_off_only"] = Field(
        description="what app keys see of findings: all, or only signed-off (and corrected) ones"
    )


class WebhookSecret(BaseModel):
    """The clinic's webhook signing secret (docs/sdk.md#webhooks); shown to admin keys only."""

    secret: str = Field(description="HMAC-SHA256 key; a receiver recomputes the signature with it")
    header: Literal["Motionscript-Signature"] = "Motionscript-Signature"
    scheme: str = Field(description="how the header is made")
    fingerprint: str = Field(description="sha256 of the secret, first 12 hex digits: tells which secret is in use")


class ClinicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patient_feedback: Literal["all", "signed_off_only"]


class AuditEventPublic(_RowPublic):
    id: str
    at: UtcDatetime
    actor_key_id: str = Field(description="the API key's id, the person's user id, or the patient's id (patient link)")
    actor_role: str
    actor_type: Literal["key", "user", "patient_link", "cli", "system"] | None = Field(
        description="what acted; null for events written before 0.2"
    )
    actor_name: str | None = Field(
        description="who acted: 'Name <email>', \"API key 'label'\", 'patient link for CODE'"
    )
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None


class AuditList(BaseModel):
    items: list[AuditEventPublic]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last page")
