"""The commit-offset computation that replaces faust's `Consumer._new_offset` (see services/runtime/faust_fixes.py)."""

from types import SimpleNamespace

from aiokafka import TopicPartition
from intervaltree import IntervalTree

from services.runtime.faust_fixes import abandon_batches_at_seeks, install, next_commit_offset


def test_commits_the_contiguous_acked_prefix_after_the_committed_offset():
    acked, index = [12, 10, 11, 14], {10, 11, 12, 14}
    assert next_commit_offset(acked, index, IntervalTree(), committed=10) == 13
    assert acked == [14] and index == {14}


def test_a_single_unfinished_record_at_the_head_blocks_the_commit():
    # committed=10 means offset 10 is the next to read; it is still in flight, 11 and 12 are done.
    acked = [11, 12]
    assert next_commit_offset(acked, {11, 12}, IntervalTree(), committed=10) is None
    assert acked == [11, 12], "nothing may be consumed from the acked list"


def test_broker_gaps_count_as_acked():
    gaps = IntervalTree()
    gaps.addi(10, 12)  # offsets 10 and 11 were never delivered (transaction markers, compaction)
    acked = [12, 13]
    assert next_commit_offset(acked, {12, 13}, gaps, committed=10) == 14
    assert not gaps


def test_nothing_acked_commits_nothing():
    assert next_commit_offset([], set(), IntervalTree(), committed=5) is None


def test_first_commit_of_a_partition_has_no_committed_offset():
    assert next_commit_offset([0, 1, 2], {0, 1, 2}, IntervalTree(), committed=None) == 3


def test_install_refuses_acks_of_unfinished_records_on_guarded_topics_only():
    calls = []
    consumer = SimpleNamespace(ack=lambda message: calls.append(message.offset) or True, _new_offset=None,
                               _acked={}, _acked_index={}, _gap={}, _committed_offset={})
    finished = {("raw", 0, 5)}
    install(consumer, {"raw"}, lambda m: (m.topic, m.partition, m.offset) in finished)
    assert consumer.ack(SimpleNamespace(topic="raw", partition=0, offset=4)) is False
    assert consumer.ack(SimpleNamespace(topic="raw", partition=0, offset=5)) is True
    assert consumer.ack(SimpleNamespace(topic="changelog", partition=0, offset=4)) is True
    assert calls == [5, 4]


def test_install_refuses_a_faust_without_the_internals_it_patches():
    import pytest

    with pytest.raises(RuntimeError, match="_gap"):
        install(SimpleNamespace(ack=None, _new_offset=None, _acked={}, _acked_index={}, _committed_offset={}),
                {"raw"}, lambda m: True)


def test_faust_gaps_on_guarded_topics_never_commit_past_an_unfinished_record():
    # Seen in a graceful-stop run: faust reported 419-423 as never delivered while 422 was still in flight.
    gaps = IntervalTree()
    gaps.addi(419, 424)
    tp = TopicPartition("raw", 0)
    consumer = SimpleNamespace(ack=lambda message: True, _new_offset=None, _acked={tp: [419, 420, 421, 423]},
                               _acked_index={tp: {419, 420, 421, 423}}, _gap={tp: gaps},
                               _committed_offset={tp: 419})
    install(consumer, {"raw"}, lambda m: True)
    assert consumer._new_offset(tp) == 422  # 422 is not finished: the commit stops before it
    assert not gaps  # discarded, not kept to be merged later
    assert consumer._acked[tp] == [423]


def test_faust_gaps_on_other_topics_still_count():
    gaps = IntervalTree()
    gaps.addi(10, 12)
    tp = TopicPartition("changelog", 0)
    consumer = SimpleNamespace(ack=lambda message: True, _new_offset=None, _acked={tp: [12]},
                               _acked_index={tp: {12}}, _gap={tp: gaps}, _committed_offset={tp: 10})
    install(consumer, {"raw"}, lambda m: True)
    assert consumer._new_offset(tp) == 13


class SeekingConsumer:
    """faust's consumer surface for fix 4: getmany yields one fetched batch; seeks are recorded."""

    def __init__(self, batch, seek_after: int | None, committed=None):
        self.batch, self.seek_after, self.seeks = batch, seek_after, []
        self._committed_offset = dict(committed or {})

    def assignment(self):
        return {TopicPartition("src", 0), TopicPartition("src", 1), TopicPartition("other", 0)}

    async def earliest_offsets(self, *partitions):
        return {tp: 100 for tp in partitions}

    async def getmany(self, timeout):
        for index, item in enumerate(self.batch):
            if index == self.seek_after:
                await self.perform_seek()  # recovery seeking while the fetch loop is between two records
            yield item

    async def perform_seek(self):
        self.seeks.append("committed")

    async def seek(self, partition, offset):
        self.seeks.append((partition, offset))


async def drain(consumer) -> list:
    return [item async for item in consumer.getmany(timeout=1.0)]


async def test_the_rest_of_a_batch_fetched_before_a_seek_is_dropped_and_read_again_from_the_commits():
    tp = TopicPartition("src", 0)
    consumer = SeekingConsumer([(tp, 15), (tp, 16), (tp, 17)], seek_after=1,
                               committed={tp: 9, TopicPartition("src", 1): 4})
    abandon_batches_at_seeks(consumer, {"src"})
    assert await drain(consumer) == [(tp, 15)]
    assert consumer.seeks == ["committed", "committed"]  # recovery's seek, then the re-read of the dropped rest


async def test_a_batch_without_a_seek_is_delivered_whole():
    tp = TopicPartition("src", 0)
    consumer = SeekingConsumer([(tp, 15), (tp, 16)], seek_after=None, committed={tp: 9, TopicPartition("src", 1): 4})
    abandon_batches_at_seeks(consumer, {"src"})
    assert await drain(consumer) == [(tp, 15), (tp, 16)]
    await consumer.seek(tp, 3)  # a seek between batches abandons nothing
    assert await drain(consumer) == [(tp, 15), (tp, 16)]
    assert consumer.seeks == [(tp, 3)]


async def test_a_seek_sends_a_guarded_partition_without_a_committed_offset_to_its_beginning():
    """aiokafka's seek_to_committed leaves it at its fetch position, past whatever was fetched and dropped."""
    consumer = SeekingConsumer([], seek_after=None, committed={TopicPartition("src", 0): 9})
    abandon_batches_at_seeks(consumer, {"src"})
    await consumer.perform_seek()
    assert consumer.seeks == ["committed", (TopicPartition("src", 1), 100)]  # not the other topic's partition
