"""Small aiokafka helpers shared by the CLI, the demo, tests and benchmarks (not by services).

Every helper takes `security`: the client options of services.runtime.kafka_security.aiokafka_security
(None on a PLAINTEXT broker).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Security = Mapping[str, Any] | None


async def topic_partitions(bootstrap_servers: str, topics: Iterable[str], *,
                           security: Security = None) -> list[TopicPartition]:
    """Partitions of existing topics, from broker metadata (LookupError for a missing topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(security or {}))
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


async def wait_for_broker(bootstrap_servers: str, timeout_s: float = 60.0, *, security: Security = None) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **(security or {}), request_timeout_ms=5000)
        try:
            await producer.start()
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = exc
            await asyncio.sleep(0.2)
        finally:
            await producer.stop()
    raise TimeoutError(f"Kafka at {bootstrap_servers} not reachable after {timeout_s}s: {last_error}")


async def end_offsets(bootstrap_servers: str, topics: Iterable[str], *,
                      security: Security = None) -> dict[TopicPartition, int]:
    partitions = await topic_partitions(bootstrap_servers, topics, security=security)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def produce_records(bootstrap_servers: str, topic: str,
                          records: Iterable[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
                          *, max_request_size: int = 4 * 1024 * 1024, security: Security = None) -> int:
    """Produce (key, value, headers) records and wait until every one is acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **(security or {}), acks="all", linger_ms=5,
                                max_request_size=max_request_size, enable_idempotence=True)
    try:
        await producer.start()
        futures = [await producer.send(topic, value=value, key=key, headers=headers)
                   for key, value, headers in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def collect(bootstrap_servers: str, topic: str, start: dict[TopicPartition, int] | None, *,
                  expect: int, timeout_s: float, settle_s: float = 1.0,
                  until: Callable[[list[ConsumerRecord]], bool] | None = None,
                  security: Security = None) -> list[ConsumerRecord]:
    """Read `topic` from `start` offsets (or the beginning) until `expect` records arrived (and `until`, if
    given, holds) and no more come for `settle_s`, or until `timeout_s`. Extra records are returned too,
    so over-delivery is visible."""
    partitions = await topic_partitions(bootstrap_servers, [topic], security=security)
    # read_committed: what every reader of Sluice's topics sees (records of aborted transactions never count).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
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


# --- helpers for the `sluice` CLI: produce at a rate, read a topic, fetch one record, consumer-group lag ---


def pacing_delay(index: int, rate: float, start: float, now: float) -> float:
    """Seconds to wait before sending record `index` (0-based) at `rate` records/s on an absolute schedule
    that began at `start`: record i is due at start + i/rate, so a slow send is caught up, not carried over
    as drift. 0 for rate <= 0 (as fast as possible) or when the record is already due."""
    if rate <= 0:
        return 0.0
    return max(0.0, start + index / rate - now)


async def produce_paced(bootstrap_servers: str, topic: str,
                        records: Iterable[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]], *,
                        rate: float = 0.0, on_sent: Callable[[int], None] | None = None,
                        max_request_size: int = 4 * 1024 * 1024,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                        security: Security = None) -> int:
    """Produce records at `rate` per second (0 = as fast as possible) and wait until every one is
    acknowledged; `on_sent(n)` is called with the running count as records are handed to the producer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **(security or {}), acks="all", linger_ms=5,
                                max_request_size=max_request_size, enable_idempotence=True)
    try:
        await producer.start()
        futures = []
        start = clock()
        for index, (key, value, headers) in enumerate(records):
            delay = pacing_delay(index, rate, start, clock())
            if delay > 0:
                await sleep(delay)
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            if on_sent is not None:
                on_sent(index + 1)
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap_servers: str, topic: str, *, from_beginning: bool = False, last: int = 0,
                     follow: bool = False, poll_ms: int = 200,
                     security: Security = None) -> AsyncIterator[ConsumerRecord]:
    """Records of `topic` (no consumer group, nothing committed): from the beginning, or the last `last` of
    each partition; without `follow`, only those present when called (end offsets read once at the start),
    with `follow`, new ones too, until the caller stops iterating. Use with contextlib.aclosing."""
    partitions = await topic_partitions(bootstrap_servers, [topic], security=security)
    # read_committed: what every reader of Sluice's topics sees (records of aborted transactions never count).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(partitions)
        begins = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, begins[tp] if from_beginning else max(begins[tp], ends[tp] - max(0, last)))
        while True:
            if not follow:
                pending = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
                if not pending:
                    return
            batch = await consumer.getmany(timeout_ms=poll_ms)
            records = sorted((r for rs in batch.values() for r in rs), key=lambda r: (r.timestamp, r.partition))
            for record in records:
                if follow or record.offset < ends[TopicPartition(record.topic, record.partition)]:
                    yield record
    finally:
        await consumer.stop()


async def fetch_record(bootstrap_servers: str, topic: str, partition: int, offset: int,
                       timeout_s: float = 10.0, *, security: Security = None) -> ConsumerRecord:
    """The one record at topic/partition/offset; LookupError when the partition or offset does not exist."""
    partitions = await topic_partitions(bootstrap_servers, [topic], security=security)
    tp = TopicPartition(topic, partition)
    if tp not in partitions:
        raise LookupError(f"topic {topic} has no partition {partition} (partitions 0-{len(partitions) - 1})")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not begin <= offset < end:
            span = f"offsets {begin}-{end - 1}" if end > begin else "no records"
            raise LookupError(f"{topic} partition {partition} has no offset {offset} ({span})")
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200)
            for record in batch.get(tp, []):
                if record.offset == offset:
                    return record
                if record.offset > offset:
                    raise LookupError(f"{topic} partition {partition} offset {offset} is not a record")
        raise TimeoutError(f"{topic} {partition}:{offset} not fetched within {timeout_s}s")
    finally:
        await consumer.stop()


async def consumer_groups(bootstrap_servers: str, *, security: Security = None) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(security or {}))
    await admin.start()
    try:
        return sorted(str(group[0]) for group in await admin.list_consumer_groups())
    finally:
        await admin.close()


async def group_lag(bootstrap_servers: str, groups: Iterable[str], *, exact_below: int = 256,
                    security: Security = None) -> dict[str, dict[TopicPartition, tuple[int, int]]]:
    """Per group, per partition it has committed: (committed offset, end), lag = end - committed.

    The end is the last stable offset (what a read_committed reader can reach). Transaction markers take
    offsets but are not records, so a group that processed everything still sits one or more offsets short of
    it; where the difference is below `exact_below`, the records in between are counted instead, so a caught-up
    group reads lag 0."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(security or {}))
    await admin.start()
    try:
        committed = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        await admin.close()
    partitions = sorted({tp for offsets in committed.values() for tp in offsets})
    ends: dict[TopicPartition, int] = {}
    exact: dict[tuple[TopicPartition, int], int] = {}
    if partitions:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False,
                                    isolation_level="read_committed")
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
            near = {(tp, offset) for offsets in committed.values() for tp, offset in offsets.items()
                    if 0 < ends.get(tp, offset) - offset < exact_below}
            for tp, offset in sorted(near):
                exact[(tp, offset)] = offset + await _records_between(consumer, tp, offset, ends[tp])
        finally:
            await consumer.stop()
    return {group: {tp: (offset, exact.get((tp, offset), ends.get(tp, offset))) for tp, offset in sorted(offsets.items())}
            for group, offsets in committed.items()}


async def _records_between(consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int,
                           timeout_s: float = 5.0) -> int:
    """Records (not transaction markers) a read_committed reader gets in [start, end) of one partition."""
    consumer.assign([tp])
    consumer.seek(tp, start)
    count = 0
    deadline = time.monotonic() + timeout_s
    while await consumer.position(tp) < end and time.monotonic() < deadline:
        batch = await consumer.getmany(tp, timeout_ms=200)
        count += sum(1 for record in batch.get(tp, []) if record.offset < end)
    if await consumer.position(tp) < end:
        return end - start  # could not read it all in time: report the offset difference, never less
    return count


async def last_committed_record_offsets(bootstrap_servers: str, partitions: Iterable[TopicPartition], *,
                                        security: Security = None) -> dict[TopicPartition, int]:
    """Per partition, the offset of the last record a read_committed reader gets (-1 when there is none):
    the end offset less the transaction markers and aborted records at the tail."""
    partitions = list(partitions)
    result: dict[TopicPartition, int] = {}
    if not partitions:
        return result
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **(security or {}), enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        begins = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            result[tp] = -1
            window = 64
            while ends[tp] > begins[tp]:
                start = max(begins[tp], ends[tp] - window)
                last = await _last_record_offset(consumer, tp, start, ends[tp])
                if last is not None:
                    result[tp] = last
                    break
                if start == begins[tp]:
                    break
                window *= 4
    finally:
        await consumer.stop()
    return result


async def _last_record_offset(consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int,
                              timeout_s: float = 10.0) -> int | None:
    consumer.assign([tp])
    consumer.seek(tp, start)
    last = None
    deadline = time.monotonic() + timeout_s
    while await consumer.position(tp) < end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {tp.topic}[{tp.partition}] {start}..{end} took over {timeout_s} s")
        batch = await consumer.getmany(tp, timeout_ms=200)
        for record in batch.get(tp, []):
            if record.offset < end:
                last = record.offset
    return last
