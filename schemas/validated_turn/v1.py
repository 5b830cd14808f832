"""validated_turn v1: a raw turn that passed ingestion's validation and normalization."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Channel, EventModel, MetadataValue, Role


class ValidatedTurnV1(EventModel):
    """A normalized conversation turn: NFC text with collapsed whitespace, UTC times, a canonical language tag."""

    schema_name: Literal["validated_turn"] = Field(default="validated_turn", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn: the event_id of the raw turn it came from; stable across stages.")
    conversation_id: str = Field(min_length=1, max_length=128, description="Conversation id; also the Kafka key.")
    turn_index: int = Field(ge=0, description="0-based position of the turn in its conversation.")
    role: Role = Field(description="Who spoke or wrote the turn.")
    text: str = Field(min_length=1, description="Normalized text: Unicode NFC, whitespace collapsed, trimmed.")
    started_at: AwareDatetime = Field(description="When the turn started, in UTC.")
    ended_at: AwareDatetime = Field(description="When the turn ended, in UTC (never before started_at).")
    channel: Channel = Field(description="Medium of the conversation.")
    language: str = Field(description="Canonical BCP 47 tag (e.g. 'en-US'), or 'und' when the client gave none.")
    tenant_id: str = Field(min_length=1, max_length=64, description="Tenant (customer organisation) id.")
    metadata: dict[str, MetadataValue] = Field(default_factory=dict, description="Client metadata, unchanged.")
    source_schema: str = Field(description="Schema id the raw event arrived in, e.g. 'raw_turn/v1' when upcast.")
    normalizations: list[str] = Field(
        default_factory=list,
        description="What ingestion changed, e.g. 'text_nfc', 'whitespace', 'timezone_assumed_utc', 'language_case'.",
    )
    received_at: AwareDatetime = Field(description="When ingestion processed the raw event.")
