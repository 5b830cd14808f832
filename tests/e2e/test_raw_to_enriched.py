"""The whole pipeline on real Kafka and the real Triton server: generated conversations (PII in many forms,
toxic turns, injection attempts and their look-alikes) plus malformed records and duplicates ->
ingestion -> features -> inference -> guardrails -> turns.enriched / review.requests.

Per-event accounting: every valid raw turn ends enriched, under review or blocked, exactly once (one
event id per outcome), every malformed record as one dead letter, nothing else. No seeded personal value
appears on any topic downstream of features, and no blocked turn's text reaches the enriched topic."""

from __future__ import annotations

from collections import Counter

import pytest

from schemas.dead_letter.v1 import DeadLetterV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.review_request.v1 import ReviewRequestV1
from services.runtime.accounting import account
from services.runtime.conversations import generate_turns
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.sample_traffic import malformed_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
TURNS = 360
BAD = 36


async def test_every_raw_turn_ends_enriched_under_review_blocked_or_dead_lettered_exactly_once(
        kafka, triton, namespace, service_factory):
    physical = lambda logical: CONTRACT.physical(logical, namespace)  # noqa: E731
    env = {"SLUICE_FEATURES_TRITON_URL": triton.grpc_url, "SLUICE_INFERENCE_TRITON_URL": triton.grpc_url}
    services = [service_factory(name, **env).start()
                for name in ("ingestion", "features", "inference", "guardrails")]
    turns = generate_turns(TURNS, seed=5, run_id=namespace, pii_share=0.3, toxic_share=0.08, injection_share=0.2)
    valid = [t.record for t in turns]
    bad = malformed_records(BAD, seed=4, run_id=namespace)
    canaries = {value for t in turns for value in t.truth.pii_values if len(value) >= 6}
    injections = {t.record.event_id for t in turns if t.truth.injection}
    assert len(canaries) >= 20 and len(injections) >= 5, "the sample must exercise what this test checks"

    await produce_records(kafka.bootstrap, physical("turns.raw"),
                          [(r.key, r.value, r.headers) for r in valid + bad + valid[:30]])

    enriched_records = await collect(kafka.bootstrap, physical("turns.enriched"), None, expect=TURNS // 2,
                                     timeout_s=300, settle_s=3.0)
    enriched = [EnrichedTurnV1.model_validate_json(r.value) for r in enriched_records]
    # Every turn not on the enriched topic must be under review (blocked), and so must every flagged one.
    on_enriched = {e.turn_id for e in enriched}
    expect_reviews = TURNS - len(on_enriched) + len({e.turn_id for e in enriched if e.verdict.value == "flag"})
    review_records = await collect(kafka.bootstrap, physical("review.requests"), None, expect=expect_reviews,
                                   timeout_s=120, settle_s=2.0)
    reviews = [ReviewRequestV1.model_validate_json(r.value) for r in review_records]
    result = account([r.event_id for r in valid], enriched, reviews)
    assert result.ok, f"{result.summary()}\nlost: {result.lost[:5]}\nproblems: {result.problems[:5]}\n" \
                      f"{services[-1].log_tail()}"
    assert sum(result.counts.values()) == TURNS and result.redeliveries == 0
    assert result.counts["enriched"] > TURNS // 2 and result.counts["blocked"] > 0

    dead = await collect(kafka.bootstrap, physical("deadletter"), None, expect=BAD, timeout_s=30)
    letters = [DeadLetterV1.model_validate_json(r.value) for r in dead]
    assert Counter(d.reason_code for d in letters) == Counter(r.expected for r in bad)
    assert {d.service for d in letters} == {"ingestion"}

    blocked = {turn_id for turn_id, outcome in result.outcomes.items() if outcome == "blocked"}
    assert not blocked & {e.turn_id for e in enriched}
    caught = blocked & injections
    assert len(caught) >= 0.8 * len(injections), f"only {len(caught)}/{len(injections)} injection attempts blocked"
    assert all(r.reasons and r.policy_version for r in reviews)

    downstream = {logical: await collect(kafka.bootstrap, physical(logical), None, expect=TURNS, timeout_s=30,
                                         settle_s=0.5) for logical in ("features", "predictions")}
    for topic, records in {**downstream, "turns.enriched": enriched_records,
                           "review.requests": review_records}.items():
        for record in records:
            lowered = record.value.lower()
            for value in canaries:
                assert value.lower().encode() not in lowered, f"{value!r} leaked into {topic}"
