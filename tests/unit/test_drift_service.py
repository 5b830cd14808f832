"""The drift service without Kafka: observations extracted from upstream events, the detector bank on
stationary and shifted streams, cooldown, state restored mid-stream, redelivery, retrain requests."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from schemas._parts import Deployment, ModelOutput, Verdict
from schemas.drift_observation.v1 import DriftObservationV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.prediction.v1 import PredictionV1
from schemas.review_request.v1 import ReviewRequestV1
from services.drift.bank import BankSettings, DetectorBank
from services.drift.handlers import (
    ALERTS_TOPIC,
    OBSERVATIONS_TOPIC,
    RETRAIN_TOPIC,
    make_detection_handler,
    make_extraction_handler,
)
from services.drift.signals import Projection, SignalPlan
from services.runtime.handler import HandlerContext

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
PLAN = SignalPlan(("word_count",), ("intent",), ("intent",), 8)
EXTRACT = make_extraction_handler(PLAN, Projection(4, 8))
LABELS = ("billing", "fraud", "greeting")


def context(offset: int = 0, topic: str = "predictions") -> HandlerContext:
    return HandlerContext(service="drift", now=T0, source_topic=topic, partition=0, offset=offset)


def prediction(index: int, label: str = "billing", words: float = 10.0) -> PredictionV1:
    scores = {name: (0.8 if name == label else 0.1) for name in LABELS}
    return PredictionV1(
        event_id=f"pred-{index}", occurred_at=T0 + timedelta(seconds=index), turn_id=f"turn-{index}",
        features_event_id=f"feat-{index}", conversation_id="c", turn_index=index, role="customer", channel="chat",
        language="en", tenant_id="acme", redacted_text="text",
        outputs=[ModelOutput(task="intent", model_name="intent", model_version="1", label=label, scores=scores,
                             confidence=0.8),
                 ModelOutput(task="intent", model_name="intent", model_version="2", label="greeting", scores=scores,
                             confidence=0.8, deployment=Deployment.CHALLENGER)],
        numeric={"word_count": words, "ignored": 1.0},
        embedding_b64=base64.b64encode(np.array([1, 0, 0, 0], dtype="<f2").tobytes()).decode(),
    )


def test_a_prediction_becomes_one_observation_of_champion_signals():
    (out,) = EXTRACT(prediction(1, "fraud", 12.0), {}, context()).outputs
    assert out.topic == OBSERVATIONS_TOPIC
    observation = out.event
    assert observation.numeric == {"numeric.word_count": 12.0, "confidence.intent": 0.8}
    assert observation.categorical == {"class.intent": "fraud"}  # the champion's label, not the challenger's
    assert observation.embedding is not None and len(observation.embedding) == 8
    again = EXTRACT(prediction(1, "fraud", 12.0), {}, context()).outputs[0].event
    assert again.event_id == observation.event_id  # redelivery republishes the same id


def test_verdicts_count_once_per_turn_and_labels_become_error_outcomes():
    enriched = EnrichedTurnV1(
        event_id="e1", occurred_at=T0, turn_id="t1", prediction_event_id="p1", conversation_id="c", turn_index=0,
        role="customer", channel="chat", language="en", tenant_id="acme", redacted_text="x", predictions=[],
        verdict=Verdict.FLAG, policy_version="v")
    assert EXTRACT(enriched, {}, context()).outputs[0].event.categorical == {"verdict": "flag"}

    def review(verdict):
        return ReviewRequestV1(event_id=f"r-{verdict}", occurred_at=T0, turn_id="t1", prediction_event_id="p1",
                               conversation_id="c", tenant_id="acme", verdict=verdict, reasons=[], redacted_text="x",
                               policy_version="v")

    assert EXTRACT(review(Verdict.FLAG), {}, context()).skipped == "flag_counted_on_enriched"
    assert EXTRACT(review(Verdict.BLOCK), {}, context()).outputs[0].event.categorical == {"verdict": "block"}
    example = LabeledExampleV1(
        event_id="l1", occurred_at=T0, turn_id="t1", prediction_event_id="p1", feedback_event_id="f1",
        task="intent", model_name="intent", model_version="1", deployment=Deployment.CHAMPION,
        predicted_label="billing", true_label="fraud", confidence=0.8, redacted_text="x", label_source="agent",
        label_version=1, predicted_at=T0, labeled_at=T0, label_latency_s=0.0)
    assert EXTRACT(example, {}, context()).outputs[0].event.binary == {"error.intent/intent/1/champion": True}


# --- the detector bank ----------------------------------------------------------------------------------------
SETTINGS = BankSettings(budget_per_1e5=1.0, reference_windows=100, window=5, label_window=1, cooldown_s=0,
                        retrain_min_labeled=50, numeric_features=("word_count",), confidence_tasks=("intent",),
                        class_labels={"intent": LABELS}, verdicts=("block",), embedding=False,
                        class_reference=200, turns_per_conversation=1.0)


def observation(index: int, label: str, words: float) -> DriftObservationV1:
    return DriftObservationV1(event_id=f"obs-{index}", occurred_at=T0 + timedelta(seconds=index),
                              source_topic="predictions", source_event_id=f"p{index}",
                              numeric={"numeric.word_count": words, "confidence.intent": 0.8},
                              categorical={"class.intent": label})


def stream(n: int, seed: int, fraud_share: float = 0.1, start: int = 0):
    rng = random.Random(seed)
    for i in range(start, start + n):
        label = "fraud" if rng.random() < fraud_share else rng.choice(["billing", "greeting"])
        yield observation(i, label, float(rng.randint(3, 25)))


def drive(handler, observations, state, offset0: int = 0):
    alerts, retrains = [], []
    for offset, event in enumerate(observations, start=offset0):
        result = handler(event, state, context(offset, "drift.observations"))
        state.update(result.state_updates)
        alerts += [o.event for o in result.outputs if o.topic == ALERTS_TOPIC]
        retrains += [o.event for o in result.outputs if o.topic == RETRAIN_TOPIC]
    return alerts, retrains


def handler():
    return make_detection_handler(SETTINGS, lambda: DetectorBank(SETTINGS))


def test_stationary_stream_raises_nothing_and_a_class_mix_shift_is_caught_soon():
    state: dict = {}
    detect = handler()
    alerts, _ = drive(detect, stream(4000, seed=1), state)
    assert alerts == []
    shifted, _ = drive(detect, stream(600, seed=2, fraud_share=0.5, start=4000), state, offset0=4000)
    fraud = [a for a in shifted if a.signal == "class.intent.fraud"]
    assert fraud, [a.signal for a in shifted]
    alert = fraud[0]
    assert alert.signal_kind == "class_mix" and alert.severity == "warning"
    assert alert.window_events - 4000 <= 150, alert.window_events
    assert alert.reference_summary["p0"] == pytest.approx(0.1, abs=0.05)
    assert alert.statistic >= 1.0 and alert.threshold > 0 and "CUSUM" in alert.detector


def test_state_restored_mid_stream_behaves_like_the_uninterrupted_bank():
    events = list(stream(400, seed=3)) + list(stream(300, seed=4, fraud_share=0.6, start=400))
    state_a: dict = {}
    alerts_a, _ = drive(handler(), events, state_a)
    state_b: dict = {}
    drive(handler(), events[:350], state_b)
    restored_state = {k: v for k, v in state_b.items()}  # what the changelog restores
    alerts_b, _ = drive(handler(), events[350:], restored_state, offset0=350)
    assert [(a.signal, a.window_events) for a in alerts_a] == [(a.signal, a.window_events) for a in alerts_b]
    assert alerts_a


def test_a_redelivered_observation_is_not_counted_twice():
    state: dict = {}
    detect = handler()
    events = list(stream(10, seed=5))
    drive(detect, events, state)
    before = state["bank"]["observations"]["numeric.word_count"]
    result = detect(events[-1], state, context(9, "drift.observations"))
    assert result.skipped == "observation_already_applied"
    assert state["bank"]["observations"]["numeric.word_count"] == before == 10


def test_error_rate_drift_of_the_champion_requests_retraining():
    state: dict = {}
    detect = handler()
    rng = random.Random(7)
    events = []
    for i in range(1500):
        wrong = rng.random() < (0.1 if i < 600 else 0.5)
        events.append(DriftObservationV1(
            event_id=f"l{i}", occurred_at=T0 + timedelta(seconds=i), source_topic="examples.labeled",
            source_event_id=f"l{i}", binary={"error.intent/intent/1/champion": wrong}))
    alerts, retrains = drive(detect, events, state)
    assert alerts and alerts[0].signal_kind == "error_rate" and alerts[0].severity == "critical"
    assert alerts[0].model_name == "intent" and alerts[0].model_version == "1"
    assert alerts[0].window_events > 600
    (retrain,) = retrains[:1]
    assert retrain.model_name == "intent" and retrain.task == "intent" and retrain.alert_event_ids == [
        alerts[0].event_id]


def test_error_rate_detector_state_survives_a_restore():
    rng = random.Random(11)
    events = [DriftObservationV1(
        event_id=f"l{i}", occurred_at=T0 + timedelta(seconds=i), source_topic="examples.labeled",
        source_event_id=f"l{i}", binary={"error.intent/intent/1/champion": rng.random() < (0.1 if i < 650 else 0.5)})
        for i in range(1200)]
    uninterrupted, _ = drive(handler(), events, {})
    state: dict = {}
    drive(handler(), events[:620], state)
    resumed, _ = drive(handler(), events[620:], dict(state), offset0=620)
    assert uninterrupted and [(a.signal, a.window_events) for a in uninterrupted] == [
        (a.signal, a.window_events) for a in resumed]
