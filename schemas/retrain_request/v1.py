"""retrain_request v1: confirmed performance drift asks for a new model version."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import EventModel


class RetrainRequestV1(EventModel):
    """A request to retrain one model, with the evidence that triggered it."""

    schema_name: Literal["retrain_request"] = Field(default="retrain_request", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    model_name: str = Field(description="Model to retrain.")
    model_version: str = Field(description="Version whose performance drifted.")
    task: str = Field(description="Task of the model.")
    reason: str = Field(description="Human-readable reason.")
    alert_event_ids: list[str] = Field(description="Drift alerts that confirmed the drift.")
    labeled_examples_available: int = Field(ge=0, description="Labeled examples available for training so far.")
