"""The feedback service on the real broker: predictions and feedback in -> labeled examples and online metrics out.

Labels arrive before and after their predictions, twice, superseded; the service is stopped (SIGTERM) or killed
(SIGKILL) in the middle, and labels for predictions it saw before the restart still join after it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from schemas._parts import Deployment, ModelOutput
from schemas.dead_letter.v1 import DeadLetterV1
from schemas.feedback.v1 import FeedbackV1
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.online_metrics.v1 import OnlineMetricsV1
from schemas.prediction.v1 import PredictionV1
from services.runtime.codec import encode
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
INTENTS = ["billing_dispute", "cancel_service", "technical_issue"]


def physical(namespace: str, logical: str) -> str:
    return CONTRACT.physical(logical, namespace)


def output(task: str, label: str, version: str = "1", deployment: Deployment = Deployment.CHAMPION) -> ModelOutput:
    return ModelOutput(task=task, model_name=task, model_version=version, deployment=deployment, label=label,
                       scores={label: 0.9}, confidence=0.9)


def prediction(pid: str, i: int) -> PredictionV1:
    return PredictionV1(
        event_id=pid, occurred_at=T0 + timedelta(seconds=i), turn_id=f"{pid}-turn", features_event_id=f"{pid}-feat",
        conversation_id=f"{pid}-conv-{i % 5}", turn_index=i, role="customer", channel="chat", language="en",
        tenant_id="acme", redacted_text=f"turn {i} about my bill",
        outputs=[output("intent", INTENTS[i % 3]),
                 output("intent", INTENTS[(i + 1) % 3], "2", Deployment.CHALLENGER),
                 output("sentiment", "neutral")],
    )


def label(pid: str, value: str, *, version: int = 1, event_id: str | None = None, task: str = "intent",
          **extra) -> FeedbackV1:
    return FeedbackV1(event_id=event_id or f"{pid}-fb-v{version}", occurred_at=T0 + timedelta(hours=5),
                      prediction_event_id=pid, label_source="human_review", label_name=task, label_value=value,
                      label_version=version, **extra)


async def produce(kafka, namespace: str, logical: str, events) -> None:
    spec = CONTRACT.get(logical)
    encoded = [encode(e, spec, "test", T0) for e in events]
    await produce_records(kafka.bootstrap, physical(namespace, logical), [(e.key, e.value, e.headers) for e in encoded])


def skipped(service, reason: str, topic: str = "feedback.join") -> float:
    _, body = service.http_get("/metrics")
    series = f'sluice_messages_skipped_total{{reason="{reason}",service="feedback",topic="{topic}"}}'
    match = re.search(re.escape(series) + r" ([0-9.e+]+)", body.decode())
    return float(match.group(1)) if match else 0.0


async def wait_skipped(service, reason: str, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while skipped(service, reason) < count:
        assert time.monotonic() < deadline, f"{reason} stayed below {count}; log: {service.log_tail()}"
        await asyncio.sleep(0.1)  # polling the service's own counter, not waiting a fixed time


def examples_of(records) -> list[LabeledExampleV1]:
    return [LabeledExampleV1.model_validate_json(r.value) for r in records]


def latest_metrics(records) -> dict[tuple[str, str, str], OnlineMetricsV1]:
    """The last snapshot per (task, model version, window): metrics.online has one partition, in emission order."""
    latest = {}
    for record in records:
        m = OnlineMetricsV1.model_validate_json(record.value)
        latest[(m.task, m.model_version, m.window_start.isoformat())] = m
    return latest


def identical_per_id(examples: list[LabeledExampleV1]) -> dict[str, LabeledExampleV1]:
    """Same id must mean the same example (re-emissions after duplicates or a crash)."""
    by_id: dict[str, LabeledExampleV1] = {}
    for e in examples:
        body = e.model_dump(exclude={"produced_at"})
        if e.event_id in by_id:
            assert by_id[e.event_id].model_dump(exclude={"produced_at"}) == body, f"conflicting {e.event_id}"
        else:
            by_id[e.event_id] = e
    return by_id


async def test_labels_before_and_after_predictions_duplicates_and_versions(kafka, namespace, service_factory):
    feedback = service_factory("feedback").start()
    pids = [f"{namespace}-p{i}" for i in range(12)]

    # Early labels for p0..p3, processed (buffered) before their predictions exist.
    await produce(kafka, namespace, "feedback", [label(pids[i], "billing_dispute") for i in range(4)])
    await wait_skipped(feedback, "label_buffered", 4)

    await produce(kafka, namespace, "predictions", [prediction(pid, i) for i, pid in enumerate(pids)])
    examples_topic = physical(namespace, "examples.labeled")
    joined = examples_of(await collect(kafka.bootstrap, examples_topic, None, expect=8, timeout_s=60))
    assert {e.prediction_event_id for e in joined} == set(pids[:4]), feedback.log_tail()

    late_truth = {i: (INTENTS[i % 3] if i % 2 == 0 else "cancel_service") for i in range(4, 10)}
    late = [label(pids[i], value) for i, value in late_truth.items()]
    duplicates = [label(pids[4], late_truth[4]), label(pids[0], "billing_dispute"),
                  label(pids[5], late_truth[5], event_id=f"{pids[5]}-resent")]
    superseding = [label(pids[6], "technical_issue", version=2)]
    rating = [label(pids[10], "", rating=2, review_decision="reject")]
    unknown = [label(pids[11], "yes", task="churn")]
    await produce(kafka, namespace, "feedback", late + duplicates + superseding + rating + unknown)

    truth = {i: "billing_dispute" for i in range(4)} | late_truth | {6: "technical_issue"}
    expected_ids = 11 * 2  # 10 labels + p6's v2, each for the intent champion and challenger
    records = await collect(kafka.bootstrap, examples_topic, None, expect=expected_ids + 6, timeout_s=60)
    examples = examples_of(records)
    by_id = identical_per_id(examples)
    assert len(by_id) == expected_ids and len(examples) == expected_ids + 6, feedback.log_tail()
    newest = {}
    for e in by_id.values():
        assert e.predicted_label == (INTENTS[pids.index(e.prediction_event_id) % 3] if e.model_version == "1"
                                     else INTENTS[(pids.index(e.prediction_event_id) + 1) % 3])
        key = (e.prediction_event_id, e.model_version)
        if key not in newest or newest[key].label_version < e.label_version:
            newest[key] = e
    assert {(pid, version): e.true_label for (pid, version), e in newest.items()} == {
        (pids[i], version): value for i, value in truth.items() for version in ("1", "2")}
    assert {e.deployment for e in by_id.values()} == {Deployment.CHAMPION, Deployment.CHALLENGER}

    def settled(got) -> bool:
        m = latest_metrics(got).get(("intent", "1", T0.isoformat()))
        return m is not None and m.labeled == 10 and m.predictions == 12 and m.label_coverage > 0.8 and \
            m.confusion.get("technical_issue", {}).get("billing_dispute") == 1
    metrics = latest_metrics(await collect(kafka.bootstrap, physical(namespace, "metrics.online"), None, expect=1,
                                           timeout_s=60, until=settled))
    champion = metrics[("intent", "1", T0.isoformat())]
    correct = sum(truth[i] == INTENTS[i % 3] for i in truth)
    assert champion.accuracy == pytest.approx(correct / 10) and champion.label_coverage == pytest.approx(10 / 12)
    assert champion.label_latency_p50_s == pytest.approx(5 * 3600 - 5, rel=0.006)
    challenger = metrics[("intent", "2", T0.isoformat())]
    assert challenger.deployment == Deployment.CHALLENGER and challenger.labeled == 10
    assert challenger.accuracy == pytest.approx(sum(truth[i] == INTENTS[(i + 1) % 3] for i in truth) / 10)
    assert metrics[("sentiment", "1", T0.isoformat())].predictions == 12

    dead = [DeadLetterV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, physical(namespace, "deadletter"), None, expect=1, timeout_s=30)]
    assert [(d.service, d.reason_code.value) for d in dead] == [("feedback", "schema_invalid")]
    assert "unknown_task" in dead[0].reason
    await wait_skipped(feedback, "rating_recorded", 1)
    assert skipped(feedback, "duplicate_label") == 3


@pytest.mark.parametrize("interrupt", ["sigterm", "sigkill"])
async def test_labels_join_across_a_restart(kafka, namespace, service_factory, interrupt):
    """Predictions (and early labels) seen before the restart join with labels that arrive after it."""
    feedback = service_factory("feedback").start()
    before = [f"{namespace}-a{i}" for i in range(30)]  # predictions before the restart, labels after
    early = [f"{namespace}-b{i}" for i in range(10)]  # labels before the restart, predictions after
    await produce(kafka, namespace, "predictions", [prediction(pid, i) for i, pid in enumerate(before)])
    await produce(kafka, namespace, "feedback", [label(pid, "billing_dispute") for pid in early])
    metrics_topic = physical(namespace, "metrics.online")

    def counted(predictions: int, labeled: int):
        def check(got) -> bool:
            m = latest_metrics(got).get(("intent", "1", T0.isoformat()))
            return m is not None and m.predictions == predictions and m.labeled == labeled
        return check
    await collect(kafka.bootstrap, metrics_topic, None, expect=1, timeout_s=60, settle_s=0, until=counted(30, 0))
    await wait_skipped(feedback, "label_buffered", 10)

    if interrupt == "sigterm":
        assert feedback.stop() == 0, feedback.log_tail()
    else:
        feedback.kill()
    feedback.start()

    await produce(kafka, namespace, "feedback", [label(pid, INTENTS[i % 3]) for i, pid in enumerate(before)])
    await produce(kafka, namespace, "predictions", [prediction(pid, 30 + i) for i, pid in enumerate(early)])

    expected = {(pid, version) for pid in before + early for version in ("1", "2")}
    records = await collect(
        kafka.bootstrap, physical(namespace, "examples.labeled"), None, expect=len(expected), timeout_s=90,
        until=lambda got: {(e.prediction_event_id, e.model_version) for e in examples_of(got)} >= expected)
    by_id = identical_per_id(examples_of(records))  # duplicates after a crash must carry the same ids
    assert {(e.prediction_event_id, e.model_version) for e in by_id.values()} == expected, feedback.log_tail()
    assert len(by_id) == len(expected), "one example per (prediction, model output)"
    if interrupt == "sigterm":
        assert len(records) == len(expected), "a graceful stop must not duplicate"
    assert all(e.true_label == INTENTS[before.index(e.prediction_event_id) % 3]
               for e in by_id.values() if e.prediction_event_id in before)

    metrics = latest_metrics(await collect(kafka.bootstrap, metrics_topic, None, expect=1, timeout_s=60,
                                           until=counted(40, 40)))
    champion = metrics[("intent", "1", T0.isoformat())]
    assert (champion.predictions, champion.labeled, champion.label_coverage) == (40, 40, 1.0), feedback.log_tail()
    # before: label = champion's own prediction (all right); early: billing_dispute vs INTENTS[(30+i) % 3]
    correct = 30 + sum(INTENTS[(30 + i) % 3] == "billing_dispute" for i in range(10))
    assert champion.accuracy == pytest.approx(correct / 40)
    assert sum(champion.confusion[t][p] for t in champion.confusion for p in champion.confusion[t]) == 40
    json.dumps(champion.model_dump(mode="json"))
