"""Building blocks shared by every event schema: the envelope and the common vocabularies.

Every event on every Sluice topic is one JSON object whose top-level fields start with the envelope
(`event_id`, `schema_name`, `schema_version`, `occurred_at`, `produced_at`, `producer`). Models are
frozen: an event is a fact, not a record to mutate.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"

# JSON scalars allowed in free-form metadata maps: nested objects would make drift and
# contract checks on metadata meaningless, so metadata stays flat.
MetadataValue = Union[str, int, float, bool, None]


class EventModel(BaseModel):
    """Base of all event schemas: the envelope every message carries."""

    # Unknown fields are ignored rather than refused: within one schema version, producers may add
    # optional fields before every consumer is upgraded (see contracts/README.md).
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    event_id: str = Field(
        pattern=EVENT_ID_PATTERN,
        description="Unique id of this event (1-128 chars of letters, digits, '.', '_', ':', '-'). "
        "Derived events use a deterministic id so that reprocessing republishes the same id.",
    )
    occurred_at: AwareDatetime = Field(
        description="When the fact this event describes happened (timezone-aware, ISO 8601).",
    )
    produced_at: AwareDatetime | None = Field(
        default=None,
        description="When the producer published this event; stamped by the Sluice runtime on publish.",
    )
    producer: str | None = Field(
        default=None,
        max_length=128,
        description="Name of the service or client that published this event; stamped by the Sluice runtime.",
    )

    # Each concrete schema declares `schema_name: Literal[...]` and `schema_version: Literal[...]`
    # with defaults, so every message names its own schema even without Kafka headers.

    @classmethod
    def schema_key(cls) -> tuple[str, int]:
        return cls.model_fields["schema_name"].default, cls.model_fields["schema_version"].default

    @classmethod
    def schema_id(cls) -> str:
        """Identifier carried in the `sluice-schema` Kafka header, e.g. `validated_turn/v1`."""
        name, version = cls.schema_key()
        return f"{name}/v{version}"

    def stamped(self, producer: str, produced_at: datetime) -> "EventModel":
        """A copy carrying the publishing service and time (the envelope's producer fields)."""
        return self.model_copy(update={"producer": producer, "produced_at": produced_at})

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode("utf-8")


class Role(StrEnum):
    """Who spoke or wrote a turn."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


class Channel(StrEnum):
    """Medium the conversation happens on."""

    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
