"""The pipeline so far, end to end on real Kafka and the real Triton server: raw turns (valid, malformed,
duplicated, some carrying seeded personal data) -> ingestion -> features -> inference -> predictions.
Every valid turn must come out as exactly one prediction, every malformed one as a dead letter, and no
seeded personal value may appear downstream of features."""

from __future__ import annotations

from collections import Counter

import pytest

from schemas.dead_letter.v1 import DeadLetterV1
from schemas.prediction.v1 import PredictionV1
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.sample_traffic import PII_CANARIES, malformed_records, valid_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()


async def test_every_raw_turn_ends_as_one_prediction_or_one_dead_letter_without_leaking_pii(
        kafka, triton, namespace, service_factory):
    physical = lambda logical: CONTRACT.physical(logical, namespace)  # noqa: E731
    env = {"SLUICE_FEATURES_TRITON_URL": triton.grpc_url, "SLUICE_INFERENCE_TRITON_URL": triton.grpc_url}
    services = [service_factory(name, **env).start() for name in ("ingestion", "features", "inference")]
    valid = valid_records(300, seed=3, run_id=namespace)
    bad = malformed_records(36, seed=4, run_id=namespace)
    seeded = [r for r in valid if any(value.encode() in r.value for value in PII_CANARIES)]
    assert len(seeded) >= 20, "the sample must carry personal data for this test to mean anything"

    await produce_records(kafka.bootstrap, physical("turns.raw"),
                          [(r.key, r.value, r.headers) for r in valid + bad + valid[:30]])

    predictions = await collect(kafka.bootstrap, physical("predictions"), None, expect=300, timeout_s=240)
    features = await collect(kafka.bootstrap, physical("features"), None, expect=300, timeout_s=30)
    dead = await collect(kafka.bootstrap, physical("deadletter"), None, expect=36, timeout_s=30)

    parsed = [PredictionV1.model_validate_json(r.value) for r in predictions]
    assert Counter(p.turn_id for p in parsed) == Counter(r.event_id for r in valid), services[-1].log_tail()
    assert len({p.event_id for p in parsed}) == len(parsed) == 300
    letters = [DeadLetterV1.model_validate_json(r.value) for r in dead]
    assert Counter(d.reason_code for d in letters) == Counter(r.expected for r in bad)
    assert {d.service for d in letters} == {"ingestion"}

    for record in predictions + features:
        lowered = record.value.lower()
        for value in PII_CANARIES:
            assert value.encode() not in lowered, f"{value!r} leaked into {record.topic}"
    assert any(p.pii for p in parsed) and all(o.model_version for p in parsed for o in p.outputs)
