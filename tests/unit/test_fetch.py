"""The fetch step's failure semantics and the micro-batcher, with fakes only (no Kafka, no Triton)."""

from __future__ import annotations

import asyncio

import pytest

from services.runtime.fetch import (
    BatchPipeline, BatchPolicy, BatchRejected, DependencyUnavailable, FetchFailed, FetchRunner,
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


async def test_batches_are_full_when_items_are_waiting_and_partial_after_the_wait():
    batches: list[list[int]] = []
    done = asyncio.Event()

    async def prepare(batch):
        return [item * 10 for item in batch]

    async def finish(batch, prepared):
        assert prepared == [item * 10 for item in batch]
        batches.append(batch)
        if sum(map(len, batches)) == 7:
            done.set()

    pipeline = BatchPipeline(3, 0.05, prepare, finish, on_error=lambda exc: pytest.fail(str(exc)))
    for item in range(7):
        await pipeline.add(item)
    await asyncio.wait_for(done.wait(), 5)
    pipeline.cancel()
    assert [item for batch in batches for item in batch] == list(range(7))  # order kept
    assert batches[0] == [0, 1, 2] and batches[-1] == [6]


async def test_the_next_batch_is_fetched_while_the_previous_one_is_finished():
    events: list[str] = []
    release_finish = asyncio.Event()
    second_prepared = asyncio.Event()
    done = asyncio.Event()

    async def prepare(batch):
        events.append(f"prepare {batch}")
        if batch == [2, 3]:
            second_prepared.set()
        return batch

    async def finish(batch, prepared):
        events.append(f"finish {batch} start")
        if batch == [0, 1]:
            await release_finish.wait()
        events.append(f"finish {batch} end")
        if batch == [2, 3]:
            done.set()

    pipeline = BatchPipeline(2, 0.05, prepare, finish, on_error=lambda exc: pytest.fail(str(exc)))
    for item in range(4):
        await pipeline.add(item)
    await asyncio.wait_for(second_prepared.wait(), 5)
    assert "finish [0, 1] end" not in events  # batch 2 was prepared while batch 1 was still finishing
    release_finish.set()
    await asyncio.wait_for(done.wait(), 5)
    pipeline.cancel()
    assert events.index("finish [0, 1] end") < events.index("finish [2, 3] start")


async def test_adding_waits_when_batches_back_up():
    started = asyncio.Event()
    never = asyncio.Event()
    prepares = 0

    async def prepare(batch):
        nonlocal prepares
        prepares += 1
        started.set()
        await never.wait()  # the dependency never answers

    async def finish(batch, prepared):
        pytest.fail("nothing can be finished")

    pipeline = BatchPipeline(2, 0.01, prepare, finish, on_error=lambda exc: pytest.fail(str(exc)))
    added = 0

    async def producer():
        nonlocal added
        for item in range(100):
            await pipeline.add(item)
            added += 1

    task = asyncio.ensure_future(producer())
    await asyncio.wait_for(started.wait(), 5)
    for _ in range(50):
        await asyncio.sleep(0)  # let the producer run as far as it can
    task.cancel()
    pipeline.cancel()
    # two batches in flight, a third collected and waiting, a full queue of 4: the consumer stops there
    assert prepares == 2
    assert added == 3 * 2 + 4, added


async def test_a_failure_in_a_batch_is_reported():
    errors: list[BaseException] = []
    failed = asyncio.Event()

    async def prepare(batch):
        raise ValueError("boom")

    async def finish(batch, prepared):
        pass

    def on_error(exc):
        errors.append(exc)
        failed.set()

    pipeline = BatchPipeline(10, 0.001, prepare, finish, on_error)
    await pipeline.add(1)
    await asyncio.wait_for(failed.wait(), 5)
    pipeline.cancel()
    assert isinstance(errors[0], ValueError)
