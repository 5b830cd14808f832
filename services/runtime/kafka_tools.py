"""Small aiokafka helpers shared by the CLI, the demo, tests and benchmarks (not by services)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def topic_partitions(bootstrap_servers: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Partitions of existing topics, from broker metadata (LookupError for a missing topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    result = []
    for topic in described:
        if topic["error_code"] or not topic["partitions"]:
            raise LookupError(f"topic {topic['topic']} does not exist")
        result.extend(TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"])
    return sorted(result)


async def wait_for_broker(bootstrap_servers: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await producer.start()
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = exc
            await asyncio.sleep(0.2)
        finally:
            await producer.stop()
    raise TimeoutError(f"Kafka at {bootstrap_servers} not reachable after {timeout_s}s: {last_error}")


async def end_offsets(bootstrap_servers: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    partitions = await topic_partitions(bootstrap_servers, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def produce_records(bootstrap_servers: str, topic: str,
                          records: Iterable[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
                          *, max_request_size: int = 4 * 1024 * 1024) -> int:
    """Produce (key, value, headers) records and wait until every one is acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5,
                                max_request_size=max_request_size, enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key, headers=headers)
                   for key, value, headers in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def collect(bootstrap_servers: str, topic: str, start: dict[TopicPartition, int] | None, *,
                  expect: int, timeout_s: float, settle_s: float = 1.0,
                  until: Callable[[list[ConsumerRecord]], bool] | None = None) -> list[ConsumerRecord]:
    """Read `topic` from `start` offsets (or the beginning) until `expect` records arrived (and `until`, if
    given, holds) and no more come for `settle_s`, or until `timeout_s`. Extra records are returned too,
    so over-delivery is visible."""
    partitions = await topic_partitions(bootstrap_servers, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        for tp in partitions:
            offset = (start or {}).get(tp)
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        satisfied = False
        last_arrival = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            got = [r for rs in batch.values() for r in rs]
            if got:
                records.extend(got)
                last_arrival = time.monotonic()
                satisfied = satisfied or (len(records) >= expect and (until is None or until(records)))
            if satisfied and (settle_s <= 0 or time.monotonic() - last_arrival >= settle_s):
                break
        return records
    finally:
        await consumer.stop()
