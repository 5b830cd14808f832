"""review_request v1: a turn a human must look at (flagged, blocked or low-confidence)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import EventModel
from schemas._parts import ModelOutput, Verdict, VerdictReason


class ReviewRequestV1(EventModel):
    """A request for human review; feedback on it comes back keyed by prediction_event_id."""

    schema_name: Literal["review_request"] = Field(default="review_request", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn (raw event id).")
    prediction_event_id: str = Field(description="event_id of the prediction event under review.")
    conversation_id: str = Field(description="Conversation id; also the Kafka key.")
    tenant_id: str = Field(description="Tenant id.")
    verdict: Verdict = Field(description="Verdict that caused the review (flag or block).")
    reasons: list[VerdictReason] = Field(description="Why the turn needs review.")
    redacted_text: str = Field(description="Redacted turn text (reviewers never see raw PII).")
    predictions: list[ModelOutput] = Field(default_factory=list, description="All model outputs, challengers included.")
    policy_version: str = Field(description="Guardrail policy version.")
    priority: Literal["low", "normal", "high"] = Field(default="normal", description="Review queue priority.")
