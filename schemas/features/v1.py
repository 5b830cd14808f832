"""features v1: what the models need for one turn, with personal data already removed."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Channel, EventModel, Role
from schemas._parts import InjectionSignal, PiiSpan


class FeaturesV1(EventModel):
    """Model inputs for one turn. Only redacted text leaves this stage."""

    schema_name: Literal["features"] = Field(default="features", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn (raw event id).")
    conversation_id: str = Field(description="Conversation id; also the Kafka key.")
    turn_index: int = Field(ge=0, description="0-based position of the turn in its conversation.")
    role: Role = Field(description="Who spoke or wrote the turn.")
    channel: Channel = Field(description="Medium of the conversation.")
    language: str = Field(description="Canonical BCP 47 tag or 'und'.")
    tenant_id: str = Field(description="Tenant id.")
    started_at: AwareDatetime = Field(description="When the turn started, in UTC.")
    ended_at: AwareDatetime = Field(description="When the turn ended, in UTC.")
    redacted_text: str = Field(description="Turn text with each PII span replaced by a typed placeholder like [EMAIL].")
    pii: list[PiiSpan] = Field(default_factory=list, description="PII spans found (offsets into the original text).")
    numeric: dict[str, float] = Field(
        default_factory=dict,
        description="Numeric features for models and drift monitoring (e.g. char_count, word_count, duration_s).",
    )
    embedding: list[float] | None = Field(default=None, description="Sentence embedding of the redacted text.")
    embedding_model: str | None = Field(default=None, description="Name and version of the embedding model.")
    context_turn_ids: list[str] = Field(
        default_factory=list, description="Earlier turns of the conversation the features took into account."
    )
    context_text: str = Field(
        default="",
        description="Redacted text of those earlier turns (at most a few, oldest first), one '<role>: <text>' line "
        "each; empty for a conversation's first turn. Models read it to judge a turn in its conversation.",
    )
    injection: InjectionSignal | None = Field(
        default=None,
        description="Prompt-injection signal on the original text of a customer turn; None where not checked "
        "(agent and bot turns, or the check switched off).",
    )
