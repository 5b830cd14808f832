"""Ingestion's pure logic: text, language and time normalization, the raw-turn handler, HTTP validation."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from schemas import REGISTRY, Role
from schemas.dead_letter.v1 import DeadLetterReason
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.ingestion.handlers import (
    HttpRejection,
    IngestionRules,
    canonical_language,
    make_raw_turn_handler,
    normalize_text,
    to_utc,
    validate_http_turns,
)
from services.runtime.handler import HandlerContext, HandlerResult, Rejected
from services.runtime.topics import DEFAULT_CONTRACT, load_contract

RAW = load_contract(DEFAULT_CONTRACT).get("turns.raw")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 27, 9, 30, 12, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 27, 9, 30, 17, tzinfo=timezone.utc)
RULES = IngestionRules()
CONTEXT = HandlerContext(service="ingestion", now=NOW, source_topic="turns.raw", partition=1, offset=42)


# --- normalize_text ------------------------------------------------------------------------------

def test_normalize_text_composes_to_nfc():
    text, changes = normalize_text("caf" + "e\u0301")
    assert text == "caf\u00e9"
    assert changes == ["text_nfc"]


def test_normalize_text_removes_zero_width_and_nul_characters():
    text, changes = normalize_text("he\u200bllo\x00 world\ufeff")
    assert text == "hello world"
    assert changes == ["control_chars_removed"]


def test_normalize_text_collapses_tabs_newlines_and_nbsp_and_trims():
    text, changes = normalize_text("  hello\t\tthere\n\u00a0 friend \r\n")
    assert text == "hello there friend"
    assert changes == ["whitespace"]


def test_normalize_text_reports_every_kind_of_change_in_order():
    _, changes = normalize_text(" e\u0301\u200b  x ")
    assert changes == ["text_nfc", "control_chars_removed", "whitespace"]


def test_normalize_text_leaves_clean_text_unchanged_and_reports_nothing():
    assert normalize_text("already clean, café.") == ("already clean, café.", [])


# --- canonical_language --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en_us", ("en-US", ["language_case"])),
        ("ZH-hant-tw", ("zh-Hant-TW", ["language_case"])),
        ("en-US", ("en-US", [])),
        ("es-419", ("es-419", [])),
        ("FR", ("fr", ["language_case"])),
        (None, ("und", ["language_undetermined"])),
        ("   ", ("und", ["language_undetermined"])),
        ("und", ("und", [])),
        ("UND", ("und", ["language_case"])),
    ],
)
def test_canonical_language(tag, expected):
    assert canonical_language(tag) == expected


@pytest.mark.parametrize("tag", ["english please", "e", "en-USA-x", "12-34"])
def test_canonical_language_rejects_what_is_not_a_bcp47_tag(tag):
    with pytest.raises(Rejected) as info:
        canonical_language(tag)
    assert info.value.code is DeadLetterReason.SCHEMA_INVALID
    assert [e.loc for e in info.value.field_errors] == ["language"]


# --- to_utc --------------------------------------------------------------------------------------

def test_to_utc_takes_a_naive_time_as_utc_and_says_so():
    value, changes = to_utc(datetime(2026, 11, 27, 9, 30), "started_at", RULES)
    assert value == datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    assert value.utcoffset() == timedelta(0)
    assert changes == ["timezone_assumed_utc"]


def test_to_utc_converts_an_offset_time_to_utc():
    plus_two = timezone(timedelta(hours=2))
    value, changes = to_utc(datetime(2026, 11, 27, 11, 30, tzinfo=plus_two), "started_at", RULES)
    assert value.tzinfo is timezone.utc
    assert (value.hour, value.minute) == (9, 30)
    assert changes == ["timezone_converted"]


def test_to_utc_keeps_a_utc_time_without_reporting_a_change():
    assert to_utc(T0, "started_at", RULES) == (T0, [])


def test_to_utc_refuses_a_naive_time_when_configured_to():
    strict = IngestionRules(assume_utc_for_naive_times=False)
    with pytest.raises(Rejected) as info:
        to_utc(datetime(2026, 11, 27, 9, 30), "ended_at", strict)
    assert info.value.code is DeadLetterReason.SCHEMA_INVALID
    assert [(e.loc, e.type) for e in info.value.field_errors] == [("ended_at", "naive_datetime")]


# --- the raw-turn handler ------------------------------------------------------------------------

def _raw(**changes) -> RawTurnV2:
    fields = dict(
        event_id="turn-0001", occurred_at=T1, conversation_id="call-42", turn_index=4, role=Role.CUSTOMER,
        text="  hello   there ", started_at=T0, ended_at=T1, channel="voice", language="en_us",
        tenant_id="acme", metadata={"queue": "billing"},
    )
    return RawTurnV2(**{**fields, **changes})


def _handle(event, seen=None, rules: IngestionRules = RULES, context: HandlerContext = CONTEXT) -> HandlerResult:
    return make_raw_turn_handler(rules)(event, {} if seen is None else seen, context)


def _validated(result: HandlerResult) -> ValidatedTurnV1:
    assert len(result.outputs) == 1
    output = result.outputs[0]
    assert output.topic == "turns.validated"
    assert isinstance(output.event, ValidatedTurnV1)
    return output.event


def test_handler_publishes_one_normalized_validated_turn():
    validated = _validated(_handle(_raw()))
    assert validated.turn_id == "turn-0001"
    assert validated.text == "hello there"
    assert validated.language == "en-US"
    assert validated.source_schema == "raw_turn/v2"
    assert validated.received_at == NOW
    assert validated.normalizations == ["language_case", "whitespace"]
    assert (validated.conversation_id, validated.turn_index, validated.tenant_id) == ("call-42", 4, "acme")


def test_handler_records_the_raw_event_id_as_seen():
    result = _handle(_raw())
    assert set(result.state_updates) == {"turn-0001"}
    assert result.skipped is None


def test_handler_derives_the_same_validated_event_id_for_the_same_input():
    assert _validated(_handle(_raw())).event_id == _validated(_handle(_raw())).event_id


def test_handler_derives_different_validated_event_ids_for_different_turns():
    first = _validated(_handle(_raw(event_id="turn-0001")))
    second = _validated(_handle(_raw(event_id="turn-0002")))
    assert first.event_id != second.event_id
    assert first.event_id != first.turn_id


def test_handler_skips_an_event_id_already_seen_as_a_duplicate():
    result = _handle(_raw(), seen={"turn-0001": 1})
    assert result.outputs == ()
    assert result.skipped == "duplicate"
    assert dict(result.state_updates) == {}


def test_handler_does_not_treat_another_seen_id_as_a_duplicate():
    result = _handle(_raw(), seen={"turn-0999": 1})
    assert result.skipped is None
    assert len(result.outputs) == 1


def test_handler_rejects_text_over_the_limit_as_oversize():
    with pytest.raises(Rejected) as info:
        _handle(_raw(text="a" * 11), rules=IngestionRules(max_text_chars=10))
    assert info.value.code is DeadLetterReason.OVERSIZE


def test_handler_accepts_text_exactly_at_the_limit_after_normalization():
    validated = _validated(_handle(_raw(text="  " + "a" * 10 + "  "), rules=IngestionRules(max_text_chars=10)))
    assert validated.text == "a" * 10


def test_handler_rejects_text_that_is_blank_after_normalization():
    with pytest.raises(Rejected) as info:
        _handle(_raw(text=" \u200b\t\n "))
    assert info.value.code is DeadLetterReason.SCHEMA_INVALID
    assert [e.loc for e in info.value.field_errors] == ["text"]


def test_handler_rejects_a_turn_that_ends_before_it_starts():
    with pytest.raises(Rejected) as info:
        _handle(_raw(started_at=T1, ended_at=T0))
    assert info.value.code is DeadLetterReason.SCHEMA_INVALID
    assert [e.loc for e in info.value.field_errors] == ["ended_at"]


def test_handler_compares_start_and_end_in_utc():
    # 10:30+02:00 is 08:30Z, before the 09:30:12Z start although its wall-clock reads later.
    ended = datetime(2026, 11, 27, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(Rejected):
        _handle(_raw(ended_at=ended))


def test_handler_rejects_a_bad_language_tag():
    with pytest.raises(Rejected) as info:
        _handle(_raw(language="english please"))
    assert info.value.code is DeadLetterReason.SCHEMA_INVALID


def test_handler_marks_an_upcast_v1_turn_with_its_source_schema():
    legacy = RawTurnV1(
        event_id="legacy-1", occurred_at=T1, conversation_id="call-7", turn_index=0, speaker="rep",
        text="thanks for calling", timestamp=T1, medium="chat", tenant="acme",
    )
    context = dataclasses.replace(CONTEXT, source_schema="raw_turn/v1")
    validated = _validated(_handle(REGISTRY.upcast(legacy, 2), context=context))
    assert validated.source_schema == "raw_turn/v1"
    assert validated.role is Role.AGENT
    assert validated.language == "und"
    assert validated.started_at == validated.ended_at == T1


def test_handler_converts_naive_times_to_utc_and_lists_the_change():
    naive = _raw(started_at=T0.replace(tzinfo=None), ended_at=T1.replace(tzinfo=None), language="en-US",
                 text="hello")
    validated = _validated(_handle(naive))
    assert validated.started_at == T0
    assert validated.normalizations == ["timezone_assumed_utc"]


# --- validate_http_turns -------------------------------------------------------------------------

def _http_turn(**changes) -> dict:
    turn = {
        "event_id": "http-0001", "occurred_at": "2026-11-27T09:30:17Z", "conversation_id": "chat-9",
        "turn_index": 0, "role": "customer", "text": "hi", "started_at": "2026-11-27T09:30:12Z",
        "ended_at": "2026-11-27T09:30:17Z", "channel": "chat", "tenant_id": "acme",
    }
    turn.update(changes)
    return turn


class _Ids:
    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        self.issued.append(f"generated-{len(self.issued) + 1}")
        return self.issued[-1]


def _validate(document, content_type: str = "application/json", max_batch: int = 10, ids=None):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return validate_http_turns(body, content_type, RAW, max_batch, ids or _Ids())


def test_http_accepts_a_single_turn_object():
    result = _validate(_http_turn())
    assert isinstance(result, list)
    assert [type(e) for e in result] == [RawTurnV2]
    assert result[0].event_id == "http-0001"


def test_http_accepts_an_array_of_turns():
    result = _validate([_http_turn(event_id="a-1"), _http_turn(event_id="a-2", turn_index=1)])
    assert isinstance(result, list)
    assert [e.event_id for e in result] == ["a-1", "a-2"]


def test_http_accepts_a_content_type_with_parameters():
    assert isinstance(_validate(_http_turn(), content_type="Application/JSON; charset=utf-8"), list)


def test_http_gives_a_turn_without_event_id_one_from_the_factory():
    ids = _Ids()
    turn = _http_turn()
    del turn["event_id"]
    result = _validate([turn, _http_turn(event_id="kept")], ids=ids)
    assert isinstance(result, list)
    assert [e.event_id for e in result] == ["generated-1", "kept"]
    assert ids.issued == ["generated-1"]


def test_http_keeps_a_legacy_v1_turn_in_its_own_version():
    legacy = {
        "schema_name": "raw_turn", "schema_version": 1, "event_id": "legacy-9",
        "occurred_at": "2026-11-27T09:30:17Z", "conversation_id": "c", "turn_index": 0, "speaker": "caller",
        "text": "hi", "timestamp": "2026-11-27T09:30:17Z", "tenant": "acme",
    }
    result = _validate(legacy)
    assert isinstance(result, list)
    assert type(result[0]) is RawTurnV1


def test_http_refuses_the_whole_batch_when_one_turn_is_invalid():
    result = _validate([_http_turn(event_id="ok-1"), _http_turn(event_id="bad-1", turn_index="four"),
                        _http_turn(event_id="ok-2")])
    assert isinstance(result, HttpRejection)
    assert result.status == 422
    assert "none accepted" in result.body["error"]
    invalid = result.body["invalid"]
    assert [item["index"] for item in invalid] == [1]
    assert [e["loc"] for e in invalid[0]["errors"]] == ["turn_index"]
    assert invalid[0]["errors"][0]["type"] == "int_parsing"


def test_http_reports_a_legacy_turn_that_cannot_be_upcast_as_invalid():
    legacy = {
        "schema_name": "raw_turn", "schema_version": 1, "event_id": "legacy-9",
        "occurred_at": "2026-11-27T09:30:17Z", "conversation_id": "c", "turn_index": 0, "speaker": "supervisor",
        "text": "hi", "timestamp": "2026-11-27T09:30:17Z", "tenant": "acme",
    }
    result = _validate([_http_turn(), legacy])
    assert isinstance(result, HttpRejection)
    assert result.status == 422
    assert result.body["invalid"][0]["index"] == 1
    assert result.body["invalid"][0]["errors"][0]["type"] == "upcast_failed"


def test_http_reports_a_non_object_item_in_a_batch():
    result = _validate([_http_turn(), "not a turn"])
    assert isinstance(result, HttpRejection)
    assert result.status == 422
    assert result.body["invalid"] == [
        {"index": 1, "errors": [{"loc": "(root)", "msg": "a turn must be a JSON object", "type": "object_type"}]}
    ]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00"], ids=["broken-json", "not-utf8"])
def test_http_refuses_a_body_that_is_not_json_with_400(body):
    result = _validate(body)
    assert isinstance(result, HttpRejection)
    assert result.status == 400


def test_http_refuses_a_wrong_content_type_with_415():
    result = _validate(_http_turn(), content_type="text/plain")
    assert isinstance(result, HttpRejection)
    assert result.status == 415


def test_http_refuses_a_batch_over_the_limit_with_413():
    result = _validate([_http_turn(event_id=f"t-{i}") for i in range(3)], max_batch=2)
    assert isinstance(result, HttpRejection)
    assert result.status == 413


def test_http_accepts_a_batch_exactly_at_the_limit():
    result = _validate([_http_turn(event_id=f"t-{i}") for i in range(2)], max_batch=2)
    assert isinstance(result, list) and len(result) == 2


def test_http_refuses_an_empty_batch_with_400():
    result = _validate([])
    assert isinstance(result, HttpRejection)
    assert result.status == 400


def test_http_refuses_a_deeply_nested_body_with_400():
    result = _validate(b"[" * 100_000)
    assert isinstance(result, HttpRejection)
    assert result.status == 400


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x85"], ids=["VT", "FF", "NEL"])
def test_normalize_text_treats_vertical_tab_form_feed_and_next_line_as_whitespace(separator):
    assert separator.isspace()
    assert normalize_text(f"hello{separator}world")[0] == "hello world"
