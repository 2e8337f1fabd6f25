"""People, logins and patient links (docs/web.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.schemas._base import UtcDatetime


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class LoginLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200, description="the one-time token of a CLI login link")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str | None = Field(None, max_length=1000, description="required when a password is set")
    new_password: str = Field(min_length=10, max_length=1000)


class Me(BaseModel):
    """Who the caller is: a person logged in, an API key, or a patient link."""

    kind: Literal["user", "key", "patient_link", "cli"]
    role: Literal["admin", "clinician", "app"]
    clinic_id: str
    clinic_name: str
    name: str | None = Field(description="the person's display name, the key's label, or the patient link's")
    email: str | None = Field(None, description="a person's login email")
    user_id: str | None = None
    patient_id: str | None = Field(None, description="a patient link's patient")
    patient_code: str | None = None
    has_password: bool | None = Field(None, description="a person: false when they log in by link only")
    csrf_token: str | None = Field(
        None, description="a logged-in person: send it as X-CSRF-Token with every request that changes data"
    )
    expires_at: UtcDatetime | None = Field(None, description="when the login (or the patient link) ends")


class PatientLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires_in_days: Annotated[float, Field(gt=0, le=365)] | None = Field(
        None, description="default: the service's patient_link_days (14)"
    )
    exercise: Annotated[str, Field(pattern=r"^[a-z_]{1,50}$")] | None = Field(
        None, description="open the page on this exercise"
    )


class PatientLinkPublic(BaseModel):
    url: str = Field(description="send this to the patient; the token sits in the fragment (#), never in logs")
    token: str
    patient_id: str
    expires_at: UtcDatetime
