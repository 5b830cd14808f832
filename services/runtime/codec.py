"""The consumer edge and the producer edge: bytes <-> schema models, exactly once each way.

Decoding checks, in this order, so each bad message gets the most precise reason: empty value,
size limit, UTF-8, JSON, top-level object, schema id (header and body must agree, and the topic must
accept it), field validation, upcast to the topic's current version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas import REGISTRY, EventModel, UnknownSchemaError
from schemas.dead_letter.v1 import DeadLetterReason, FieldError
from services.runtime.topics import TopicSpec, parse_schema_id

SCHEMA_HEADER = "sluice-schema"
CONTENT_TYPE_HEADER = "content-type"
PRODUCER_HEADER = "sluice-producer"
JSON_CONTENT_TYPE = b"application/json"

Headers = Sequence[tuple[str, bytes | None]]


@dataclass
class DecodeError(Exception):
    """A message that cannot become a valid event; becomes a dead letter with this reason."""

    code: DeadLetterReason
    reason: str
    field_errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code.value}: {self.reason}"


def header_value(headers: Headers | None, key: str) -> bytes | None:
    for header_key, value in headers or ():
        if header_key == key:
            return value
    return None


def field_errors_of(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(loc=".".join(str(part) for part in item["loc"]) or "(root)", msg=item["msg"], type=item["type"])
        for item in error.errors(include_url=False)
    ]


def summarize(errors: list[FieldError], limit: int = 5) -> str:
    shown = "; ".join(f"{e.loc}: {e.msg}" for e in errors[:limit])
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return f"{len(errors)} invalid field(s): {shown}{more}"


def decode(value: bytes | None, headers: Headers | None, spec: TopicSpec, max_bytes: int) -> EventModel:
    """Turn a message value into the topic's current schema model, or raise DecodeError."""
    return decode_with_source(value, headers, spec, max_bytes)[0]


def decode_with_source(
    value: bytes | None, headers: Headers | None, spec: TopicSpec, max_bytes: int
) -> tuple[EventModel, str]:
    """Like `decode`, and also the schema id the message arrived in (before any upcast)."""
    if not value:
        raise DecodeError(DeadLetterReason.EMPTY, "message value is empty" if value == b"" else "message value is null")
    if len(value) > max_bytes:
        raise DecodeError(DeadLetterReason.OVERSIZE, f"message value is {len(value)} bytes; the limit is {max_bytes}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(DeadLetterReason.NOT_UTF8, f"value is not UTF-8: {exc}") from None
    document = parse_json(text)
    if not isinstance(document, dict):
        raise DecodeError(
            DeadLetterReason.SCHEMA_INVALID, f"top-level JSON value must be an object, got {type(document).__name__}"
        )
    event = validate_document(document, headers, spec)
    return upcast_to_current(event, spec), event.schema_id()


def parse_json(text: str | bytes) -> object:
    """json.loads with every failure as DecodeError(NOT_JSON), deep nesting (RecursionError) included."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(DeadLetterReason.NOT_JSON, f"value is not JSON: {exc}") from None
    except RecursionError:
        raise DecodeError(DeadLetterReason.NOT_JSON, "value is JSON nested too deeply to parse") from None


def validate_document(document: dict, headers: Headers | None, spec: TopicSpec) -> EventModel:
    """Validate a parsed JSON object against the schema version it declares (which the topic must accept)."""
    model = _model_for(document, headers, spec)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = field_errors_of(exc)
        raise DecodeError(DeadLetterReason.SCHEMA_INVALID, summarize(errors), errors) from None


def upcast_to_current(event: EventModel, spec: TopicSpec) -> EventModel:
    current = spec.model()
    if type(event) is current:
        return event
    try:
        return REGISTRY.upcast(event, current.schema_key()[1])
    except (UnknownSchemaError, ValueError) as exc:
        raise DecodeError(DeadLetterReason.UPCAST_FAILED, f"cannot upcast {event.schema_id()}: {exc}") from None


def _model_for(document: dict, headers: Headers | None, spec: TopicSpec) -> type[EventModel]:
    accepted = spec.accepted_models()
    current_name, current_version = spec.model().schema_key()
    body_name = document.get("schema_name", current_name)
    body_version = document.get("schema_version", current_version)
    if not isinstance(body_name, str) or not isinstance(body_version, int) or isinstance(body_version, bool):
        raise DecodeError(DeadLetterReason.UNKNOWN_SCHEMA, "schema_name must be a string and schema_version an integer")
    header = header_value(headers, SCHEMA_HEADER)
    if header is not None:
        try:
            header_key = parse_schema_id(header.decode("utf-8", "replace"))
        except ValueError as exc:
            raise DecodeError(DeadLetterReason.UNKNOWN_SCHEMA, f"header {SCHEMA_HEADER}: {exc}") from None
        if "schema_name" in document or "schema_version" in document:
            if header_key != (body_name, body_version):
                raise DecodeError(
                    DeadLetterReason.UNKNOWN_SCHEMA,
                    f"header {SCHEMA_HEADER} says {header_key[0]}/v{header_key[1]} "
                    f"but the body says {body_name}/v{body_version}",
                )
        body_name, body_version = header_key
    model = accepted.get((body_name, body_version))
    if model is None:
        allowed = ", ".join(f"{n}/v{v}" for n, v in sorted(accepted))
        raise DecodeError(
            DeadLetterReason.UNKNOWN_SCHEMA,
            f"topic {spec.name} does not accept {body_name}/v{body_version} (accepts {allowed})",
        )
    return model


@dataclass(frozen=True)
class EncodedMessage:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def encode(event: EventModel, spec: TopicSpec, producer: str, now: datetime) -> EncodedMessage:
    """Stamp the envelope and serialize; the key comes from the contract's key field."""
    if not spec.internal and event.schema_key() not in spec.accepted_models():
        raise TypeError(f"topic {spec.name} carries {spec.schema_id}, not {event.schema_id()}")
    stamped = event.stamped(producer, now)
    key_value = getattr(stamped, spec.key)
    return EncodedMessage(
        key=None if key_value is None else str(key_value).encode("utf-8"),
        value=stamped.to_json_bytes(),
        headers=[
            (SCHEMA_HEADER, event.schema_id().encode("ascii")),
            (CONTENT_TYPE_HEADER, JSON_CONTENT_TYPE),
            (PRODUCER_HEADER, producer.encode("utf-8")),
        ],
    )
