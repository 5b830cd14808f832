"""The fetch step's failure semantics and the micro-batcher, with fakes only (no Kafka, no Triton)."""

from __future__ import annotations

import asyncio

import pytest

from services.runtime.fetch import (
    BatchPolicy, BatchRejected, DependencyUnavailable, FetchFailed, FetchRunner, MicroBatcher,
)


class FlakyDependency:
    """Down for the first `down_calls` calls; refuses any batch containing a 'bad' item."""

    def __init__(self, down_calls: int = 0):
        self.down_calls = down_calls
        self.calls: list[list[str]] = []

    async def __call__(self, events):
        self.calls.append(list(events))
        if len(self.calls) <= self.down_calls:
            raise DependencyUnavailable("connection refused")
        if "bad" in events:
            raise BatchRejected("INVALID_ARGUMENT: bad input")
        return [f"result:{event}" for event in events]


def runner(dependency, availability=None):
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    seen = availability if availability is not None else []
    return FetchRunner("test", dependency, BatchPolicy(retry_first_delay_s=0.1, retry_max_delay_s=0.4),
                       on_availability=seen.append, sleep=record), delays


async def test_unavailable_dependency_is_waited_for_with_bounded_backoff_and_nothing_fails():
    availability: list[bool] = []
    dependency = FlakyDependency(down_calls=5)
    fetch, delays = runner(dependency, availability)
    assert await fetch.fetch(["a", "b"]) == ["result:a", "result:b"]
    assert delays == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert availability == [False, True]  # one outage reported, then recovery
    assert all(call == ["a", "b"] for call in dependency.calls)  # the same batch, never a partial one


async def test_a_refused_batch_is_isolated_so_only_the_bad_event_fails():
    dependency = FlakyDependency()
    fetch, _ = runner(dependency)
    results = await fetch.fetch(["a", "bad", "c"])
    assert results[0] == "result:a" and results[2] == "result:c"
    assert isinstance(results[1], FetchFailed) and "INVALID_ARGUMENT" in results[1].reason
    assert dependency.calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


async def test_a_fetcher_returning_the_wrong_number_of_results_is_a_bug_not_data():
    async def short(events):
        return events[:-1]

    fetch, _ = runner(short)
    with pytest.raises(RuntimeError, match="2 results for 3 events"):
        await fetch.fetch(["a", "b", "c"])


async def test_micro_batcher_flushes_full_batches_at_once_and_partial_ones_after_the_wait():
    batches: list[list[int]] = []
    flushed = asyncio.Event()

    async def process(batch):
        batches.append(batch)
        if sum(map(len, batches)) == 7:
            flushed.set()

    batcher = MicroBatcher(3, 0.001, process, on_error=lambda exc: pytest.fail(str(exc)))
    for item in range(7):
        await batcher.add(item)
    assert batches == [[0, 1, 2], [3, 4, 5]]  # full batches go without waiting
    await asyncio.wait_for(flushed.wait(), 5)
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_micro_batcher_reports_a_failure_of_a_timed_flush():
    errors: list[BaseException] = []
    failed = asyncio.Event()

    async def process(batch):
        raise ValueError("boom")

    def on_error(exc):
        errors.append(exc)
        failed.set()

    batcher = MicroBatcher(10, 0.001, process, on_error)
    await batcher.add(1)
    await asyncio.wait_for(failed.wait(), 5)
    assert isinstance(errors[0], ValueError)
