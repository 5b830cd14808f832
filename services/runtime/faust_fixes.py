"""Workarounds for four faust-streaming 0.15.3 defects that lose records (found by our tests).

1. Skipped records are acknowledged. When flow control is suspended (rebalance, shutdown), faust drops
   the records still buffered in its streams and *acks* them, planning to seek back to the committed
   offset. A commit in between (the one at shutdown, for instance) commits records that were never
   processed. Fix: the consumer accepts an ack only for a record the runtime finished.

2. Off-by-one at the head of the acked list. `Consumer._new_offset` refuses to commit across a gap
   between the committed offset and the lowest acked offset only when that gap is wider than one
   record (`min(acked) - committed > 1`), but the committed offset is the *next* offset to read: a
   single unacked record right after it (one still in flight) is committed over and lost. Fix: the
   same computation with `min(acked) > committed`.

3. Spurious gaps. faust records an offset "gap" (offsets it believes the broker never delivered, e.g.
   transaction markers) whenever the next record it reads is more than one past the last one, and the
   commit treats a gap as acknowledged. Its read position is also moved by records it drops (flow
   suspension) and by seeks, so gaps appear on plain topics too: logged on our source topics, they
   covered records that were still being processed (seen: gap 419-423 with 422 not yet finished).
   A gap over a record that was dropped and not re-read commits it unprocessed: 2 of 20,000 events were
   lost this way in one graceful-stop test run under load. Fix: on the source topics the runtime guards,
   gaps are discarded and only finished records advance the commit. The price: a genuine gap (a client
   producing to a source topic with transactions leaves control-record offsets) stops the commit there
   until a restart re-reads from it, with duplicates that the deterministic ids absorb — never a loss.

4. Stale batches after a seek. faust's fetch loop keeps delivering the rest of a batch it fetched before a
   seek (recovery seeks every partition to its committed offset after a restart or rebalance), and each of
   those records moves its read position past the seek; the records re-fetched from the committed offset
   are then dropped as already read. Seen after a kill -9 under load: 10 records behind the committed offset
   were never processed by the restarted instance (at-least-once: the commit stalled there until the next
   restart; exactly-once: the next transaction committed past them, a loss). And the seek itself
   (aiokafka's seek_to_committed) leaves a partition that has no committed offset yet where it is, so the
   records fetched and dropped there before it are skipped too. Fix: a batch fetched before a seek is
   abandoned at the seek and every partition is sought back once more; a partition without a committed
   offset is sought to its beginning (the reset policy), so nothing fetched and dropped is skipped.

For the runtime's own exactly-once mode (services/runtime/transactions.py) two more: `read_committed` (faust
picks the isolation level only from its unsafe transaction mode) and `transactional_changelog_recovery`
(recovery of a changelog written in transactions must stop at its last committed record, not at the markers).

All patch one consumer instance; nothing global changes. Delivery tests in tests/integration
(graceful stop and SIGKILL in the middle of a backlog) and the fault suite (tests/e2e) fail without them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from faust.utils.functional import consecutive_numbers

log = logging.getLogger("sluice.runtime")


def next_commit_offset(acked: list[int], acked_index: set[int], gaps: Any, committed: int | None) -> int | None:
    """The offset to commit for one partition (the next one to read), or None when nothing may be committed.

    `acked` (sorted in place) and `acked_index` lose the offsets that become committed; `gaps` is faust's
    IntervalTree of offsets the broker never delivered (compaction, transaction markers), merged in first.
    """
    if not acked:
        return None
    max_offset = max(acked)
    if gaps:
        candidates = sorted(gaps.overlap(0, max_offset), key=lambda interval: interval.begin)
        if candidates:
            filled: list[int] = []
            for interval in candidates:
                filled.extend(range(interval.begin, interval.end))
            acked.extend(filled)
            gaps.chop(0, max(filled[-1], max_offset + 1))
    acked.sort()
    if committed is not None and acked[0] > committed:
        return None  # the record at `committed` is not finished yet
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    acked_index.difference_update(batch)
    return batch[-1] + 1


def install(consumer: Any, guarded_topics: Iterable[str], is_finished: Callable[[Any], bool], *,
            commit_offsets: bool = True) -> None:
    """Apply the three fixes to a faust consumer instance.

    With `commit_offsets=False` faust commits nothing on the guarded topics: their offsets are committed inside
    the runtime's Kafka transactions (services/runtime/transactions.py)."""
    missing = [name for name in ("ack", "_new_offset", "_acked", "_acked_index", "_gap", "_committed_offset")
               if not hasattr(consumer, name)]
    if missing:
        # These are faust internals (checked on faust-streaming 0.15.3); refuse to run unprotected.
        raise RuntimeError(f"faust consumer lacks {missing}: the commit workarounds need updating for this faust")
    topics = frozenset(guarded_topics)
    faust_ack = consumer.ack

    def ack_only_finished(message: Any) -> bool:
        if message.topic in topics and not is_finished(message):
            log.info("faust skipped %s[%s]@%s unprocessed; it is not committed", message.topic, message.partition,
                     message.offset)
            return False  # skipped by faust: leave the gap so the commit stops before it
        return faust_ack(message)

    def new_offset(tp: Any) -> int | None:
        gaps = consumer._gap[tp]
        if tp.topic in topics and not commit_offsets:
            consumer._acked[tp].clear()
            consumer._acked_index[tp].clear()
            gaps.clear()  # transaction markers: offsets commit with the transactions, not here
            return None
        if tp.topic in topics:
            if gaps:
                log.info("faust reported never-delivered offsets %s on %s; not committing past them",
                         sorted((interval.begin, interval.end - 1) for interval in gaps), tp)
                gaps.clear()
            gaps = None
        return next_commit_offset(consumer._acked[tp], consumer._acked_index[tp], gaps,
                                  consumer._committed_offset[tp])

    consumer.ack = ack_only_finished
    consumer._new_offset = new_offset


def abandon_batches_at_seeks(consumer: Any, guarded_topics: Iterable[str]) -> None:
    """Fix 4: records fetched before a seek are never delivered after it (see the module docstring)."""
    missing = [name for name in ("getmany", "perform_seek", "seek", "assignment", "earliest_offsets",
                                 "_committed_offset") if not hasattr(consumer, name)]
    if missing:
        raise RuntimeError(f"faust consumer lacks {missing}: the seek fix needs updating for this faust")
    topics = frozenset(guarded_topics)
    seeks = [0]
    faust_getmany, faust_perform_seek, faust_seek = consumer.getmany, consumer.perform_seek, consumer.seek

    async def perform_seek() -> None:
        seeks[0] += 1
        await faust_perform_seek()
        # aiokafka's seek_to_committed leaves a partition without a committed offset (or at 0) where its fetch
        # position is, which records fetched and dropped since may have moved: those go back to the beginning
        # (the consumer's reset policy is earliest).
        uncommitted = sorted(tp for tp in consumer.assignment()
                             if tp.topic in topics and not consumer._committed_offset.get(tp))
        if uncommitted:
            beginnings = await consumer.earliest_offsets(*uncommitted)
            for tp in uncommitted:
                await faust_seek(tp, beginnings[tp])

    async def seek(partition: Any, offset: int) -> None:
        seeks[0] += 1
        await faust_seek(partition, offset)

    async def getmany(timeout: float) -> Any:
        fetched_at = seeks[0]
        abandoned = False
        async for tp, message in faust_getmany(timeout):
            if seeks[0] != fetched_at:
                abandoned = True
                break
            yield tp, message
        if abandoned:
            # The abandoned records moved the client's fetch positions past them (those of partitions the seek
            # did not touch too, and a fetch may have completed after the seek): read again from the commits.
            log.info("a seek happened while a fetched batch was delivered; its rest is dropped and every "
                     "partition is read again from its committed offset")
            try:
                await perform_seek()
            except Exception as exc:  # noqa: BLE001 - faust's own fetch loop treats a failed seek the same way
                log.warning("seeking back to the committed offsets failed: %r", exc)

    consumer.getmany = getmany
    consumer.perform_seek = perform_seek
    consumer.seek = seek


def read_committed(consumer: Any) -> None:
    """Make a faust consumer read with isolation_level=read_committed without faust's exactly_once mode.

    faust picks the isolation level only from its own (unsafe) transaction mode; the Kafka consumer it creates
    is adjusted before it starts, so records of aborted transactions are never delivered to the service."""
    thread = getattr(consumer, "_thread", None)
    if thread is None or not hasattr(thread, "_create_worker_consumer"):
        raise RuntimeError("faust consumer lacks _thread._create_worker_consumer: read_committed needs updating")
    create = thread._create_worker_consumer

    def create_read_committed(transport: Any) -> Any:
        kafka_consumer = create(transport)
        if not hasattr(kafka_consumer, "_isolation_level"):
            raise RuntimeError("aiokafka consumer lacks _isolation_level: read_committed needs updating")
        kafka_consumer._isolation_level = "read_committed"
        return kafka_consumer

    thread._create_worker_consumer = create_read_committed


def transactional_changelog_recovery(recovery: Any, last_committed_offsets: Callable[[Any], Any]) -> None:
    """Let faust's table recovery finish on changelogs written inside Kafka transactions.

    faust recovers a changelog partition by reading until the offset before its high watermark, but with
    transactions the last offsets are commit (or abort) markers, which are never delivered: recovery would wait
    forever (faust only copes with this in its own exactly_once mode). `last_committed_offsets(tps)` returns the
    offset of the last committed record per partition (-1 for none); recovery reads up to those instead."""
    if not hasattr(recovery, "_build_highwaters"):
        raise RuntimeError("faust Recovery lacks _build_highwaters: the changelog recovery fix needs updating")

    async def build_highwaters(consumer: Any, tps: Any, destination: Any, title: str) -> None:
        destination.clear()
        if tps:
            offsets = {(tp.topic, tp.partition): offset for tp, offset in (await last_committed_offsets(tps)).items()}
            destination.update({tp: offsets.get((tp.topic, tp.partition), -1) for tp in tps})
        log.info("recovery: %s changelog partitions read up to their last committed records: %s", title,
                 {f"{tp.topic}[{tp.partition}]": offset for tp, offset in sorted(destination.items())})

    recovery._build_highwaters = build_highwaters
