"""labeled_example v1: a prediction joined with its true label — training data for the next model."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import EventModel
from schemas._parts import Deployment


class LabeledExampleV1(EventModel):
    """One (input, prediction, true label) triple for one task and model version."""

    schema_name: Literal["labeled_example"] = Field(default="labeled_example", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn (raw event id).")
    prediction_event_id: str = Field(description="event_id of the joined prediction.")
    feedback_event_id: str = Field(description="event_id of the joined feedback.")
    task: str = Field(description="Task, e.g. 'intent'.")
    model_name: str = Field(description="Model that made the prediction.")
    model_version: str = Field(description="Version of that model.")
    deployment: Deployment = Field(description="Champion or challenger.")
    predicted_label: str = Field(description="What the model said.")
    true_label: str = Field(description="What the label source said.")
    confidence: float = Field(ge=0.0, le=1.0, description="Model confidence of its predicted label.")
    redacted_text: str = Field(description="Redacted input text.")
    label_source: str = Field(description="Who gave the label.")
    label_version: int = Field(ge=1, description="Revision of the label.")
    predicted_at: AwareDatetime = Field(description="When the prediction was made.")
    labeled_at: AwareDatetime = Field(description="When the label was given.")
    label_latency_s: float = Field(ge=0.0, description="labeled_at minus predicted_at, in seconds.")
