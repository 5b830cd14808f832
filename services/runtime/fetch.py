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
    # Batches fetched at once: one being published, the next ones already at the model server. 3 kept both
    # CPU Triton instances busy while the service published (stage/ceiling 0.88-0.93 vs 0.81-0.91 with 2).
    max_in_flight: int = 3
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


class BatchPipeline:
    """Micro-batches items and overlaps later batches' fetches with an earlier batch's finishing.

    Two stages, in arrival order: `prepare(batch)` (decode + the fetch: I/O) and `finish(batch,
    prepared)` (handlers, publishing, acks). While batch k is being finished, batches k+1.. are already
    being fetched, so the model server is not idle while the service publishes. A batch is sent when it
    holds `max_size` items, or `max_wait_s` after its first item. `add` waits once `max_in_flight`
    batches are in flight, one more is collected and `max_size * 2` items are queued: that wait is what
    stops the consumer while a dependency is slow or down.
    """

    def __init__(self, max_size: int, max_wait_s: float, prepare: Callable[[list[Any]], Awaitable[Any]],
                 finish: Callable[[list[Any], Any], Awaitable[None]], on_error: Callable[[BaseException], None],
                 max_in_flight: int = 2):
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self.prepare = prepare
        self.finish = finish
        self.on_error = on_error
        self._items: asyncio.Queue = asyncio.Queue(maxsize=max_size * 2)
        self._prepared: asyncio.Queue = asyncio.Queue()
        # Later batches are fetched while an earlier one is finished, at most `max_in_flight` at once.
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._tasks: list[asyncio.Task] = []

    async def add(self, item: Any) -> None:
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._guard(self._collect())),
                           asyncio.ensure_future(self._guard(self._drain()))]
        await self._items.put(item)

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - surfaced to the service, which stops
            self.on_error(exc)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._items.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_size:
                if not self._items.empty():
                    batch.append(self._items.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._items.get(), remaining))
                except asyncio.TimeoutError:
                    break
            await self._in_flight.acquire()
            self._prepared.put_nowait((batch, asyncio.ensure_future(self.prepare(batch))))

    async def _drain(self) -> None:
        while True:
            batch, prepared = await self._prepared.get()
            await self.finish(batch, await prepared)
            self._in_flight.release()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
