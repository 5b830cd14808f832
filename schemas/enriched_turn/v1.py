"""enriched_turn v1: the product — a redacted, scored turn that guardrails let through."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Channel, EventModel, Role
from schemas._parts import ModelOutput, Verdict, VerdictReason


class EnrichedTurnV1(EventModel):
    """A turn safe to consume downstream: redacted text, champion predictions and the guardrail verdict.

    Turns with verdict 'block' never appear on this topic.
    """

    schema_name: Literal["enriched_turn"] = Field(default="enriched_turn", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn (raw event id).")
    prediction_event_id: str = Field(description="event_id of the prediction event this verdict judged.")
    conversation_id: str = Field(description="Conversation id; also the Kafka key.")
    turn_index: int = Field(ge=0, description="0-based position of the turn in its conversation.")
    role: Role = Field(description="Who spoke or wrote the turn.")
    channel: Channel = Field(description="Medium of the conversation.")
    language: str = Field(description="Canonical BCP 47 tag or 'und'.")
    tenant_id: str = Field(description="Tenant id.")
    started_at: AwareDatetime | None = Field(default=None, description="When the turn started, in UTC.")
    ended_at: AwareDatetime | None = Field(default=None, description="When the turn ended, in UTC.")
    redacted_text: str = Field(description="Turn text with PII replaced by typed placeholders.")
    pii_types: list[str] = Field(default_factory=list, description="Kinds of PII that were redacted.")
    predictions: list[ModelOutput] = Field(description="Champion model outputs.")
    verdict: Literal[Verdict.PASS, Verdict.REDACT, Verdict.FLAG] = Field(
        description="Guardrail verdict ('block' never reaches this topic)."
    )
    reasons: list[VerdictReason] = Field(default_factory=list, description="Why the verdict is what it is.")
    policy_version: str = Field(description="Version of the guardrail policy that produced the verdict.")
    features_summary: dict[str, float] = Field(default_factory=dict, description="Selected numeric features.")
