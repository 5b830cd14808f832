"""The guardrails service on the real broker: predictions in -> turns.enriched and review.requests out.
Blocked turns never reach the enriched topic, flagged ones reach both, and a record that is not a valid
prediction is dead-lettered with its original bytes while the partition keeps flowing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from schemas._parts import Deployment, InjectionSignal, ModelOutput
from schemas.dead_letter.v1 import DeadLetterV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.prediction.v1 import PredictionV1
from schemas.review_request.v1 import ReviewRequestV1
from services.runtime.accounting import account
from services.runtime.codec import encode
from services.runtime.deadletter import original_value
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
INTENTS = ["billing_dispute", "cancel_service", "technical_issue", "account_access", "payment_arrangement",
           "complaint_escalation", "shipping_delivery", "fraud_report", "plan_change", "general_inquiry",
           "greeting", "closing"]


def output(task: str, scores: dict[str, float]) -> ModelOutput:
    label = max(scores, key=scores.__getitem__)
    return ModelOutput(task=task, model_name=task, model_version="1", deployment=Deployment.CHAMPION, label=label,
                       scores=scores, confidence=scores[label])


def prediction(run_id: str, index: int, kind: str) -> PredictionV1:
    toxic = {"toxic": 0.99, "flagged": 0.7}.get(kind, 0.01)
    text = {"pii": "my new card is 4539 1488 0343 6467 ok"}.get(kind, f"turn {index} about my bill")
    injection = InjectionSignal(score=0.97 if kind == "injection" else 0.01, detector_version="test")
    rest = 0.05 / 11
    return PredictionV1(
        event_id=f"{run_id}-pred-{index}", occurred_at=T0, turn_id=f"{run_id}-turn-{index}",
        features_event_id=f"{run_id}-feat-{index}", conversation_id=f"{run_id}-conv-{index % 7}", turn_index=index,
        role="customer", channel="chat", language="en", tenant_id="acme", redacted_text=text,
        outputs=[output("sentiment", {"negative": 0.1, "neutral": 0.8, "positive": 0.1}),
                 output("toxicity", {"non_toxic": 1 - toxic, "toxic": toxic}),
                 output("intent", {i: (0.95 if i == "billing_dispute" else rest) for i in INTENTS})],
        injection=injection,
    )


async def test_predictions_become_enriched_turns_and_review_requests(kafka, namespace, service_factory):
    physical = lambda logical: CONTRACT.physical(logical, namespace)  # noqa: E731
    service_factory("guardrails").start()
    kinds = ["clean", "pii", "toxic", "flagged", "injection"]
    predictions = [prediction(namespace, i, kinds[i % len(kinds)]) for i in range(100)]
    spec = CONTRACT.get("predictions")
    records = [(e.key, e.value, e.headers) for e in (encode(p, spec, "test", T0) for p in predictions)]
    hostile = (b"conv-x", b'{"schema_name": "prediction", "schema_version": 1, "outputs": "not a list"}',
               [("sluice-schema", b"prediction/v1")])
    await produce_records(kafka.bootstrap, physical("predictions"), records[:50] + [hostile] + records[50:])

    enriched = [EnrichedTurnV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, physical("turns.enriched"), None, expect=80, timeout_s=120)]
    reviews = [ReviewRequestV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, physical("review.requests"), None, expect=60, timeout_s=60)]
    result = account([p.turn_id for p in predictions], enriched, reviews)
    assert result.ok, result.summary()
    assert dict(result.counts) == {"enriched": 40, "under_review": 20, "blocked": 40}
    assert result.verdicts == {"pass": 20, "redact": 20, "flag": 20, "block": 40}

    by_turn = {e.turn_id: e for e in enriched}
    for p in predictions:
        kind = kinds[int(p.turn_id.rsplit("-", 1)[1]) % len(kinds)]
        if kind in ("toxic", "injection"):
            assert p.turn_id not in by_turn
        if kind == "pii":
            assert "4539" not in by_turn[p.turn_id].redacted_text and by_turn[p.turn_id].verdict.value == "redact"
    blocked_codes = {r.code for review in reviews if review.verdict.value == "block" for r in review.reasons}
    assert blocked_codes == {"toxicity_above_block_threshold", "prompt_injection"}

    (letter,) = [DeadLetterV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, physical("deadletter"), None, expect=1, timeout_s=30)]
    assert letter.service == "guardrails" and original_value(letter) == hostile[1]
    assert letter.reason_code.value == "schema_invalid" and "invalid field(s)" in letter.reason
