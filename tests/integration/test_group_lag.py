"""Consumer-group lag on a topic written with transactions: markers take offsets but are not records."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.kafka_tools import group_lag

pytestmark = pytest.mark.integration


async def test_lag_counts_records_not_transaction_markers(kafka):
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, transactional_id=topic)
    await producer.start()
    for _ in range(3):  # offsets: 5 records + 1 commit marker, three times
        async with producer.transaction():
            for _ in range(5):
                await producer.send(topic, b"x")
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    try:
        pending = {}
        for committed in (0, 5, 6, 12, 17):
            await consumer.commit({tp: committed})
            committed_offset, end = (await group_lag(kafka.bootstrap, [group]))[group][tp]
            assert committed_offset == committed
            pending[committed] = end - committed
    finally:
        await consumer.stop()
    # From 0: 15 records; after the first transaction (at its marker, or past it): 10; two records short of
    # the last marker: 5; everything read (the last marker is at 17): 0, although the end offset is 18.
    assert pending == {0: 15, 5: 10, 6: 10, 12: 5, 17: 0}
