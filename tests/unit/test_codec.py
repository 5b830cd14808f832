"""services.runtime.codec against the real contract: every dead-letter reason decode can give, and encode."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from schemas.dead_letter.v1 import DeadLetterReason
from schemas.examples import EXAMPLES
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.ingestion.handlers import IngestionRules, make_raw_turn_handler
from services.runtime.codec import (
    CONTENT_TYPE_HEADER,
    PRODUCER_HEADER,
    SCHEMA_HEADER,
    DecodeError,
    decode,
    decode_with_source,
    encode,
    header_value,
)
from services.runtime.handler import HandlerContext, Rejected
from services.runtime.sample_traffic import MALFORMED_KINDS, malformed_records, valid_records
from services.runtime.topics import DEFAULT_CONTRACT, load_contract

CONTRACT = load_contract(DEFAULT_CONTRACT)
RAW = CONTRACT.get("turns.raw")
VALIDATED = CONTRACT.get("turns.validated")
MAX_BYTES = 1_048_576
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

# Kinds that are well-formed raw turns and only the ingestion handler refuses.
HANDLER_ONLY_KINDS = {"blank_text", "ended_before_started", "bad_language"}
DECODE_LEVEL_REASONS = {
    DeadLetterReason.EMPTY, DeadLetterReason.OVERSIZE, DeadLetterReason.NOT_UTF8, DeadLetterReason.NOT_JSON,
    DeadLetterReason.UNKNOWN_SCHEMA, DeadLetterReason.UPCAST_FAILED, DeadLetterReason.SCHEMA_INVALID,
}


def _v2_body(**changes) -> dict:
    body = {
        "schema_name": "raw_turn", "schema_version": 2, "event_id": "turn-0001",
        "occurred_at": "2026-11-27T09:30:17+00:00", "conversation_id": "call-42", "turn_index": 4,
        "role": "customer", "text": "hello there", "started_at": "2026-11-27T09:30:12+00:00",
        "ended_at": "2026-11-27T09:30:17+00:00", "channel": "voice", "language": "en-US",
        "tenant_id": "acme", "metadata": {"queue": "billing"},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()


def _v1_body(**changes) -> dict:
    body = {
        "schema_name": "raw_turn", "schema_version": 1, "event_id": "legacy-0001",
        "occurred_at": "2026-11-27T09:30:17+00:00", "conversation_id": "call-42", "turn_index": 4,
        "speaker": "Caller", "text": "hello there", "timestamp": "2026-11-27T09:30:17+00:00",
        "medium": "phone", "tenant": "acme",
    }
    body.update(changes)
    return body


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


def _decode_error(value: bytes | None, headers=(), max_bytes: int = MAX_BYTES) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(value, list(headers), RAW, max_bytes)
    return info.value


@pytest.mark.parametrize("value", [b"", None], ids=["empty", "null"])
def test_empty_or_null_value_is_empty(value):
    assert _decode_error(value).code is DeadLetterReason.EMPTY


def test_value_over_the_limit_is_oversize_before_it_is_parsed():
    assert _decode_error(b"x" * 101, max_bytes=100).code is DeadLetterReason.OVERSIZE


def test_value_exactly_at_the_limit_is_parsed():
    body = _bytes(_v2_body())
    assert isinstance(decode(body, [], RAW, len(body)), RawTurnV2)


def test_invalid_utf8_is_not_utf8():
    assert _decode_error(b'{"text": "caf\xe9"}').code is DeadLetterReason.NOT_UTF8


def test_text_that_is_not_json_is_not_json():
    assert _decode_error(b"abc").code is DeadLetterReason.NOT_JSON


def test_a_json_array_is_schema_invalid():
    error = _decode_error(_bytes([_v2_body()]))
    assert error.code is DeadLetterReason.SCHEMA_INVALID
    assert "list" in error.reason


def test_a_missing_field_is_schema_invalid_with_a_field_error_naming_it():
    error = _decode_error(_bytes(_v2_body(tenant_id=_DROP)))
    assert error.code is DeadLetterReason.SCHEMA_INVALID
    assert [(e.loc, e.type) for e in error.field_errors] == [("tenant_id", "missing")]


def test_nested_field_errors_are_located_with_dots():
    error = _decode_error(_bytes(_v2_body(metadata={"queue": {"nested": "object"}})))
    assert error.code is DeadLetterReason.SCHEMA_INVALID
    assert error.field_errors
    assert all(e.loc.startswith("metadata.queue") for e in error.field_errors), error.field_errors


def test_an_unknown_schema_version_is_unknown_schema():
    error = _decode_error(_bytes(_v2_body(schema_version=9)))
    assert error.code is DeadLetterReason.UNKNOWN_SCHEMA
    assert "raw_turn/v9" in error.reason


def test_another_topics_schema_is_unknown_schema_on_the_raw_topic():
    assert _decode_error(_bytes(_v2_body(schema_name="feedback"))).code is DeadLetterReason.UNKNOWN_SCHEMA


def test_a_schema_header_that_contradicts_the_body_is_unknown_schema():
    error = _decode_error(_bytes(_v2_body()), headers=[(SCHEMA_HEADER, b"raw_turn/v1")])
    assert error.code is DeadLetterReason.UNKNOWN_SCHEMA
    assert "raw_turn/v1" in error.reason and "raw_turn/v2" in error.reason


def test_a_malformed_schema_header_is_unknown_schema():
    assert _decode_error(_bytes(_v2_body()), headers=[(SCHEMA_HEADER, b"raw_turn")]).code is (
        DeadLetterReason.UNKNOWN_SCHEMA
    )


def test_a_boolean_schema_version_is_unknown_schema():
    assert _decode_error(_bytes(_v2_body(schema_version=True))).code is DeadLetterReason.UNKNOWN_SCHEMA


def test_a_v1_body_is_decoded_and_upcast_to_v2():
    event, source = decode_with_source(_bytes(_v1_body()), [(SCHEMA_HEADER, b"raw_turn/v1")], RAW, MAX_BYTES)
    assert isinstance(event, RawTurnV2)
    assert source == "raw_turn/v1"
    assert event.role.value == "customer"
    assert event.channel.value == "voice"
    assert event.tenant_id == "acme"
    assert "upcast_from" not in event.metadata


def test_a_v1_body_whose_speaker_has_no_role_is_upcast_failed():
    error = _decode_error(_bytes(_v1_body(speaker="supervisor")))
    assert error.code is DeadLetterReason.UPCAST_FAILED


def test_a_body_without_schema_fields_decodes_as_the_topics_current_version():
    body = _v2_body(schema_name=_DROP, schema_version=_DROP)
    event = decode(_bytes(body), [], RAW, MAX_BYTES)
    assert type(event) is RawTurnV2
    assert event.event_id == "turn-0001"


def test_a_body_without_schema_fields_follows_the_schema_header():
    body = {k: v for k, v in _v1_body().items() if k not in ("schema_name", "schema_version")}
    event, source = decode_with_source(_bytes(body), [(SCHEMA_HEADER, b"raw_turn/v1")], RAW, MAX_BYTES)
    assert isinstance(event, RawTurnV2)
    assert source == "raw_turn/v1"


def test_a_v1_shaped_body_without_schema_fields_or_header_is_validated_as_v2_and_refused():
    body = {k: v for k, v in _v1_body().items() if k not in ("schema_name", "schema_version")}
    error = _decode_error(_bytes(body))
    assert error.code is DeadLetterReason.SCHEMA_INVALID
    assert {"role", "channel", "tenant_id", "started_at", "ended_at"} <= {e.loc for e in error.field_errors}


def test_encode_keys_by_conversation_id_sets_headers_and_stamps_the_envelope():
    event = RawTurnV2.model_validate(_v2_body())
    assert event.producer is None and event.produced_at is None

    encoded = encode(event, RAW, "ingestion-http", NOW)

    assert encoded.key == b"call-42"
    assert header_value(encoded.headers, SCHEMA_HEADER) == b"raw_turn/v2"
    assert header_value(encoded.headers, CONTENT_TYPE_HEADER) == b"application/json"
    assert header_value(encoded.headers, PRODUCER_HEADER) == b"ingestion-http"
    published = RawTurnV2.model_validate_json(encoded.value)
    assert published.producer == "ingestion-http"
    assert published.produced_at == NOW
    assert published.model_copy(update={"producer": None, "produced_at": None}) == event


def test_encode_then_decode_returns_the_stamped_event():
    event = RawTurnV2.model_validate(_v2_body())
    encoded = encode(event, RAW, "clients", NOW)
    assert decode(encoded.value, encoded.headers, RAW, MAX_BYTES) == event.stamped("clients", NOW)


def test_encode_refuses_an_event_of_a_schema_the_topic_does_not_carry():
    validated = next(e for e in EXAMPLES if isinstance(e, ValidatedTurnV1))
    with pytest.raises(TypeError, match="turns.raw"):
        encode(validated, RAW, "ingestion", NOW)


def test_encode_accepts_an_older_schema_version_the_topic_accepts():
    legacy = next(e for e in EXAMPLES if isinstance(e, RawTurnV1))
    encoded = encode(legacy, RAW, "clients", NOW)
    assert header_value(encoded.headers, SCHEMA_HEADER) == b"raw_turn/v1"


def _context() -> HandlerContext:
    return HandlerContext(service="ingestion", now=NOW, source_topic="turns.raw", partition=0, offset=0)


def test_every_sample_valid_record_decodes_and_is_accepted_by_ingestion():
    handler = make_raw_turn_handler(IngestionRules())
    records = valid_records(120, legacy_share=0.3)
    schemas_seen = {header_value(r.headers, SCHEMA_HEADER) for r in records}
    assert schemas_seen == {b"raw_turn/v1", b"raw_turn/v2"}
    for record in records:
        event = decode(record.value, record.headers, RAW, MAX_BYTES)
        assert isinstance(event, RawTurnV2)
        assert event.event_id == record.event_id
        result = handler(event, {}, _context())
        assert [o.topic for o in result.outputs] == ["turns.validated"]


MALFORMED = malformed_records(len(MALFORMED_KINDS) * 2, max_message_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("kind", "record"),
    [(MALFORMED_KINDS[i % len(MALFORMED_KINDS)], r) for i, r in enumerate(MALFORMED)],
    ids=[f"{MALFORMED_KINDS[i % len(MALFORMED_KINDS)]}-{i}" for i in range(len(MALFORMED))],
)
def test_every_sample_malformed_record_gets_its_expected_reason(kind, record):
    assert record.expected in DECODE_LEVEL_REASONS
    handler = make_raw_turn_handler(IngestionRules())
    if kind in HANDLER_ONLY_KINDS:
        event = decode(record.value, record.headers, RAW, MAX_BYTES)
        with pytest.raises(Rejected) as info:
            handler(event, {}, _context())
        assert info.value.code is record.expected
    else:
        with pytest.raises(DecodeError) as info:
            decode(record.value, record.headers, RAW, MAX_BYTES)
        assert info.value.code is record.expected, info.value.reason


def test_the_malformed_sample_covers_every_kind_twice():
    assert len(MALFORMED) == 2 * len(MALFORMED_KINDS)
    assert HANDLER_ONLY_KINDS <= set(MALFORMED_KINDS)


def test_decoding_onto_another_topic_uses_that_topics_schema():
    validated = next(e for e in EXAMPLES if isinstance(e, ValidatedTurnV1))
    assert decode(validated.to_json_bytes(), [], VALIDATED, MAX_BYTES) == validated
    with pytest.raises(DecodeError) as info:
        decode(_bytes(_v2_body()), [], VALIDATED, MAX_BYTES)
    assert info.value.code is DeadLetterReason.UNKNOWN_SCHEMA


DEEPLY_NESTED_JSON = [b"[" * 100_000, b'{"a":' * 100_000]


@pytest.mark.parametrize("value", DEEPLY_NESTED_JSON, ids=["nested-arrays", "nested-objects"])
def test_deeply_nested_json_under_the_size_limit_is_a_decode_error(value):
    assert len(value) < MAX_BYTES
    with pytest.raises(DecodeError) as info:
        decode(value, [], RAW, MAX_BYTES)
    assert info.value.code in (DeadLetterReason.NOT_JSON, DeadLetterReason.SCHEMA_INVALID)
