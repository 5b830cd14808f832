"""The consumer edge and the producer edge: bytes <-> schema models, exactly once each way.

Decoding checks, in this order, so each bad message gets the most precise reason: empty value,
size limit, UTF-8, JSON, top-level object, schema id (header and body must agree, and the topic must
accept it), field validation, upcast to the topic's current version.

"JSON" means I-JSON (RFC 7493), the subset every reader agrees on: no NaN/Infinity, no number beyond
float range (or beyond Python's 4300 digits), no duplicate keys, no unpaired surrogate escapes. Python's
json accepts all four; each would otherwise reach a model, an output (NaN/inf serialize as null, a
surrogate not at all) or a reader that disagrees about which duplicate wins.
"""

from __future__ import annotations

import json
import re
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


class _NotIJson(ValueError):
    """Valid JSON syntax that I-JSON refuses (see the module docstring)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _NotIJson(f"duplicate key {ascii(duplicate)}")
    return document


def _no_constant(name: str) -> object:
    raise _NotIJson(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if number in (_INF, -_INF):
        raise _NotIJson(f"number {literal[:40]}{'...' if len(literal) > 40 else ''} is beyond float range")
    return number


_INF = float("inf")
# Only a \uD800-\uDFFF escape can make an unpaired surrogate; documents without one are not walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unpaired_surrogate(document: object) -> str | None:
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return item
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


# The float check costs a Python call per float literal: little for events (the features stage does not
# publish its embedding as floats; predictions carry it as base64), which is where the cost would show.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite_float)


def parse_json(text: str | bytes) -> object:
    """json.loads for I-JSON, every failure as DecodeError(NOT_JSON), deep nesting (RecursionError) included."""
    from_bytes = isinstance(text, bytes)
    if from_bytes:  # as json.loads does it: UTF-8/16/32 by detection, surrogates passed through
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    try:
        if not from_bytes and text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        document = _DECODER.decode(text)
    except ValueError as exc:  # JSONDecodeError, I-JSON refusals, ints over 4300 digits
        raise DecodeError(DeadLetterReason.NOT_JSON, f"value is not JSON: {exc}") from None
    except RecursionError:
        raise DecodeError(DeadLetterReason.NOT_JSON, "value is JSON nested too deeply to parse") from None
    if from_bytes or _SURROGATE_ESCAPE.search(text):
        unpaired = _unpaired_surrogate(document)
        if unpaired is not None:
            raise DecodeError(DeadLetterReason.NOT_JSON,
                              f"value is not JSON: string {ascii(unpaired[:80])} holds an unpaired surrogate")
    return document


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
    named = list(dict.fromkeys(v for k, v in headers or () if k == SCHEMA_HEADER and v is not None))
    if len(named) > 1:
        raise DecodeError(DeadLetterReason.UNKNOWN_SCHEMA,
                          f"{len(named)} different {SCHEMA_HEADER} headers: {ascii(named[:4])[:300]}")
    header = named[0] if named else None
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
