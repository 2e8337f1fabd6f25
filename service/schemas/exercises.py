"""The exercises the service scores (``GET /v1/exercises``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ExerciseOut(BaseModel):
    name: str
    title: str
    plane: Literal["frontal", "sagittal"] | None = Field(description="the anatomical plane the protocol scores")
    view: str = Field(description="how the patient stands to the camera: side, front, or either")
    placement: list[str] = Field(description="how to place the phone and the patient (docs/protocols/<name>.md)")
    live_counted: str | None = Field(
        None,
        description="what /v1/live counts (the protocol's rep_count): rep, initial_contact (steps) or "
        "single_leg_stance",
    )
    live_hold: bool = Field(description="/v1/live reports a hold timer (hold_s) for this exercise")


class ExerciseList(BaseModel):
    items: list[ExerciseOut]
