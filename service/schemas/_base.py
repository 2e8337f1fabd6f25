"""What the schema modules share: the strict base model and UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RowPublic(BaseModel):
    """A stored row as the API shows it: ``Model.model_validate(row)`` reads every field from the
    row's attribute of the same name (one shape for the audit trail, the reviews, ...)."""

    model_config = ConfigDict(from_attributes=True)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

# free text a person types: no NUL, at most 4000 characters
_Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]
