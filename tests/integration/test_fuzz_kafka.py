"""Hypothesis-generated bad records on the real broker, against each service run as its own process.

All six services run at once, each in a namespace of its own (so none consumes another's output). For
every topic a service consumes (contracts/topics.yaml), a batch of bad records drawn from
tests/fuzz_strategies.py (every category; derandomized, so the same records on every run) goes onto ONE
partition, followed on that partition by a valid record of the topic's schema. It proves, end to end
through faust, the producer and the broker:
- every service process is still alive afterwards (no bad record crashed it);
- there is exactly one dead letter per bad record, found by its source topic/partition/offset, with the
  precise reason its category demands and the original value, key and headers byte for byte;
- the service's consumer group commits past the valid record (the partition kept flowing behind the bad
  records), and on the service's first route the valid record produced its normal output.

Counts: one record of each of the 53 kinds of tests/fuzz_strategies.KINDS per consumed topic: 13 topics
(ingestion 1, guardrails 1, feedback 4, drift 5, features 1, inference 1), 689 bad records in all.
features and inference need Triton for a valid record, so for them only the bad records are sent (they
never reach Triton; its address points at a closed port): their dead letters and the committed offset
past the last of them are checked.
SLUICE_MAX_MESSAGE_BYTES is lowered to 16 KiB so that oversize records stay small. About 35 s with the
broker up (the six services start in parallel in ~15 s of it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.dead_letter.v1 import DeadLetterV1
from services.runtime.bootstrap import bootstrap_topics
from services.runtime.kafka_tools import collect, end_offsets, group_lag
from services.runtime.topics import load_contract
from tests.fuzz_strategies import FuzzRecord, every_kind, examples_for, sample
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

MAX_MESSAGE_BYTES = 16 * 1024
CONTRACT = load_contract()
NEEDS_TRITON = {"features", "inference"}
SERVICES = ["ingestion", "guardrails", "feedback", "drift", "features", "inference"]


def consumed_topics(service: str) -> list[str]:
    return [t.name for t in CONTRACT.consumed_by(service) if not t.internal]


def records_for(topic: str) -> list[FuzzRecord]:
    """One bad record of every kind of every category (53), the same on every run."""
    return sample(every_kind(CONTRACT.get(topic), MAX_MESSAGE_BYTES), 1)[0]


async def produce_on_partition_0(bootstrap: str, topic: str, records: list[tuple]) -> list[int]:
    """Produce (key, value, headers) records in order onto partition 0; their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024,
                                enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key, headers=list(headers), partition=0)
                   for key, value, headers in records]
        return [metadata.offset for metadata in await asyncio.gather(*futures)]
    finally:
        await producer.stop()


async def wait_for_commits(bootstrap: str, group: str, targets: dict[TopicPartition, int], timeout_s: float) -> dict:
    """Poll the group's committed offsets until each partition reached its target (no sleeps: polls)."""
    deadline = time.monotonic() + timeout_s
    committed: dict = {}
    while time.monotonic() < deadline:
        lag = (await group_lag(bootstrap, [group])).get(group, {})
        committed = {tp: offset for tp, (offset, _) in lag.items()}
        if all(committed.get(tp, -1) >= target for tp, target in targets.items()):
            break
        await asyncio.sleep(0.5)  # a poll interval, not a wait for a condition
    return committed


def field_of(value: bytes | None, field: str) -> object:
    """A top-level field of a record's JSON value; None for anything else (our bad records share the topic)."""
    try:
        document = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return document.get(field) if isinstance(document, dict) else None


def isolated(document: dict) -> bytes:
    """The example as a valid record that does not meet the service's own state: the checked-in metric update
    retracts an observation that the join never added in this namespace, which the metrics route refuses
    (schema_invalid, retract_not_held) once the bucket exists, so it gets a model of its own."""
    if "deltas" in document:
        document = {**document, "deltas": [{**d, "model_name": "fuzz-isolated"} for d in document["deltas"]]}
    return json.dumps(document).encode()


def first_route_output(service: str) -> tuple[list[str], str, str]:
    """Topics where the valid record of the service's first route shows up, and how to recognize it."""
    return {
        "ingestion": (["turns.validated"], "turn_id", examples_for(CONTRACT.get("turns.raw"))[0].document["event_id"]),
        "guardrails": (["turns.enriched", "review.requests"], "prediction_event_id",
                       examples_for(CONTRACT.get("predictions"))[0].document["event_id"]),
        "feedback": (["feedback.join"], "prediction_event_id",
                     examples_for(CONTRACT.get("predictions"))[0].document["event_id"]),
        "drift": (["drift.observations"], "source_event_id",
                  examples_for(CONTRACT.get("predictions"))[0].document["event_id"]),
    }[service]


async def test_bad_records_on_every_consumer_are_dead_lettered_precisely_and_partitions_keep_flowing(
        kafka, namespace, service_factory):
    # One namespace per service, so that no service consumes another's outputs; all six start at once.
    namespaces = {service: namespace if i == 0 else f"{namespace}-{service}" for i, service in enumerate(SERVICES)}
    await asyncio.gather(*(bootstrap_topics(kafka.bootstrap, CONTRACT, ns) for ns in list(namespaces.values())[1:]))
    processes = {}
    for service in SERVICES:
        env = {"SLUICE_NAMESPACE": namespaces[service], "SLUICE_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES)}
        if service in NEEDS_TRITON:
            env[f"SLUICE_{service.upper()}_TRITON_URL"] = f"127.0.0.1:{free_port()}"
        processes[service] = service_factory(service, **env)
    started = time.monotonic()
    with ThreadPoolExecutor(len(processes)) as pool:
        list(pool.map(lambda process: process.start(ready_timeout_s=150), processes.values()))
    print(f"\nsix services ready in {time.monotonic() - started:.1f}s")
    sent = {service: await produce(kafka.bootstrap, service, namespaces[service]) for service in SERVICES}
    print(f"produced {sum(len(s) for s, _ in sent.values())} bad records at {time.monotonic() - started:.1f}s")
    for service in SERVICES:
        await check(kafka.bootstrap, service, namespaces[service], processes[service], *sent[service])
        print(f"{service}: {len(sent[service][0])} bad records checked at {time.monotonic() - started:.1f}s")


async def produce(bootstrap: str, service: str, namespace: str) -> tuple[dict, dict]:
    """Bad records, then (where no Triton is needed) a valid one, on partition 0 of each consumed topic."""
    sent: dict[tuple[str, int], FuzzRecord] = {}  # (physical topic, offset) -> bad record
    valid_offsets: dict[str, int] = {}
    for topic in consumed_topics(service):
        physical = CONTRACT.physical(topic, namespace)
        # aiokafka refuses a record with neither key nor value: a null value gets an empty key here.
        bad = [replace(r, key=b"") if r.key is None and r.value is None else r for r in records_for(topic)]
        batch = [(r.key, r.value, r.headers) for r in bad]
        if service not in NEEDS_TRITON:
            valid = examples_for(CONTRACT.get(topic))[0]
            batch.append((valid.key, isolated(valid.document), valid.headers()))
        offsets = await produce_on_partition_0(bootstrap, physical, batch)
        sent.update({(physical, offset): record for offset, record in zip(offsets, bad)})
        if service not in NEEDS_TRITON:
            valid_offsets[physical] = offsets[-1]
    return sent, valid_offsets


async def check(bootstrap: str, service: str, namespace: str, process, sent: dict, valid_offsets: dict) -> None:
    dead = await collect(bootstrap, CONTRACT.physical("deadletter", namespace), None, expect=len(sent),
                         timeout_s=90, settle_s=1.0)
    letters = [DeadLetterV1.model_validate_json(r.value) for r in dead]
    by_source = {}
    for letter in letters:
        position = (letter.source_topic, letter.source_offset)
        assert position not in by_source, f"{service}: two dead letters for {position}"
        assert letter.source_partition == 0
        by_source[position] = letter
    assert process.process.poll() is None, f"{service} died: {process.log_tail()}"
    assert set(by_source) == set(sent), (
        f"{service}: missing dead letters for {sorted(set(sent) - set(by_source))[:5]}, unexpected for "
        f"{sorted(set(by_source) - set(sent))[:5]}; log: {process.log_tail()}")
    for position, record in sent.items():
        letter = by_source[position]
        context = f"{service}: {record.describe()}\n-> {letter.reason_code.value}: {letter.reason[:300]}"
        assert letter.reason_code in record.expected, context
        assert letter.service == service
        original = None if letter.original_value_b64 is None else base64.b64decode(letter.original_value_b64)
        assert original == record.value, context
        key = None if letter.original_key_b64 is None else base64.b64decode(letter.original_key_b64)
        assert key == record.key, context
        headers = [(h.key, None if h.value_b64 is None else base64.b64decode(h.value_b64))
                   for h in letter.original_headers]
        assert headers == list(record.headers), context

    # The partition kept flowing: the group committed past the last record produced on it.
    topics = [CONTRACT.physical(t, namespace) for t in consumed_topics(service)]
    ends = await end_offsets(bootstrap, topics)
    targets = {TopicPartition(t, 0): valid_offsets[t] + 1 if t in valid_offsets else ends[TopicPartition(t, 0)]
               for t in topics}
    committed = await wait_for_commits(bootstrap, f"{namespace}.{service}", targets, timeout_s=60)
    assert all(committed.get(tp, -1) >= target for tp, target in targets.items()), (
        service, committed, targets, process.log_tail())

    if service not in NEEDS_TRITON:
        out_topics, field, value = first_route_output(service)
        outputs = []
        for topic in out_topics:  # published before the commit above, so already on the broker
            physical = CONTRACT.physical(topic, namespace)
            if sum((await end_offsets(bootstrap, [physical])).values()):  # (end offsets count control records too)
                outputs += await collect(bootstrap, physical, None, expect=1, timeout_s=30, settle_s=0,
                                         until=lambda got: any(field_of(r.value, field) == value for r in got))
        assert any(field_of(r.value, field) == value for r in outputs), (
            f"{service}: no {out_topics} output with {field}={value}; log: {process.log_tail()}")
    assert process.process.poll() is None, f"{service} died: {process.log_tail()}"
