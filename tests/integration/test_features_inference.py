"""Validated turns -> features -> predictions on the real broker and the real Triton server (CPU),
with Triton stopped in the middle of the stream and started again."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from schemas.features.v1 import FeaturesV1
from schemas.prediction.v1 import PredictionV1
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.runtime.codec import encode
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration

CONTRACT = load_contract()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)

# Seeded personal values: none may appear in any topic downstream of features.
CANARIES = {
    "card": ("my card number is 4539 1488 0343 6467 and it was charged twice", "4539 1488 0343 6467"),
    "spoken_card": ("the card is four five three nine one four eight eight oh three four three six four six seven",
                    "four five three nine one four eight eight oh three four three six four six seven"),
    "email": ("you can email me at priya.raman@example.org thanks", "priya.raman@example.org"),
    "spoken_email": ("it's k dot patel at yahoo dot com", "k dot patel at yahoo dot com"),
    "name": ("hi this is margaret o'neill calling about my bill", "margaret o'neill"),
    "phone": ("call me back on 415-555-0132 please", "415-555-0132"),
}
PLAIN = [
    "i was charged twice for my internet bill this month",
    "thank you for calling how can i help you today",
    "my router keeps dropping the connection every evening",
    "i would like to cancel my subscription please",
    "let me look into that for you one moment",
    "yes that one please",
]


def physical(logical: str, namespace: str) -> str:
    return CONTRACT.physical(logical, namespace)


def validated_turns(count: int, run_id: str) -> list[ValidatedTurnV1]:
    canaries = list(CANARIES.values())
    turns = []
    for index in range(count):
        turn_index = index % 6
        role = "customer" if turn_index % 2 == 0 else "agent"
        text = canaries[index % len(canaries)][0] if index % 3 == 0 else PLAIN[index % len(PLAIN)]
        start = T0 + timedelta(seconds=index * 5)
        turns.append(ValidatedTurnV1(
            event_id=f"{run_id}-v-{index:05d}", occurred_at=start, turn_id=f"{run_id}-{index:05d}",
            conversation_id=f"{run_id}-conv-{index // 6:04d}", turn_index=turn_index, role=role, text=text,
            started_at=start, ended_at=start + timedelta(seconds=4), channel="voice", language="en-US",
            tenant_id="acme-telecom", source_schema="raw_turn/v2", received_at=start,
        ))
    return turns


def records(turns: list[ValidatedTurnV1]):
    spec = CONTRACT.get("turns.validated")
    out = []
    for turn in turns:
        encoded = encode(turn, spec, "test", T0)
        out.append((encoded.key, encoded.value, encoded.headers))
    return out


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


async def test_turns_become_features_and_predictions_once_across_a_triton_outage(
        kafka, triton, namespace, service_factory):
    env = {"SLUICE_FEATURES_TRITON_URL": triton.grpc_url, "SLUICE_INFERENCE_TRITON_URL": triton.grpc_url}
    features = service_factory("features", **env).start()
    inference = service_factory("inference", **env).start()
    turns = validated_turns(240, namespace)
    first, second = turns[:120], turns[120:]

    await produce_records(kafka.bootstrap, physical("turns.validated", namespace), records(first))
    seen = await collect(kafka.bootstrap, physical("predictions", namespace), None, expect=60, timeout_s=120,
                         settle_s=0)
    assert len(seen) >= 60, inference.log_tail()

    triton.run("stop")
    try:
        await produce_records(kafka.bootstrap, physical("turns.validated", namespace), records(second))
        # Backpressure, not failure: both services report the outage and wait; nothing is dead-lettered.
        await asyncio.to_thread(wait_until, lambda: features.http_get("/readyz")[0] == 503, 60,
                                "features never noticed Triton was down")
        status, body = features.http_get("/readyz")
        assert json.loads(body)["waiting_for"], body
        assert features.process.poll() is None and inference.process.poll() is None
    finally:
        triton.run("start")

    predictions = await collect(kafka.bootstrap, physical("predictions", namespace), None, expect=240,
                                timeout_s=180)
    feature_records = await collect(kafka.bootstrap, physical("features", namespace), None, expect=240,
                                    timeout_s=30)
    dead = await collect(kafka.bootstrap, physical("deadletter", namespace), None, expect=0, timeout_s=3,
                         settle_s=1)
    assert dead == [], [json.loads(r.value)["reason"] for r in dead]

    parsed = [PredictionV1.model_validate_json(r.value) for r in predictions]
    ids = Counter(p.event_id for p in parsed)
    assert {p.turn_id for p in parsed} == {t.turn_id for t in turns}, inference.log_tail()
    assert max(ids.values()) == 1 and len(parsed) == 240, "a turn was predicted more than once"
    for prediction in parsed:
        tasks = Counter((o.task, o.deployment.value) for o in prediction.outputs)
        assert tasks[("sentiment", "champion")] == tasks[("toxicity", "champion")] == 1, tasks
        assert tasks[("intent", "champion")] == 1 and tasks[("intent", "challenger")] == 1, tasks
        for output in prediction.outputs:
            assert abs(sum(output.scores.values()) - 1.0) < 1e-3 and output.latency_ms > 0
            assert output.model_version

    feats = {f.turn_id: f for f in (FeaturesV1.model_validate_json(r.value) for r in feature_records)}
    assert len(feats) == 240
    # Conversation state: turn counts follow the turn index; context holds the earlier turns.
    for turn in turns:
        f = feats[turn.turn_id]
        assert f.numeric["turn_count"] == turn.turn_index + 1
        assert len(f.context_turn_ids) == min(turn.turn_index, 3)

    # No seeded personal value in any downstream topic, in any form.
    downstream = [r.value for r in predictions + feature_records]
    for name, (_, value) in CANARIES.items():
        leaked = [v for v in downstream if value.encode() in v.lower()]
        assert not leaked, f"{name} value leaked downstream: {leaked[0][:200]!r}"
    redacted = {f.redacted_text for f in feats.values()}
    assert any("[CARD]" in text for text in redacted) and any("[EMAIL]" in text for text in redacted)
