"""feedback_join v1: a prediction snapshot or a label, re-keyed by prediction event id (feedback-internal topic).

The feedback service's join needs a prediction and the feedback about it in one place, but predictions are
keyed by conversation and feedback by prediction: both are re-keyed by prediction_event_id into one topic of
these, consumed by the join with its state.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas._base import EventModel
from schemas._parts import Deployment


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SnapshotOutput(_Part):
    """One model output of the prediction, without its score vector."""

    task: str = Field(min_length=1, max_length=64, description="Task name, e.g. 'intent'.")
    model_name: str = Field(min_length=1, max_length=128, description="Model that made the output.")
    model_version: str = Field(min_length=1, max_length=64, description="Version of that model.")
    deployment: Deployment = Field(description="Champion (served) or challenger (shadow).")
    label: str = Field(max_length=128, description="Predicted label.")
    confidence: float = Field(ge=0.0, le=1.0, description="Confidence of the predicted label.")


class PredictionSnapshot(_Part):
    """What the join keeps of a prediction: ids, tenant, time, redacted text and every model output."""

    turn_id: str = Field(description="Id of the turn (raw event id).")
    conversation_id: str = Field(description="Conversation id.")
    tenant_id: str = Field(description="Tenant id.")
    predicted_at: AwareDatetime = Field(description="occurred_at of the prediction; buckets its metrics.")
    redacted_text: str = Field(description="Redacted turn text the models saw (never the original).")
    outputs: list[SnapshotOutput] = Field(description="Every model output, champion and shadow challengers.")


class LabelFact(_Part):
    """A label, rating or review decision from one feedback event (its free-text comment is not carried)."""

    feedback_event_id: str = Field(description="event_id of the feedback event.")
    turn_id: str | None = Field(default=None, description="Turn id, when the client gave one.")
    label_source: str = Field(description="Who gave the label (feedback's label_source).")
    label_name: str = Field(description="Task the label is for, e.g. 'intent'.")
    label_value: str = Field(description="The true label; empty for a rating or review decision without a label.")
    label_version: int = Field(ge=1, description="Revision of the label; a higher one supersedes.")
    rating: int | None = Field(default=None, ge=1, le=5, description="Optional 1-5 rating of the output.")
    review_decision: str | None = Field(default=None, description="approve / reject / escalate, when given.")
    reviewer_id: str | None = Field(default=None, description="Pseudonymous reviewer id.")
    labeled_at: AwareDatetime = Field(description="occurred_at of the feedback event.")


class FeedbackJoinV1(EventModel):
    """Exactly one of `prediction` (kind 'prediction') or `label` (kind 'label') is set."""

    schema_name: Literal["feedback_join"] = Field(default="feedback_join", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    prediction_event_id: str = Field(description="event_id of the prediction concerned; the Kafka key.")
    kind: Literal["prediction", "label"] = Field(description="Whether this carries a prediction or a label.")
    prediction: PredictionSnapshot | None = Field(default=None, description="The prediction, for kind 'prediction'.")
    label: LabelFact | None = Field(default=None, description="The label, rating or decision, for kind 'label'.")
