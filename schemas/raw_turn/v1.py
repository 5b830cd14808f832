"""raw_turn v1: the legacy single-timestamp turn shape, still accepted on the raw topic and upcast to v2."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas._base import EventModel, MetadataValue


class RawTurnV1(EventModel):
    """A conversation turn as emitted by v1 clients (one timestamp, free-text speaker and medium)."""

    schema_name: Literal["raw_turn"] = Field(default="raw_turn", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    occurred_at: datetime = Field(  # type: ignore[assignment]
        description="When the turn was captured; naive values are taken as UTC by ingestion.",
    )
    conversation_id: str = Field(min_length=1, max_length=128, description="Conversation this turn belongs to.")
    turn_index: int = Field(ge=0, description="0-based position of the turn in its conversation.")
    speaker: str = Field(
        min_length=1, max_length=32,
        description="Who spoke: 'customer'/'caller', 'agent'/'rep', or 'bot'/'ivr' (case-insensitive).",
    )
    text: str = Field(description="What was said or written (transcript text).")
    timestamp: datetime = Field(description="When the turn ended; v1 has no separate start time.")
    medium: str = Field(default="phone", max_length=16, description="'phone', 'chat' or 'email'.")
    tenant: str = Field(min_length=1, max_length=64, description="Tenant (customer organisation) id.")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict, description="Free flat metadata.")
