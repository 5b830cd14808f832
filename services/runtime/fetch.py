"""The one kind of I/O a route may add before its pure handler: fetching data for a batch of events.

Model calls (Triton) are I/O, so they cannot live in a handler. A route may name a `Fetcher`: the
runtime gives it the decoded events of a micro-batch, and hands each event's result to the handler
in `HandlerContext.fetched`. The handler stays a pure function of (event, state, context).

Failure semantics, decided once here:
- `DependencyUnavailable`: the dependency is down or too slow. Nothing is dead-lettered and no offset
  moves: the runtime waits (bounded backoff) and tries the same batch again, so the service stops
  consuming (backpressure) and resumes by itself.
- `BatchRejected`: the dependency refused the request. The runtime retries each event alone, so one
  bad input cannot take its batch-mates to the dead-letter topic.
- A `FetchFailed` in the result list: that event alone is refused; it is dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import EventModel

log = logging.getLogger("sluice.runtime")


class DependencyUnavailable(Exception):
    """A dependency (e.g. the Triton server) cannot serve now; wait and try again, never dead-letter."""


class BatchRejected(Exception):
    """The dependency refused the whole request; each event is tried alone to find the bad one."""


@dataclass(frozen=True)
class FetchFailed:
    """The per-event result for an input the dependency refuses for good."""

    reason: str


Fetcher = Callable[[Sequence[EventModel]], Awaitable[list[Any]]]


@dataclass(frozen=True)
class BatchPolicy:
    """Client-side micro-batching: at most `max_size` events, waiting at most `max_wait_s` for more."""

    max_size: int = 32
    max_wait_s: float = 0.005
    retry_first_delay_s: float = 0.1
    retry_max_delay_s: float = 5.0


class FetchRunner:
    """Calls a fetcher with the runtime's failure semantics (see the module docstring)."""

    def __init__(self, name: str, fetcher: Fetcher, policy: BatchPolicy,
                 on_availability: Callable[[bool], None] = lambda available: None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.name = name
        self.fetcher = fetcher
        self.policy = policy
        self.on_availability = on_availability
        self.sleep = sleep
        self.available = True

    async def fetch(self, events: Sequence[EventModel]) -> list[Any]:
        if not events:
            return []
        try:
            results = await self._until_available(events)
        except BatchRejected as exc:
            if len(events) == 1:
                return [FetchFailed(str(exc))]
            log.warning("%s: batch of %d refused (%s); trying each event alone", self.name, len(events), exc)
            results = []
            for event in events:
                try:
                    results.extend(await self._until_available([event]))
                except BatchRejected as single:
                    results.append(FetchFailed(str(single)))
        if len(results) != len(events):
            raise RuntimeError(f"{self.name}: fetcher returned {len(results)} results for {len(events)} events")
        return results

    async def _until_available(self, events: Sequence[EventModel]) -> list[Any]:
        delay = self.policy.retry_first_delay_s
        while True:
            try:
                results = await self.fetcher(events)
            except DependencyUnavailable as exc:
                if self.available:
                    log.warning("%s: dependency unavailable (%s); holding consumption until it is back",
                                self.name, exc)
                    self.available = False
                    self.on_availability(False)
                await self.sleep(delay)
                delay = min(self.policy.retry_max_delay_s, delay * 2)
                continue
            if not self.available:
                log.warning("%s: dependency is back; resuming", self.name)
                self.available = True
                self.on_availability(True)
            return results


class MicroBatcher:
    """Collects items into batches of at most `max_size`, flushing a partial batch after `max_wait_s`.

    `add` returns at once unless the batch is full, in which case it waits for the batch to be
    processed: that wait is what stops the consumer while a dependency is slow or down. Batches are
    processed one at a time, in arrival order.
    """

    def __init__(self, max_size: int, max_wait_s: float, process: Callable[[list[Any]], Awaitable[None]],
                 on_error: Callable[[BaseException], None]):
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.process = process
        self.on_error = on_error
        self._pending: list[Any] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task | None = None

    async def add(self, item: Any) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.max_size:
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.max_wait_s)
                await self.flush()
                if not self._pending:
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - surfaced to the service, which stops
            self.on_error(exc)

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size:]
            if batch:
                await self.process(batch)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
