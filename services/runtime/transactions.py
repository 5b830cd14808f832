"""Exactly-once delivery for a consume-transform-produce service, with Kafka transactions instead of faust's.

faust's own `exactly_once` mode loses or duplicates records (faust issues #323, #502, #606), so the runtime
keeps faust for consuming and runs one transactional aiokafka producer per service instance itself:

- every record's publications (outputs and dead letters) and the changelog entries of the state it changed are
  sent inside the open transaction;
- its source offset joins the same transaction (`send_offsets_to_transaction`, the service's consumer group);
- every `interval_s` the transaction commits, and only then are the records acknowledged to faust, which
  never commits offsets of these topics itself (services/runtime/faust_fixes.py).

A crash before the commit leaves an open transaction that the restarted instance aborts when it starts (it has
the same transactional id and fences its predecessor), so readers with `isolation_level=read_committed` see
every output exactly once, and the restarted service resumes from the last committed offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError

log = logging.getLogger("sluice.runtime")

# send() raises these at once, before the record joins the transaction: the record can never be sent, and the
# caller dead-letters it. Any other failure breaks the transaction and stops the service.
UNSENDABLE = (MessageSizeTooLargeError,)


@dataclass(frozen=True)
class ChangelogRecord:
    """A state entry for a table's changelog partition (value None deletes the key)."""

    topic: str
    partition: int
    key: bytes
    value: bytes | None
    headers: tuple = ()


class TransactionBroken(RuntimeError):
    """The transaction could not continue; the service must stop without committing (a restart aborts it)."""


class TransactionalOutput:
    """Batches records into Kafka transactions: publications + source offsets commit together."""

    def __init__(self, *, bootstrap_servers: str, transactional_id: str, group_id: str, interval_s: float,
                 max_request_size: int, linger_ms: int, on_failure: Callable[[str, BaseException], None],
                 client_kwargs: dict[str, Any] | None = None) -> None:
        self.transactional_id = transactional_id
        self.group_id = group_id
        self.interval_s = interval_s
        self._on_failure = on_failure
        self._producer_kwargs = dict(
            bootstrap_servers=bootstrap_servers.split(","), transactional_id=transactional_id,
            enable_idempotence=True, acks="all", max_request_size=max_request_size, linger_ms=linger_ms,
            # A crashed instance that never restarts holds back read_committed readers until the broker aborts
            # its transaction after this long; a restarted one aborts it at once.
            transaction_timeout_ms=30_000,
            **(client_kwargs or {}),
        )
        self._producer: AIOKafkaProducer | None = None
        # Created in start(), on the service's event loop (aiokafka and asyncio objects bind to it).
        self._lock: asyncio.Lock | None = None
        self._ready: asyncio.Event | None = None
        self._offsets: dict[TopicPartition, int] = {}
        self._deliveries: list[asyncio.Future] = []
        self._after_commit: list[Callable[[], None]] = []
        self._commit_task: asyncio.Task | None = None
        self._stopped = False
        self.commits = 0

    async def start(self) -> None:
        """Connect, fence any predecessor with the same id (aborting its open transaction), begin one."""
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._producer = AIOKafkaProducer(**self._producer_kwargs)
        await self._producer.start()
        await self._producer.begin_transaction()
        self._ready.set()
        self._commit_task = asyncio.ensure_future(self._commit_periodically())
        log.info("transactions: %s ready (group %s, commit every %.0f ms)", self.transactional_id, self.group_id,
                 self.interval_s * 1000)

    async def _started(self) -> None:
        """A record may arrive before the start task ran; wait for it rather than publish outside a transaction."""
        while self._ready is None:
            await asyncio.sleep(0.01)

    async def publish(self, publications: Sequence[Any], source: TopicPartition, offset: int,
                      after_commit: Callable[[], None]) -> None:
        """Add one source record's publications and offset to the open transaction.

        Raises one of UNSENDABLE when a publication can never be sent (nothing of this record's offset is
        recorded then, so the caller may publish a dead letter instead)."""
        if self._ready is None:
            await self._started()
        await self._ready.wait()
        if self._stopped:
            # Shutting down after the last commit: this record stays unacknowledged and uncommitted, and the next
            # instance processes it. Wait here until faust cancels the agent.
            await asyncio.Future()
        async with self._lock:
            for publication in publications:
                try:
                    delivery = await self._producer.send(publication.topic, publication.value, key=publication.key,
                                                         headers=list(publication.headers),
                                                         partition=getattr(publication, "partition", None))
                except UNSENDABLE:
                    raise
                except Exception as exc:  # noqa: BLE001 - anything else breaks the transaction
                    raise TransactionBroken(f"send to {publication.topic} failed: {exc!r}") from exc
                self._deliveries.append(delivery)
            self._offsets[source] = offset + 1
            self._after_commit.append(after_commit)

    async def commit(self) -> None:
        """Commit the open transaction (if it holds anything) and begin the next one."""
        if self._ready is None or not self._ready.is_set():
            return
        async with self._lock:
            if not self._after_commit:
                return
            offsets, callbacks, deliveries = self._offsets, self._after_commit, self._deliveries
            self._offsets, self._after_commit, self._deliveries = {}, [], []
            await self._confirm(deliveries)
            await self._producer.send_offsets_to_transaction(offsets, self.group_id)
            await self._producer.commit_transaction()
            self.commits += 1
            await self._producer.begin_transaction()
        for callback in callbacks:
            callback()

    async def _confirm(self, deliveries: list[asyncio.Future]) -> None:
        """Every record of the transaction is written, or the transaction must not commit.

        aiokafka commits a transaction whose produce batches failed (a failed batch does not put the producer
        in an abortable state, unlike Java's), which would commit the source offsets without the outputs.
        The batches linger until the commit; the accumulator's pre-commit flush (the one commit_transaction
        runs first, aiokafka 0.14) sends them now instead of after the linger."""
        await self._producer._message_accumulator.flush_for_commit()
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise TransactionBroken(f"{len(failures)} of {len(deliveries)} records of the transaction were not "
                                    f"written: {failures[0]!r}") from failures[0]

    async def _commit_periodically(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.shield(self.commit())  # a cancelled loop lets a started commit finish
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._on_failure(f"transaction {self.transactional_id} failed to commit", exc)
                return

    async def stop(self) -> None:
        """Graceful stop: commit what is finished, then close (an empty open transaction is aborted)."""
        if self._stopped or self._ready is None or not self._ready.is_set():
            return
        self._stopped = True
        if self._commit_task is not None:
            # Never cancel a commit half way (its records would leave our books while the broker still commits
            # or aborts them): wait for one in progress, then stop the loop while it sleeps.
            async with self._lock:
                self._commit_task.cancel()
        try:
            await self.commit()
            await self._producer.abort_transaction()
        finally:
            await self._producer.stop()
