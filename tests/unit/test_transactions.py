"""TransactionalOutput with a recording fake producer: what joins a transaction, and when records are acked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from services.runtime import transactions as tx
from services.runtime.transactions import ChangelogRecord, TransactionalOutput, TransactionBroken


@dataclass(frozen=True)
class Pub:
    topic: str
    value: bytes
    key: bytes | None = b"k"
    headers: tuple = ()


class FakeAccumulator:
    def __init__(self, log):
        self.log = log

    async def flush_for_commit(self):
        self.log.append(("flush",))


class FakeProducer:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.log: list[tuple] = []
        self.fail_next_send: Exception | None = None
        self.fail_next_delivery: Exception | None = None
        self._message_accumulator = FakeAccumulator(self.log)

    async def start(self):
        self.log.append(("start",))

    async def begin_transaction(self):
        self.log.append(("begin",))

    async def send(self, topic, value, key=None, headers=None, partition=None):
        if self.fail_next_send is not None:
            exc, self.fail_next_send = self.fail_next_send, None
            raise exc
        self.log.append(("send", topic, value) if partition is None else ("send", topic, value, partition))
        delivery = asyncio.get_running_loop().create_future()
        if self.fail_next_delivery is not None:
            exc, self.fail_next_delivery = self.fail_next_delivery, None
            delivery.set_exception(exc)
        else:
            delivery.set_result(None)
        return delivery

    async def send_offsets_to_transaction(self, offsets, group_id):
        self.log.append(("offsets", dict(offsets), group_id))

    async def commit_transaction(self):
        self.log.append(("commit",))

    async def abort_transaction(self):
        self.log.append(("abort",))

    async def stop(self):
        self.log.append(("stop",))


@pytest.fixture
def output(monkeypatch):
    monkeypatch.setattr(tx, "AIOKafkaProducer", FakeProducer)
    failures = []
    out = TransactionalOutput(bootstrap_servers="b:1", transactional_id="ns.svc.0", group_id="ns.svc",
                              interval_s=3600, max_request_size=1 << 20, linger_ms=0,
                              on_failure=lambda what, exc: failures.append((what, exc)))
    out.failures = failures
    return out


async def test_outputs_and_offsets_commit_together_and_records_are_acked_only_after_the_commit(output):
    await output.start()
    acked = []
    tp = TopicPartition("src", 2)
    await output.publish([Pub("out", b"a"), Pub("dlq", b"b")], tp, 41, lambda: acked.append(41))
    await output.publish([Pub("out", b"c")], tp, 42, lambda: acked.append(42))
    assert acked == []
    await output.commit()
    assert acked == [41, 42]
    log = output._producer.log
    assert log[:2] == [("start",), ("begin",)]
    assert log[2:5] == [("send", "out", b"a"), ("send", "dlq", b"b"), ("send", "out", b"c")]
    assert log[5] == ("flush",)  # the deliveries are confirmed before anything commits
    assert log[6] == ("offsets", {tp: 43}, "ns.svc")  # the next offset to read, after the last record
    assert log[7:] == [("commit",), ("begin",)]
    await output.stop()


async def test_an_empty_interval_commits_nothing(output):
    await output.start()
    await output.commit()
    assert ("commit",) not in output._producer.log
    await output.stop()
    assert output._producer.log[-2:] == [("abort",), ("stop",)]


async def test_an_unsendable_record_is_left_to_the_caller_and_its_offset_is_not_recorded(output):
    await output.start()
    output._producer.fail_next_send = MessageSizeTooLargeError()
    with pytest.raises(MessageSizeTooLargeError):
        await output.publish([Pub("out", b"x" * 10)], TopicPartition("src", 0), 7, lambda: None)
    assert output._offsets == {}


async def test_any_other_send_failure_breaks_the_transaction(output):
    await output.start()
    output._producer.fail_next_send = KafkaConnectionError()
    with pytest.raises(TransactionBroken):
        await output.publish([Pub("out", b"x")], TopicPartition("src", 0), 7, lambda: None)


async def test_stop_commits_finished_records_before_closing(output):
    await output.start()
    acked = []
    await output.publish([Pub("out", b"a")], TopicPartition("src", 0), 0, lambda: acked.append(0))
    await output.stop()
    assert acked == [0]
    assert [entry[0] for entry in output._producer.log[-6:]] == ["flush", "offsets", "commit", "begin", "abort",
                                                                 "stop"]


async def test_state_entries_go_to_their_changelog_partition_in_the_same_transaction(output):
    await output.start()
    entry = ChangelogRecord("ns.svc.state-changelog", 4, b'"key"', b'{"v":1}')
    tombstone = ChangelogRecord("ns.svc.state-changelog", 4, b'"old"', None)
    await output.publish([Pub("out", b"a"), entry, tombstone], TopicPartition("src", 4), 9, lambda: None)
    await output.commit()
    sends = [e for e in output._producer.log if e[0] == "send"]
    assert sends == [("send", "out", b"a"), ("send", "ns.svc.state-changelog", b'{"v":1}', 4),
                     ("send", "ns.svc.state-changelog", None, 4)]
    assert output._producer.log.index(sends[-1]) < output._producer.log.index(("commit",))


async def test_a_record_arriving_after_the_final_commit_is_left_for_the_next_instance(output):
    import asyncio

    await output.start()
    await output.stop()
    late = asyncio.ensure_future(output.publish([Pub("out", b"late")], TopicPartition("src", 0), 5, lambda: None))
    done, _ = await asyncio.wait([late], timeout=0.2)
    assert not done, "a record after the last commit must not join a transaction"
    late.cancel()
    assert not [e for e in output._producer.log if e[:2] == ("send", "out")]


async def test_a_transaction_with_an_unwritten_record_never_commits_its_offsets(output):
    """aiokafka would commit it: a failed produce batch does not stop commit_transaction."""
    await output.start()
    acked = []
    tp = TopicPartition("src", 0)
    await output.publish([Pub("out", b"a")], tp, 7, lambda: acked.append(7))
    output._producer.fail_next_delivery = KafkaConnectionError("batch failed")
    await output.publish([Pub("out", b"b")], tp, 8, lambda: acked.append(8))
    with pytest.raises(TransactionBroken, match="1 of 2 records"):
        await output.commit()
    assert acked == []
    assert not [entry for entry in output._producer.log if entry[0] in ("offsets", "commit")]
