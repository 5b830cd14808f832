"""TtlState (keyed state with a time-to-live over a plain dict) and dead-letter records."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import pytest

from schemas.dead_letter.v1 import DeadLetterReason, DeadLetterV1, FieldError
from services.runtime.deadletter import InboundMessage, dead_letter_for, original_key, original_value
from services.runtime.state import TtlState

TTL = 10.0


# --- TtlState ------------------------------------------------------------------------------------

def test_reads_see_an_entry_until_its_ttl_and_hide_it_afterwards():
    table: dict = {}
    state = TtlState(table, TTL)
    state.write("k", "v", partition=0, now=100.0)

    view = state.at(109.9)
    assert view["k"] == "v"
    assert "k" in view and list(view) == ["k"] and len(view) == 1

    view = state.at(110.0)
    assert "k" not in view
    assert list(view) == [] and len(view) == 0
    with pytest.raises(KeyError):
        view["k"]
    assert "k" in table  # hidden by the read view, not deleted by it


def test_a_missing_key_is_not_in_the_view():
    state = TtlState({}, TTL).at(0.0)
    assert "absent" not in state
    assert state.get("absent") is None


def test_write_stores_value_time_and_partition():
    table: dict = {}
    TtlState(table, TTL).write("k", 1, partition=3, now=5.0)
    assert table == {"k": {"v": 1, "t": 5.0, "p": 3}}


def test_a_write_after_the_ttl_evicts_only_keys_written_from_the_same_partition():
    table: dict = {}
    state = TtlState(table, TTL)
    state.write("a", 1, partition=0, now=0.0)
    state.write("b", 1, partition=1, now=0.0)

    state.write("c", 1, partition=0, now=TTL)

    assert set(table) == {"b", "c"}


def test_evict_does_not_delete_entries_younger_than_the_ttl():
    table: dict = {}
    state = TtlState(table, TTL)
    state.write("old", 1, partition=0, now=0.0)
    state.write("young", 1, partition=0, now=5.0)

    assert state.evict(0, now=12.0) == 1
    assert set(table) == {"young"}


def test_a_key_rewritten_later_is_not_evicted_by_its_old_index_entry():
    table: dict = {}
    state = TtlState(table, TTL)
    state.write("k", "first", partition=0, now=0.0)
    state.write("k", "second", partition=0, now=5.0)

    assert state.evict(0, now=TTL) == 0
    assert table["k"]["v"] == "second"
    assert state.evict(0, now=5.0 + TTL) == 1
    assert "k" not in table


def test_a_key_rewritten_from_another_partition_is_not_evicted_by_the_first_partition():
    table: dict = {}
    state = TtlState(table, TTL)
    state.write("k", "p0", partition=0, now=0.0)
    state.write("k", "p1", partition=1, now=0.0)

    assert state.evict(0, now=TTL) == 0
    assert table["k"]["p"] == 1


def test_entries_already_in_the_table_are_indexed_and_evicted_as_after_a_changelog_restore():
    table = {
        "restored-old": {"v": 1, "t": 0.0, "p": 2},
        "restored-new": {"v": 1, "t": 8.0, "p": 2},
        "other-partition": {"v": 1, "t": 0.0, "p": 3},
    }
    state = TtlState(table, TTL)

    assert state.evict(2, now=TTL) == 1
    assert set(table) == {"restored-new", "other-partition"}
    assert state.evict(2, now=8.0 + TTL) == 1
    assert set(table) == {"other-partition"}


def test_eviction_is_bounded_per_call():
    table = {f"k{i}": {"v": 1, "t": float(i), "p": 0} for i in range(20)}
    state = TtlState(table, TTL, evict_per_write=8)

    assert state.evict(0, now=100.0) == 8
    assert set(table) == {f"k{i}" for i in range(8, 20)}


def test_forget_partition_makes_the_next_use_reindex_the_table():
    table: dict = {}
    state = TtlState(table, TTL)
    assert state.evict(0, now=0.0) == 0  # indexes partition 0 (empty)
    table["restored"] = {"v": 1, "t": 0.0, "p": 0}  # e.g. the partition came back and was restored

    assert state.evict(0, now=TTL) == 0  # the stale index does not know the restored entry
    state.forget_partition(0)
    assert state.evict(0, now=TTL) == 1
    assert table == {}


def test_persist_hands_the_local_entry_of_the_same_partition_to_the_changelog_writer():
    persisted: list[tuple[int, str, object]] = []
    state = TtlState({}, TTL, lambda partition, key, entry: persisted.append((partition, key, entry)))
    state.write("k", "v", partition=4, now=1.0)
    assert persisted == []  # a write is only local until the runtime persists it

    state.persist("k", partition=5)
    assert persisted == []  # another partition's changelog must not receive it
    state.persist("k", partition=4)
    assert persisted == [(4, "k", {"v": "v", "t": 1.0, "p": 4})]


def test_eviction_writes_a_tombstone_through_persist():
    persisted: list[tuple[int, str, object]] = []
    state = TtlState({}, TTL, lambda partition, key, entry: persisted.append((partition, key, entry)))
    state.write("old", 1, partition=0, now=0.0)
    state.write("new", 1, partition=0, now=TTL)
    assert persisted == [(0, "old", None)]


# --- dead_letter_for -----------------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def _message(**changes) -> InboundMessage:
    fields = dict(
        topic="sluice.turns.raw", partition=2, offset=1187, timestamp=1_795_000_000.5, key=b"call-42",
        value=b'{"turn_index": "four"}', headers=(("sluice-schema", b"raw_turn/v2"), ("empty", None)),
    )
    return InboundMessage(**{**fields, **changes})


def _dead_letter(message: InboundMessage | None = None, **kwargs) -> DeadLetterV1:
    options = dict(service="ingestion", code=DeadLetterReason.SCHEMA_INVALID, reason="bad turn_index", now=NOW)
    return dead_letter_for(message or _message(), **{**options, **kwargs})


def test_dead_letter_id_is_deterministic_per_service_and_source_position():
    assert _dead_letter().event_id == _dead_letter(reason="another reason", now=datetime.now(timezone.utc)).event_id


@pytest.mark.parametrize(
    "change",
    [{"offset": 1188}, {"partition": 3}, {"topic": "sluice.features"}],
    ids=["offset", "partition", "topic"],
)
def test_dead_letter_id_differs_for_another_source_position(change):
    assert _dead_letter(_message(**change)).event_id != _dead_letter().event_id


def test_dead_letter_id_differs_for_another_service():
    assert _dead_letter(service="features").event_id != _dead_letter().event_id


def test_dead_letter_keeps_the_original_key_value_and_headers_replayable():
    message = _message()
    record = _dead_letter(message)

    assert original_key(record) == message.key
    assert original_value(record) == message.value
    assert [(h.key, None if h.value_b64 is None else base64.b64decode(h.value_b64)) for h in record.original_headers] == [
        ("sluice-schema", b"raw_turn/v2"), ("empty", None),
    ]
    assert (record.source_topic, record.source_partition, record.source_offset) == ("sluice.turns.raw", 2, 1187)
    assert record.source_timestamp == datetime.fromtimestamp(1_795_000_000.5, tz=timezone.utc)


def test_dead_letter_records_reason_code_details_and_attempts():
    errors = [FieldError(loc="turn_index", msg="Input should be a valid integer", type="int_parsing")]
    record = _dead_letter(field_errors=errors, exception=KeyError("x"), attempts=3)
    assert record.reason_code is DeadLetterReason.SCHEMA_INVALID
    assert record.reason == "bad turn_index"
    assert record.field_errors == errors
    assert record.exception_type == "builtins.KeyError"
    assert record.attempts == 3
    assert record.service == "ingestion"
    assert record.occurred_at == NOW


def test_dead_letter_of_a_null_value_and_key_has_null_b64_and_no_size_or_hash():
    record = _dead_letter(_message(value=None, key=None, timestamp=None))
    assert record.original_value_b64 is None and original_value(record) is None
    assert record.original_key_b64 is None and original_key(record) is None
    assert record.original_value_size is None and record.original_value_sha256 is None
    assert record.original_value_truncated is False
    assert record.source_timestamp is None


def test_dead_letter_of_an_empty_value_keeps_an_empty_value():
    record = _dead_letter(_message(value=b""))
    assert original_value(record) == b""
    assert record.original_value_size == 0
    assert record.original_value_sha256 == hashlib.sha256(b"").hexdigest()


def test_dead_letter_sets_size_and_sha256_of_the_value():
    value = b'{"turn_index": "four"}'
    record = _dead_letter(_message(value=value))
    assert record.original_value_size == len(value)
    assert record.original_value_sha256 == hashlib.sha256(value).hexdigest()
    assert record.original_value_truncated is False


def test_dead_letter_truncates_a_large_value_but_describes_the_whole_value():
    value = bytes(range(256)) * 4  # 1024 bytes
    record = _dead_letter(_message(value=value), max_original_bytes=100)
    assert record.original_value_truncated is True
    assert original_value(record) == value[:100]
    assert record.original_value_size == 1024
    assert record.original_value_sha256 == hashlib.sha256(value).hexdigest()


def test_dead_letter_does_not_truncate_a_value_exactly_at_the_limit():
    value = b"x" * 100
    record = _dead_letter(_message(value=value), max_original_bytes=100)
    assert record.original_value_truncated is False
    assert original_value(record) == value


def test_dead_letter_cuts_an_overlong_reason_to_the_schema_limit():
    record = _dead_letter(reason="r" * 5000)
    assert len(record.reason) == 4000


def test_dead_letter_record_round_trips_through_json():
    record = _dead_letter()
    assert DeadLetterV1.model_validate_json(record.to_json_bytes()) == record
