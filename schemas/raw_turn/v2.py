"""raw_turn v2: a conversation turn as clients put it on the raw topic (the current version)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas._base import Channel, EventModel, MetadataValue, Role


class RawTurnV2(EventModel):
    """A conversation turn produced by a client system (ASR, chat platform, email gateway).

    Validation here is structural only; ingestion normalizes text, times and language and
    dead-letters what cannot be made valid.
    """

    schema_name: Literal["raw_turn"] = Field(default="raw_turn", description="Name of this event's schema.")
    schema_version: Literal[2] = Field(default=2, description="Major version of this event's schema.")
    occurred_at: datetime = Field(  # type: ignore[assignment]
        description="When the turn happened (usually its end); naive values are taken as UTC by ingestion.",
    )
    conversation_id: str = Field(
        min_length=1, max_length=128, description="Conversation this turn belongs to; also the Kafka key."
    )
    turn_index: int = Field(ge=0, le=1_000_000, description="0-based position of the turn in its conversation.")
    role: Role = Field(description="Who spoke or wrote the turn.")
    text: str = Field(description="What was said (ASR transcript) or written.")
    started_at: datetime = Field(description="When the turn started (ISO 8601; naive is taken as UTC).")
    ended_at: datetime = Field(description="When the turn ended (ISO 8601; naive is taken as UTC).")
    channel: Channel = Field(description="Medium of the conversation.")
    language: str | None = Field(
        default=None, max_length=35, description="BCP 47 language tag, e.g. 'en-US'; missing means undetermined."
    )
    tenant_id: str = Field(min_length=1, max_length=64, description="Tenant (customer organisation) id.")
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="Free flat metadata (queue, agent id, ASR engine, ...)."
    )
