"""Faults on the whole pipeline under load: kill -9 of each service, a broker restart, Triton stopped.

Six services on the real broker and the real Triton server, one namespace, one phase per fault (see
tests/e2e/faults.py for the accounting). The CI size streams ~8 turns/s for 15-45 s per phase; the long form
(`make faults`, SLUICE_FAULTS=long) streams 15 turns/s for a minute per phase, kills each service twice and
keeps Triton down for 60 s. The table of every phase is written to .data/faults/results-<size>.md.

Each phase must end with: zero lost turns, no two different event ids for one turn and no repeated id with other
content (with SLUICE_DELIVERY=exactly_once: no repeated id at all), every malformed record dead-lettered once,
every prediction observed by drift once, every reviewer label joined, and a recovery (everything sent before
some point after the fault delivered).
After the phases, no seeded personal value appears on any topic downstream of features.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from services.runtime.bootstrap import bootstrap_topics
from services.runtime.kafka_tools import collect
from tests.e2e.faults import CONTRACT, Pipeline, TABLE_HEADER
from tests.integration.conftest import Broker

# A phase streams, injects, drains (up to 300 s) and settles; the module fixture starts six services.
pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(900)]
LONG = os.environ.get("SLUICE_FAULTS", "ci") == "long"
RATE = 15.0 if LONG else 8.0
KILL_S = 60.0 if LONG else 15.0
OUTAGE_S = 60.0 if LONG else 30.0
REPEAT = 2 if LONG else 1
REPO = Path(__file__).resolve().parents[2]
FAULTS_KAFKA_PORT = int(os.environ.get("SLUICE_TEST_FAULTS_KAFKA_PORT", "29192"))
# Topics that carry text before redaction (or the original bytes of bad input): everything else is downstream.
RAW_TEXT_TOPICS = {"turns.raw", "turns.validated", "deadletter"}


@pytest.fixture(scope="module")
def fault_broker():
    """A broker of its own: restarting it disturbs no other test, and it holds only this suite's topics (a
    broker with thousands of test partitions takes a minute to restart, which would measure the fixture)."""
    broker = Broker(f"127.0.0.1:{FAULTS_KAFKA_PORT}", FAULTS_KAFKA_PORT,
                    REPO / ".data" / f"kafka-test-faults-{FAULTS_KAFKA_PORT}")
    if broker.is_running():
        broker.run("stop")
    shutil.rmtree(broker.data_dir, ignore_errors=True)
    broker.run("start")
    yield broker
    broker.run("stop")


@pytest.fixture(scope="module")
async def pipeline(fault_broker, triton, tmp_path_factory):
    namespace = f"f{uuid.uuid4().hex[:10]}"
    await bootstrap_topics(fault_broker.bootstrap, CONTRACT, namespace)
    running = Pipeline(fault_broker, triton, tmp_path_factory.mktemp("faults"), namespace)
    await running.start()
    yield running
    await running.stop()
    out = REPO / ".data" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results-{'long' if LONG else 'ci'}.md").write_text(running.table() + "\n")
    print("\n" + running.table())


def assert_phase(phase, pipeline) -> None:
    logs = "\n".join(f"--- {name}\n{service.log_tail(15)}" for name, service in pipeline.services.items())
    assert phase.ok, (f"{TABLE_HEADER}\n{phase.row()}\nproblems: {phase.problems[:5]}\n"
                      f"lost turns at turns.raw partition@offset: {phase.lost_positions[:40]}\n{logs}")


@pytest.mark.parametrize("service", ["ingestion", "features", "inference", "guardrails", "feedback", "drift"])
async def test_kill_9_mid_stream_loses_and_duplicates_nothing(pipeline, service):
    for _ in range(REPEAT):
        phase = await pipeline.run_phase(f"kill -9 {service}", pipeline.kill(service), turns=int(RATE * KILL_S),
                                         rate=RATE, fault_after_s=KILL_S / 3,
                                         labels=20 if service == "feedback" else 5)
        assert_phase(phase, pipeline)
        assert phase.restarts.get(service, 0) >= 1, "the killed service was not restarted"


async def test_broker_restart_mid_stream_loses_and_duplicates_nothing(pipeline):
    phase = await pipeline.run_phase("Kafka broker restart", pipeline.broker_restart(), turns=int(RATE * KILL_S * 1.5),
                                     rate=RATE, fault_after_s=KILL_S / 3, labels=5)
    assert_phase(phase, pipeline)


async def test_triton_outage_holds_the_stream_and_loses_nothing(pipeline):
    phase = await pipeline.run_phase(f"Triton stopped {OUTAGE_S:.0f} s", pipeline.triton_outage(OUTAGE_S),
                                     turns=int(RATE * (OUTAGE_S + 15)), rate=RATE, fault_after_s=5.0, labels=5)
    assert_phase(phase, pipeline)
    assert not phase.restarts, f"services crashed while Triton was down: {phase.restarts}"


async def test_no_seeded_personal_value_reaches_any_topic_downstream_of_features(pipeline, fault_broker):
    canaries = {value.lower().encode() for turn in pipeline.sent_turns for value in turn.truth.pii_values
                if len(value) >= 6}
    assert len(canaries) >= 50, "the phases must have seeded personal values"
    checked = 0
    for spec in CONTRACT.topics:
        if spec.name in RAW_TEXT_TOPICS:
            continue
        records = await collect(fault_broker.bootstrap, CONTRACT.physical(spec.name, pipeline.namespace), None,
                                expect=0, timeout_s=20, settle_s=1.0)
        for record in records:
            lowered = (record.value or b"").lower()
            leaked = [value for value in canaries if value in lowered]
            assert not leaked, f"{leaked[0]!r} leaked into {spec.name}"
        checked += len(records)
    assert checked > len(pipeline.sent_turns), "the downstream topics must hold the phases' outputs"
