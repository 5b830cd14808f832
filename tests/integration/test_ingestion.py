"""Ingestion against the real broker, run as its own process."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections import Counter

import pytest

from schemas.dead_letter.v1 import DeadLetterV1
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.runtime.kafka_tools import collect, end_offsets, produce_records
from services.runtime.sample_traffic import MALFORMED_KINDS, RawRecord, malformed_records, valid_records

pytestmark = pytest.mark.integration


def physical(namespace: str, logical: str) -> str:
    from services.runtime.topics import load_contract

    return load_contract().physical(logical, namespace)


def as_tuples(records: list[RawRecord]):
    return [(r.key, r.value, r.headers) for r in records]


async def test_valid_malformed_and_duplicate_accounting(kafka, namespace, service_factory):
    """1,000 valid + 200 malformed (every kind) + 100 duplicates -> exactly 1,000 validated and 200 dead letters."""
    valid = valid_records(1000, seed=101)
    bad = malformed_records(200, seed=202)
    assert set(MALFORMED_KINDS) <= {k for k in MALFORMED_KINDS}  # every kind is in the cycle of 200
    assert len(MALFORMED_KINDS) <= 200
    ingestion = service_factory("ingestion").start()

    await produce_records(kafka.bootstrap, physical(namespace, "turns.raw"), as_tuples(valid + bad + valid[:100]))

    validated = await collect(kafka.bootstrap, physical(namespace, "turns.validated"), None,
                              expect=1000, timeout_s=120)
    dead = await collect(kafka.bootstrap, physical(namespace, "deadletter"), None, expect=200, timeout_s=60)

    turns = [ValidatedTurnV1.model_validate_json(r.value) for r in validated]
    assert len(turns) == 1000, ingestion.log_tail()
    assert {t.turn_id for t in turns} == {r.event_id for r in valid}
    assert all(t.event_id for t in turns) and len({t.event_id for t in turns}) == 1000

    letters = [DeadLetterV1.model_validate_json(r.value) for r in dead]
    assert len(letters) == 200, Counter(d.reason_code for d in letters)
    expected_by_value = {}
    for record in bad:
        expected_by_value.setdefault(record.value, set()).add(record.expected)
    for letter in letters:
        original = None if letter.original_value_b64 is None else base64.b64decode(letter.original_value_b64)
        assert original in expected_by_value, f"dead letter with unknown original bytes: {letter.reason}"
        assert letter.reason_code in expected_by_value[original], (letter.reason_code, letter.reason)
        assert letter.reason and letter.service == "ingestion"
        assert letter.source_topic == physical(namespace, "turns.raw")
    assert Counter(d.reason_code for d in letters) == Counter(r.expected for r in bad)

    status, metrics = ingestion.http_get("/metrics")
    assert status == 200
    text = metrics.decode()
    assert 'sluice_messages_skipped_total{reason="duplicate",service="ingestion",topic="turns.raw"} 100.0' in text
    assert 'sluice_messages_produced_total{service="ingestion",topic="turns.validated"} 1000.0' in text


async def test_dedup_holds_across_a_restart(kafka, namespace, service_factory):
    ingestion = service_factory("ingestion").start()
    first = valid_records(60, seed=303)
    raw, out = physical(namespace, "turns.raw"), physical(namespace, "turns.validated")
    await produce_records(kafka.bootstrap, raw, as_tuples(first))
    assert len(await collect(kafka.bootstrap, out, None, expect=60, timeout_s=60)) == 60

    assert ingestion.stop() == 0, ingestion.log_tail()
    ingestion.start()
    replayed_and_new = first + valid_records(15, seed=304)
    await produce_records(kafka.bootstrap, raw, as_tuples(replayed_and_new))

    validated = await collect(kafka.bootstrap, out, None, expect=75, timeout_s=60, settle_s=2.0)
    turn_ids = [json.loads(r.value)["turn_id"] for r in validated]
    assert len(turn_ids) == 75, f"{len(turn_ids)} validated; duplicates: {len(turn_ids) - len(set(turn_ids))}"
    assert set(turn_ids) == {r.event_id for r in replayed_and_new}


async def interrupt_midway_then_finish(kafka, namespace, service_factory, count: int, seed: int, interrupt):
    """Load a backlog, interrupt the service while it works through it, restart it; return all outputs."""
    raw, out = physical(namespace, "turns.raw"), physical(namespace, "turns.validated")
    records = valid_records(count, seed=seed)
    await produce_records(kafka.bootstrap, raw, as_tuples(records))
    ingestion = service_factory("ingestion").start()
    await collect(kafka.bootstrap, out, None, expect=count // 8, timeout_s=60, settle_s=0)
    interrupt(ingestion)
    midway = sum((await end_offsets(kafka.bootstrap, [out])).values())
    assert 0 < midway < count, f"interrupted at {midway}: the test needs an interruption mid-backlog"

    ingestion.start()
    expected = {r.event_id for r in records}
    validated = await collect(kafka.bootstrap, out, None, expect=count, timeout_s=180, settle_s=2.0,
                              until=lambda got: covers(got, expected))
    missing = expected - {json.loads(r.value)["turn_id"] for r in validated}
    assert not missing, f"{len(missing)} lost events, e.g. {sorted(missing)[:10]}; log: {ingestion.log_tail()}"
    return validated


async def test_graceful_shutdown_mid_stream_loses_and_duplicates_nothing(kafka, namespace, service_factory):
    def graceful(service):
        assert service.stop() == 0, service.log_tail()

    validated = await interrupt_midway_then_finish(kafka, namespace, service_factory, 20000, 505, graceful)
    assert len(validated) == 20000, f"{len(validated) - 20000} duplicates after a graceful stop"


async def test_a_killed_service_loses_nothing(kafka, namespace, service_factory):
    """SIGKILL mid-stream: nothing is committed past an unconfirmed output, so every event comes out."""
    validated = await interrupt_midway_then_finish(kafka, namespace, service_factory, 12000, 808,
                                                   lambda service: service.kill())
    # Duplicates are allowed after a crash (at-least-once) but carry the same deterministic event id.
    by_turn: dict[str, set[str]] = {}
    for record in validated:
        document = json.loads(record.value)
        by_turn.setdefault(document["turn_id"], set()).add(document["event_id"])
    assert all(len(ids) == 1 for ids in by_turn.values()), "a re-processed turn got a different event id"


async def test_http_endpoint_accepts_batches_and_refuses_invalid_turns(kafka, namespace, service_factory):
    ingestion = service_factory("ingestion").start()
    raw_topic, out = physical(namespace, "turns.raw"), physical(namespace, "turns.validated")
    v2, v1_record = valid_records(2, seed=606, legacy_share=0.0), valid_records(1, seed=607, legacy_share=1.0)
    batch = [json.loads(v2[0].value), json.loads(v2[1].value), json.loads(v1_record[0].value)]
    del batch[1]["event_id"]  # the endpoint assigns one

    status, body = post_json(ingestion.base_url + "/v1/turns", batch)
    assert status == 202, body
    assert body["accepted"] == 3 and len(set(body["event_ids"])) == 3
    assert body["event_ids"][0] == batch[0]["event_id"]

    validated = await collect(kafka.bootstrap, out, None, expect=3, timeout_s=60)
    by_turn = {json.loads(r.value)["turn_id"]: json.loads(r.value) for r in validated}
    assert set(by_turn) == set(body["event_ids"])
    assert by_turn[batch[2]["event_id"]]["source_schema"] == "raw_turn/v1"

    before = sum((await end_offsets(kafka.bootstrap, [raw_topic])).values())
    broken = [json.loads(v2[0].value) | {"event_id": "fresh-1"}, {**json.loads(v2[1].value), "turn_index": "x"}]
    status, body = post_json(ingestion.base_url + "/v1/turns", broken)
    assert status == 422
    assert body["invalid"][0]["index"] == 1
    assert body["invalid"][0]["errors"][0]["loc"] == "turn_index"
    status, body = post_raw(ingestion.base_url + "/v1/turns", b"{not json", "application/json")
    assert status == 400 and "not JSON" in body["error"]
    assert sum((await end_offsets(kafka.bootstrap, [raw_topic])).values()) == before, "a refused batch was produced"


async def test_trace_context_crosses_the_kafka_hop(kafka, namespace, service_factory):
    service_factory("ingestion").start()
    record = valid_records(1, seed=707)[0]
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = record.headers + [("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode())]
    await produce_records(kafka.bootstrap, physical(namespace, "turns.raw"), [(record.key, record.value, headers)])
    [validated] = await collect(kafka.bootstrap, physical(namespace, "turns.validated"), None, expect=1, timeout_s=60)
    traceparent = dict(validated.headers)["traceparent"].decode()
    assert traceparent.split("-")[1] == trace_id
    assert traceparent.split("-")[2] != "00f067aa0ba902b7", "the service must add its own span"
    assert dict(validated.headers)["sluice-schema"] == b"validated_turn/v1"


def covers(records, expected_turn_ids: set[str]) -> bool:
    return expected_turn_ids <= {json.loads(r.value)["turn_id"] for r in records}


def post_json(url: str, document: object) -> tuple[int, dict]:
    return post_raw(url, json.dumps(document).encode(), "application/json")


def post_raw(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
