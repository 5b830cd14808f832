"""dead_letter v1: a message a service could not process, with the reason and the original bytes."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import EventModel
from schemas._parts import Part


class DeadLetterReason(StrEnum):
    """Stable reason codes; tools and alerts match on these, never on the text."""

    EMPTY = "empty"
    OVERSIZE = "oversize"
    NOT_JSON = "not_json"
    NOT_UTF8 = "not_utf8"
    UNKNOWN_SCHEMA = "unknown_schema"
    SCHEMA_INVALID = "schema_invalid"
    UPCAST_FAILED = "upcast_failed"
    NORMALIZATION_FAILED = "normalization_failed"
    HANDLER_ERROR = "handler_error"
    RETRIES_EXHAUSTED = "retries_exhausted"
    PUBLISH_FAILED = "publish_failed"


class OriginalHeader(Part):
    """One Kafka header of the original message."""

    key: str = Field(description="Header key.")
    value_b64: str | None = Field(description="Header value, base64; null for a null header value.")


class FieldError(Part):
    """One validation error, located by a JSON-path-like string."""

    loc: str = Field(description="Where, e.g. 'turn_index' or 'metadata.queue'.")
    msg: str = Field(description="What is wrong.")
    type: str = Field(description="Error type code, e.g. 'missing', 'int_parsing'.")


class DeadLetterV1(EventModel):
    """A failed message. Replaying `original_value_b64` to `source_topic` re-runs it."""

    schema_name: Literal["dead_letter"] = Field(default="dead_letter", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    reason_code: DeadLetterReason = Field(description="Stable machine-readable reason.")
    reason: str = Field(max_length=4000, description="Human-readable explanation of what was wrong.")
    field_errors: list[FieldError] = Field(default_factory=list, description="Field-level errors, for schema errors.")
    exception_type: str | None = Field(default=None, description="Qualified name of the exception, if one was raised.")
    service: str = Field(description="Service that dead-lettered the message.")
    source_topic: str = Field(description="Topic the message was consumed from.")
    source_partition: int = Field(ge=0, description="Partition it was consumed from.")
    source_offset: int = Field(ge=0, description="Its offset there.")
    source_timestamp: AwareDatetime | None = Field(default=None, description="Its Kafka timestamp.")
    original_key_b64: str | None = Field(description="Original key bytes, base64; null for a null key.")
    original_value_b64: str | None = Field(description="Original value bytes, base64; null for a null value.")
    original_value_size: int | None = Field(default=None, ge=0, description="Size of the original value in bytes.")
    original_value_sha256: str | None = Field(default=None, description="SHA-256 (hex) of the original value bytes.")
    original_value_truncated: bool = Field(
        default=False,
        description="True when original_value_b64 holds only the first bytes because the value was too large "
        "to fit in a dead-letter record; size and sha256 always describe the whole value.",
    )
    original_headers: list[OriginalHeader] = Field(default_factory=list, description="Original headers.")
    attempts: int = Field(default=1, ge=1, description="How many times processing was tried.")
