"""One realistic example per schema version; checked in under contracts/examples/ and validated in tests."""

from __future__ import annotations

from datetime import datetime, timezone

from schemas._base import Channel, EventModel, Role
from schemas._parts import Deployment, InjectionSignal, ModelOutput, PiiSpan, Verdict, VerdictReason
from schemas.dead_letter.v1 import DeadLetterReason, DeadLetterV1, FieldError, OriginalHeader
from schemas.drift_alert.v1 import DriftAlertV1
from schemas.drift_observation.v1 import DriftObservationV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.features.v1 import FeaturesV1
from schemas.feedback.v1 import FeedbackV1
from schemas.feedback_join.v1 import FeedbackJoinV1, PredictionSnapshot, SnapshotOutput
from schemas.feedback_metric_update.v1 import FeedbackMetricUpdateV1, LabeledObservation, MetricDelta
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.online_metrics.v1 import ClassMetrics, OnlineMetricsV1
from schemas.prediction.v1 import PredictionV1
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2
from schemas.retrain_request.v1 import RetrainRequestV1
from schemas.review_request.v1 import ReviewRequestV1
from schemas.validated_turn.v1 import ValidatedTurnV1

T0 = datetime(2026, 11, 27, 9, 30, 12, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 27, 9, 30, 17, 400000, tzinfo=timezone.utc)
TEXT = "hi this is maria lopez my card ending four four one two was charged twice"
REDACTED = "hi this is [PERSON] my card ending [CARD] was charged twice"
PII = [
    PiiSpan(pii_type="PERSON", start=11, end=22, detector="rampart", score=0.97),
    PiiSpan(pii_type="CARD", start=41, end=59, detector="spoken_digits", score=0.9),
]
INTENT = ModelOutput(task="intent", model_name="intent", model_version="1", deployment=Deployment.CHAMPION,
                     label="billing_dispute", scores={"billing_dispute": 0.91, "complaint_escalation": 0.06,
                                                      "fraud_report": 0.03},
                     confidence=0.91, latency_ms=3.2)
TOXICITY = ModelOutput(task="toxicity", model_name="toxicity", model_version="1", label="non_toxic",
                       scores={"non_toxic": 0.97, "toxic": 0.03}, confidence=0.97, latency_ms=2.8)
INJECTION = InjectionSignal(score=0.02, model_score=0.02, rule_hits=[], detector_version="injection-rules-1+model-1",
                            model="injection/1")
SENTIMENT = ModelOutput(task="sentiment", model_name="sentiment", model_version="1", label="negative",
                        scores={"negative": 0.78, "neutral": 0.19, "positive": 0.03}, confidence=0.78, latency_ms=2.9)

EXAMPLES: list[EventModel] = [
    RawTurnV1(
        event_id="legacy-7f3e-0004", occurred_at=T1, conversation_id="call-2026-11-27-0042", turn_index=4,
        speaker="Caller", text="  hi this is maria lopez   my card ending four four one two was charged twice ",
        timestamp=T1, medium="phone", tenant="acme-telecom", metadata={"queue": "billing"},
    ),
    RawTurnV2(
        event_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", occurred_at=T1, conversation_id="call-2026-11-27-0042",
        turn_index=4, role=Role.CUSTOMER, text="  hi this is maria lopez   my card ending four four one two was charged twice ",
        started_at=T0, ended_at=T1, channel=Channel.VOICE, language="en-us", tenant_id="acme-telecom",
        metadata={"queue": "billing", "asr_engine": "whisper-large-v3", "asr_confidence": 0.87},
    ),
    ValidatedTurnV1(
        event_id="5d0c1d7e-9e0f-5a43-8f1a-6c1c4f3e2b10", occurred_at=T1, produced_at=T1, producer="ingestion",
        turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", conversation_id="call-2026-11-27-0042", turn_index=4,
        role=Role.CUSTOMER, text=TEXT, started_at=T0, ended_at=T1, channel=Channel.VOICE, language="en-US",
        tenant_id="acme-telecom", metadata={"queue": "billing"}, source_schema="raw_turn/v2",
        normalizations=["language_case", "whitespace"], received_at=T1,
    ),
    FeaturesV1(
        event_id="features-0b6f4c1e", occurred_at=T1, producer="features", turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42",
        conversation_id="call-2026-11-27-0042", turn_index=4, role=Role.CUSTOMER, channel=Channel.VOICE,
        language="en-US", tenant_id="acme-telecom", started_at=T0, ended_at=T1, redacted_text=REDACTED, pii=PII,
        numeric={"char_count": 73.0, "word_count": 15.0, "duration_s": 5.4, "pii_count": 2.0},
        embedding=[0.012, -0.094, 0.051], embedding_model="all-MiniLM-L6-v2/1", context_turn_ids=["turn-3"],
        injection=INJECTION,
    ),
    PredictionV1(
        event_id="prediction-0b6f4c1e", occurred_at=T1, producer="inference",
        turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", features_event_id="features-0b6f4c1e",
        conversation_id="call-2026-11-27-0042", turn_index=4, role=Role.CUSTOMER, channel=Channel.VOICE,
        language="en-US", tenant_id="acme-telecom", redacted_text=REDACTED, pii=PII,
        outputs=[INTENT, SENTIMENT, TOXICITY], started_at=T0, ended_at=T1,
        numeric={"char_count": 73.0, "word_count": 15.0, "duration_s": 5.4, "pii_count": 2.0}, injection=INJECTION,
    ),
    EnrichedTurnV1(
        event_id="enriched-0b6f4c1e", occurred_at=T1, producer="guardrails",
        turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", prediction_event_id="prediction-0b6f4c1e",
        conversation_id="call-2026-11-27-0042", turn_index=4, role=Role.CUSTOMER, channel=Channel.VOICE,
        language="en-US", tenant_id="acme-telecom", started_at=T0, ended_at=T1, redacted_text=REDACTED,
        pii_types=["CARD", "PERSON"], predictions=[INTENT, SENTIMENT, TOXICITY], verdict=Verdict.REDACT,
        reasons=[VerdictReason(check="residual_pii", code="residual_pii", verdict=Verdict.REDACT,
                               detail="1 span(s) of NUMBER_SEQUENCE left after the features stage; redacted here")],
        policy_version="2026-11-27.1#ed33068e", features_summary={"word_count": 15.0},
    ),
    ReviewRequestV1(
        event_id="review-0b6f4c1e", occurred_at=T1, turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42",
        prediction_event_id="prediction-0b6f4c1e", conversation_id="call-2026-11-27-0042", tenant_id="acme-telecom",
        verdict=Verdict.FLAG,
        reasons=[VerdictReason(check="low_confidence", code="low_confidence", verdict=Verdict.FLAG,
                               detail="intent 'billing_dispute' from intent v1", score=0.38, threshold=0.4)],
        redacted_text=REDACTED, predictions=[INTENT], policy_version="2026-11-27.1#ed33068e", priority="low",
    ),
    FeedbackV1(
        event_id="feedback-7781", occurred_at=T1, prediction_event_id="prediction-0b6f4c1e",
        turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", label_source="human_review", label_name="intent",
        label_value="billing_dispute", label_version=1, rating=5, review_decision="approve", reviewer_id="rev-12",
    ),
    LabeledExampleV1(
        event_id="labeled-7781", occurred_at=T1, turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42",
        prediction_event_id="prediction-0b6f4c1e", feedback_event_id="feedback-7781", task="intent",
        model_name="intent_head", model_version="1", deployment=Deployment.CHAMPION,
        predicted_label="billing_dispute", true_label="billing_dispute", confidence=0.91, redacted_text=REDACTED,
        label_source="human_review", label_version=1, predicted_at=T0, labeled_at=T1, label_latency_s=5.4,
    ),
    OnlineMetricsV1(
        event_id="metrics-intent-1-20261127T09", occurred_at=T1, model_name="intent_head", model_version="1",
        deployment=Deployment.CHAMPION, task="intent", window_start=T0.replace(minute=0, second=0),
        window_end=T0.replace(hour=10, minute=0, second=0), predictions=1200, labeled=300, label_coverage=0.25,
        accuracy=0.84,
        per_class={"billing_dispute": ClassMetrics(precision=0.9, recall=0.86, f1=0.88, support=64)},
        confusion={"billing_dispute": {"billing_dispute": 55, "complaint": 9}},
        label_latency_p50_s=540.0, label_latency_p95_s=7200.0,
    ),
    DriftAlertV1(
        event_id="alert-word-count-0001", occurred_at=T1, signal="features.numeric.word_count", signal_kind="numeric",
        detector="CUSUM(k=0.5,h=12.1)", statistic=12.6, threshold=12.1, false_alarm_budget_per_1e5=1.0,
        window_events=23, reference_summary={"mean": 14.2, "std": 6.1}, current_summary={"mean": 21.9, "std": 7.4},
        severity="warning", cooldown_s=900.0, tenant_id="acme-telecom",
    ),
    RetrainRequestV1(
        event_id="retrain-intent-1-0001", occurred_at=T1, model_name="intent_head", model_version="1", task="intent",
        reason="error rate rose from 0.10 to 0.21 (confirmed by 2 detectors)",
        alert_event_ids=["alert-intent-error-0007"], labeled_examples_available=4200,
    ),
    DeadLetterV1(
        event_id="3c8a9d4e-1f2b-5c6d-8e7f-9a0b1c2d3e4f", occurred_at=T1, producer="ingestion",
        reason_code=DeadLetterReason.SCHEMA_INVALID, reason="1 invalid field(s): turn_index: Input should be a valid integer",
        field_errors=[FieldError(loc="turn_index", msg="Input should be a valid integer", type="int_parsing")],
        service="ingestion", source_topic="sluice.turns.raw", source_partition=2, source_offset=1187,
        source_timestamp=T1, original_key_b64="Y2FsbC0yMDI2LTExLTI3LTAwNDI=",
        original_value_b64="eyJ0dXJuX2luZGV4IjogImZvdXIifQ==",
        original_headers=[OriginalHeader(key="sluice-schema", value_b64="cmF3X3R1cm4vdjI=")], attempts=1,
    ),
    DriftObservationV1(
        event_id="obs-prediction-0b6f4c1e", occurred_at=T1, producer="drift", source_topic="predictions",
        source_event_id="prediction-0b6f4c1e", tenant_id="acme-telecom",
        numeric={"numeric.word_count": 15.0, "confidence.intent": 0.91, "confidence.sentiment": 0.78},
        categorical={"class.intent": "billing_dispute", "class.sentiment": "negative"},
        embedding=[0.12, -0.4, 0.05, 0.31],
    ),
    FeedbackJoinV1(
        event_id="0f4b9a2e-3c1d-5e6f-8a7b-9c0d1e2f3a4b", occurred_at=T1, producer="feedback",
        prediction_event_id="prediction-0b6f4c1e", kind="prediction",
        prediction=PredictionSnapshot(
            turn_id="0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", conversation_id="call-2026-11-27-0042",
            tenant_id="acme-telecom", predicted_at=T1, redacted_text=REDACTED,
            outputs=[SnapshotOutput(task="intent", model_name="intent", model_version="1",
                                    deployment=Deployment.CHAMPION, label="billing_dispute", confidence=0.91),
                     SnapshotOutput(task="intent", model_name="intent", model_version="2",
                                    deployment=Deployment.CHALLENGER, label="fraud_report", confidence=0.55)],
        ),
    ),
    FeedbackMetricUpdateV1(
        event_id="7c2e5d1a-9b3f-5a4c-8d6e-1f2a3b4c5d6e", occurred_at=T1, producer="feedback",
        prediction_event_id="prediction-0b6f4c1e", source_partition=1, source_offset=4711,
        deltas=[MetricDelta(model_name="intent", model_version="1", deployment=Deployment.CHAMPION, task="intent",
                            window_start=datetime(2026, 11, 27, 9, tzinfo=timezone.utc),
                            window_end=datetime(2026, 11, 27, 10, tzinfo=timezone.utc),
                            add=LabeledObservation(true_label="billing_dispute", predicted_label="billing_dispute",
                                                   label_latency_s=3600.0),
                            retract=LabeledObservation(true_label="fraud_report", predicted_label="billing_dispute",
                                                       label_latency_s=1800.0))],
    ),
]
