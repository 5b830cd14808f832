"""feedback v1: a human or downstream label for a prediction, produced by users."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import EventModel


class FeedbackV1(EventModel):
    """A label, rating or review decision about one prediction.

    Idempotency key: (prediction_event_id, label_source, label_name, label_version).
    """

    schema_name: Literal["feedback"] = Field(default="feedback", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    prediction_event_id: str = Field(description="event_id of the prediction the feedback is about; the Kafka key.")
    turn_id: str | None = Field(default=None, description="Id of the turn, when the client knows it.")
    label_source: Literal["human_review", "agent", "customer_survey", "qa_audit", "system"] = Field(
        description="Who gave the label."
    )
    label_name: str = Field(min_length=1, max_length=64, description="Task the label is for, e.g. 'intent'.")
    label_value: str = Field(max_length=128, description="The true label, e.g. 'billing_dispute'.")
    label_version: int = Field(default=1, ge=1, description="Revision of this label; a higher one supersedes.")
    rating: int | None = Field(default=None, ge=1, le=5, description="Optional 1-5 rating of the output.")
    review_decision: Literal["approve", "reject", "escalate"] | None = Field(
        default=None, description="Decision on a review request, when the feedback is one."
    )
    reviewer_id: str | None = Field(default=None, max_length=128, description="Pseudonymous reviewer id.")
    comment: str | None = Field(default=None, max_length=4000, description="Free-text comment (must hold no PII).")
