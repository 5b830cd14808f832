"""The broker our scripts start, and topic bootstrap against it."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.runtime.bootstrap import bootstrap_topics
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.topics import load_contract

from .conftest import free_broker_ports, start_broker

pytestmark = pytest.mark.integration


async def test_bootstrap_creates_everything_then_is_idempotent(kafka):
    contract, namespace = load_contract(), f"b{uuid.uuid4().hex[:8]}"
    first = await bootstrap_topics(kafka.bootstrap, contract, namespace)
    assert [t.action for t in first.topics] == ["created"] * len(contract.topics)
    second = await bootstrap_topics(kafka.bootstrap, contract, namespace)
    assert [t.action for t in second.topics] == ["ok"] * len(contract.topics)


async def test_bootstrap_reports_config_and_partition_drift_and_fixes_only_configs(kafka):
    contract, namespace = load_contract(), f"d{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        # An operator created one topic by hand with the wrong partition count.
        await admin.create_topics([NewTopic(f"{namespace}.feedback", 1, 1)])
        await bootstrap_topics(kafka.bootstrap, contract, namespace)
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, f"{namespace}.deadletter",
                                                  configs={"retention.ms": "1000"})])
    finally:
        await admin.close()

    # Config changes reach the broker's cache asynchronously: poll until the altered config shows.
    deadline = time.monotonic() + 30
    while True:
        report = await bootstrap_topics(kafka.bootstrap, contract, namespace, create=False)
        drift = {t.topic: t.problems for t in report.drift}
        if f"{namespace}.deadletter" in drift or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert set(drift) == {f"{namespace}.feedback", f"{namespace}.deadletter"}, drift
    assert any("partitions 1 on broker, 3 in contract" in p for p in drift[f"{namespace}.feedback"])
    assert any("retention.ms" in p for p in drift[f"{namespace}.deadletter"])

    fixed = await bootstrap_topics(kafka.bootstrap, contract, namespace, create=False, fix_configs=True)
    assert {t.topic for t in fixed.drift} == {f"{namespace}.feedback"}, "partitions must never change silently"
    assert {t.topic for t in fixed.topics if t.action == "fixed"} == {f"{namespace}.deadletter"}
    deadline = time.monotonic() + 30
    while True:
        again = await bootstrap_topics(kafka.bootstrap, contract, namespace, create=False)
        if {t.topic for t in again.drift} == {f"{namespace}.feedback"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert {t.topic for t in again.drift} == {f"{namespace}.feedback"}


async def test_broker_restart_keeps_topics_and_messages(tmp_path: Path):
    """A second broker of our own: storage is formatted once and survives stop/start."""
    client_port, controller_port = free_broker_ports()
    broker = start_broker(client_port, tmp_path / "kafka", controller_port)
    try:
        topic = "restart.check"
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 2, 1)])
        await admin.close()
        payloads = [f"message-{i}".encode() for i in range(50)]
        await produce_records(broker.bootstrap, topic, [(str(i).encode(), p, []) for i, p in enumerate(payloads)])
        meta = (tmp_path / "kafka" / "log" / "meta.properties").read_text()

        broker.run("stop")
        assert not broker.is_running()
        broker.run("start")

        assert (tmp_path / "kafka" / "log" / "meta.properties").read_text() == meta, "storage was re-formatted"
        records = await collect(broker.bootstrap, topic, None, expect=50, timeout_s=60)
        assert sorted(r.value for r in records) == sorted(payloads)
    finally:
        broker.run("stop")
