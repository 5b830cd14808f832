"""The feedback service's pure handlers, driven through the same state the runtime uses (TtlState), in memory.

A small harness plays the runtime: predictions and feedback are re-keyed onto the join, the join's metric
updates go to the aggregation, and every state change is written the way the runtime writes it.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from schemas._parts import Deployment, ModelOutput
from schemas.feedback.v1 import FeedbackV1
from schemas.feedback_join.v1 import FeedbackJoinV1
from schemas.feedback_metric_update.v1 import FeedbackMetricUpdateV1, LabeledObservation, MetricDelta
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.online_metrics.v1 import OnlineMetricsV1
from schemas.prediction.v1 import PredictionV1
from services.feedback.config import FeedbackSettings
from services.feedback.handlers import (
    APPLIED_KEY,
    FeedbackRules,
    bucket_of,
    make_feedback_rekey_handler,
    make_join_handler,
    make_metrics_handler,
    make_prediction_rekey_handler,
    percentile,
)
from services.runtime.handler import HandlerContext, Rejected
from services.runtime.state import TtlState

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
DAY = 86_400.0
INTENTS = ("billing_dispute", "cancel_service", "technical_issue")
RULES = FeedbackRules(task_labels={"intent": INTENTS, "sentiment": ("negative", "neutral", "positive")},
                      join_ttl_s=14 * DAY, bucket_s=3600)


def output(task: str, label: str, version: str = "1", deployment: Deployment = Deployment.CHAMPION,
           confidence: float = 0.8) -> ModelOutput:
    return ModelOutput(task=task, model_name=task, model_version=version, deployment=deployment, label=label,
                       scores={label: confidence}, confidence=confidence)


def prediction(pid: str, champion: str = "billing_dispute", challenger: str = "cancel_service",
               at: datetime = T0, sentiment: str = "negative") -> PredictionV1:
    return PredictionV1(
        event_id=pid, occurred_at=at, turn_id=f"turn-{pid}", features_event_id=f"feat-{pid}",
        conversation_id=f"conv-{pid}", turn_index=0, role="customer", channel="chat", language="en",
        tenant_id="acme", redacted_text=f"text of {pid}",
        outputs=[output("intent", champion), output("intent", challenger, "2", Deployment.CHALLENGER, 0.6),
                 output("sentiment", sentiment)],
    )


def feedback(pid: str, value: str, *, version: int = 1, source: str = "human_review", task: str = "intent",
             at: datetime | None = None, event_id: str | None = None, **extra) -> FeedbackV1:
    return FeedbackV1(
        event_id=event_id or f"fb-{pid}-{source}-{task}-{version}-{value}", occurred_at=at or T0 + timedelta(hours=2),
        prediction_event_id=pid, label_source=source, label_name=task, label_value=value, label_version=version,
        **extra,
    )


class Harness:
    """Plays the runtime for the four routes; `now` is the processing clock."""

    def __init__(self, rules: FeedbackRules = RULES, metrics_ttl_s: float = 15 * DAY):
        self.rules = rules
        self.rekey_prediction = make_prediction_rekey_handler()
        self.rekey_feedback = make_feedback_rekey_handler(rules)
        self.join_handler = make_join_handler(rules)
        self.metrics_handler = make_metrics_handler(rules)
        self.joins = TtlState({}, rules.join_ttl_s)
        self.metrics = TtlState({}, metrics_ttl_s)
        self.now = T0 + timedelta(minutes=1)
        self.join_offsets = Counter()
        self.update_offset = 0
        self.examples: list[LabeledExampleV1] = []
        self.snapshots: list[OnlineMetricsV1] = []
        self.updates: list[FeedbackMetricUpdateV1] = []
        self.skipped: list[str] = []

    def context(self, partition: int, offset: int) -> HandlerContext:
        return HandlerContext(service="feedback", now=self.now, source_topic="x", partition=partition, offset=offset)

    def send(self, event) -> list:
        """Produce a prediction or a feedback event; return everything that came out at the end."""
        before = len(self.examples), len(self.snapshots)
        handler = self.rekey_prediction if isinstance(event, PredictionV1) else self.rekey_feedback
        [joined] = handler(event, {}, self.context(0, 0)).outputs
        assert joined.topic == "feedback.join"
        partition = zlib.crc32(joined.event.prediction_event_id.encode()) % 3
        offset = self.join_offsets[partition]
        self.join_offsets[partition] += 1
        self.join(joined.event, partition, offset)
        return self.examples[before[0]:] + self.snapshots[before[1]:]

    def join(self, event: FeedbackJoinV1, partition: int, offset: int) -> None:
        now = self.now.timestamp()
        result = self.join_handler(event, self.joins.at(now), self.context(partition, offset))
        if result.skipped:
            self.skipped.append(result.skipped)
        for key, value in result.state_updates.items():
            json.dumps(value)  # state must be JSON-serialisable (it goes to the changelog as JSON)
            self.joins.write(key, value, partition, now)
        for out in result.outputs:
            if out.topic == "examples.labeled":
                self.examples.append(out.event)
            else:
                assert out.topic == "feedback.metric-updates"
                self.updates.append(out.event)
                self.aggregate(out.event)

    def aggregate(self, update: FeedbackMetricUpdateV1) -> None:
        now = self.now.timestamp()
        result = self.metrics_handler(update, self.metrics.at(now), self.context(0, self.update_offset))
        self.update_offset += 1
        if result.skipped:
            self.skipped.append(result.skipped)
        for key, value in result.state_updates.items():
            json.dumps(value)
            self.metrics.write(key, value, 0, now)
        for out in result.outputs:
            assert out.topic == "metrics.online"
            self.snapshots.append(out.event)

    def latest(self, model: str = "intent", version: str = "1", window_start: datetime = T0) -> OnlineMetricsV1:
        matching = [s for s in self.snapshots
                    if (s.model_name, s.model_version, s.window_start) == (model, version, window_start)]
        return matching[-1]


def examples_of(outputs) -> list[LabeledExampleV1]:
    return [o for o in outputs if isinstance(o, LabeledExampleV1)]


# --- the join -----------------------------------------------------------------------------------------------


def test_a_late_label_joins_its_prediction_and_scores_champion_and_challenger():
    h = Harness()
    h.send(prediction("p1"))
    assert not h.examples
    out = h.send(feedback("p1", "billing_dispute", at=T0 + timedelta(days=3)))
    examples = examples_of(out)
    assert {(e.model_version, e.deployment, e.predicted_label) for e in examples} == {
        ("1", Deployment.CHAMPION, "billing_dispute"), ("2", Deployment.CHALLENGER, "cancel_service")}
    for e in examples:
        assert (e.prediction_event_id, e.turn_id, e.task) == ("p1", "turn-p1", "intent")
        assert e.true_label == "billing_dispute"
        assert e.redacted_text == "text of p1" and e.label_source == "human_review" and e.label_version == 1
        assert e.label_latency_s == 3 * DAY and e.predicted_at == T0
        assert e.feedback_event_id == "fb-p1-human_review-intent-1-billing_dispute"
    champion, challenger = h.latest("intent", "1"), h.latest("intent", "2")
    assert (champion.labeled, champion.predictions, champion.accuracy) == (1, 1, 1.0)
    assert (challenger.labeled, challenger.accuracy, challenger.deployment) == (1, 0.0, Deployment.CHALLENGER)
    assert challenger.confusion == {"billing_dispute": {"cancel_service": 1}}
    sentiment = h.latest("sentiment", "1")
    assert (sentiment.predictions, sentiment.labeled, sentiment.accuracy) == (1, 0, None)


def test_an_early_label_is_buffered_then_joined_when_its_prediction_arrives():
    h = Harness()
    assert h.send(feedback("p1", "technical_issue")) == []
    assert h.skipped == ["label_buffered"]
    out = h.send(prediction("p1"))
    assert len(examples_of(out)) == 2
    assert {e.true_label for e in examples_of(out)} == {"technical_issue"}
    champion = h.latest()
    assert (champion.predictions, champion.labeled, champion.accuracy) == (1, 1, 0.0)
    assert champion.confusion == {"technical_issue": {"billing_dispute": 1}}
    assert len(h.updates) == 1, "the prediction's ticks and its buffered label travel in one update"


def test_a_duplicate_label_changes_nothing_and_reemits_identical_examples():
    h = Harness()
    h.send(prediction("p1"))
    first = examples_of(h.send(feedback("p1", "billing_dispute")))
    state, snapshots = json.dumps(dict(h.joins.local)), len(h.snapshots)
    # The same feedback again, and the same idempotency key under another event id.
    again = examples_of(h.send(feedback("p1", "billing_dispute")))
    other_id = examples_of(h.send(feedback("p1", "billing_dispute", event_id="another-id")))
    assert [e.model_dump() for e in again] == [e.model_dump() for e in first]
    assert [e.model_dump() for e in other_id] == [e.model_dump() for e in first]
    assert json.dumps(dict(h.joins.local)) == state
    assert len(h.snapshots) == snapshots, "a duplicate must not move the metrics"
    assert h.skipped.count("duplicate_label") == 2


def test_a_redelivered_prediction_is_skipped_and_counted_once():
    h = Harness()
    h.send(prediction("p1"))
    h.send(prediction("p1"))
    assert h.skipped == ["duplicate_prediction"]
    assert h.latest().predictions == 1


def test_a_higher_label_version_supersedes_and_a_late_lower_one_is_ignored():
    h = Harness()
    h.send(prediction("p1"))
    v1 = examples_of(h.send(feedback("p1", "cancel_service", version=1)))
    assert h.latest().accuracy == 0.0
    v2 = examples_of(h.send(feedback("p1", "billing_dispute", version=2)))
    assert {e.label_version for e in v2} == {2} and {e.true_label for e in v2} == {"billing_dispute"}
    assert not {e.event_id for e in v1} & {e.event_id for e in v2}
    champion = h.latest()
    assert (champion.labeled, champion.accuracy) == (1, 1.0), "v1's observation is retracted, v2's added"
    assert champion.confusion == {"billing_dispute": {"billing_dispute": 1}}
    assert h.latest("intent", "2").confusion == {"billing_dispute": {"cancel_service": 1}}
    count = len(h.snapshots)
    assert h.send(feedback("p1", "technical_issue", version=1, event_id="late-v1")) == []
    assert h.skipped[-1] == "superseded_label_version" and len(h.snapshots) == count
    assert h.send(feedback("p1", "technical_issue", version=2)) == []
    assert h.skipped[-1] == "conflicting_label_version"


def test_superseding_works_for_buffered_labels_too():
    h = Harness()
    h.send(feedback("p1", "cancel_service", version=1))
    h.send(feedback("p1", "billing_dispute", version=3))
    h.send(feedback("p1", "technical_issue", version=2))
    out = examples_of(h.send(prediction("p1")))
    assert {(e.true_label, e.label_version) for e in out} == {("billing_dispute", 3)}
    assert h.latest().accuracy == 1.0


def test_every_source_gives_examples_but_metrics_count_the_most_trusted_one():
    h = Harness()
    h.send(prediction("p1"))
    h.send(feedback("p1", "cancel_service", source="customer_survey"))
    assert h.latest().confusion == {"cancel_service": {"billing_dispute": 1}}
    h.send(feedback("p1", "billing_dispute", source="qa_audit"))
    assert h.latest().confusion == {"billing_dispute": {"billing_dispute": 1}} and h.latest().labeled == 1
    count = len(h.snapshots)
    h.send(feedback("p1", "technical_issue", source="agent"))  # less trusted than qa_audit: no metric change
    assert len(h.snapshots) == count
    assert Counter(e.label_source for e in h.examples) == {"customer_survey": 2, "qa_audit": 2, "agent": 2}


def test_ratings_and_review_decisions_without_a_label_are_recorded_without_examples():
    h = Harness()
    h.send(prediction("p1"))
    assert h.send(feedback("p1", "", task="intent", rating=2, review_decision="reject", reviewer_id="r7")) == []
    assert h.skipped == ["rating_recorded"]
    [rating] = h.joins["p1"]["ratings"]
    assert (rating["rating"], rating["decision"], rating["reviewer_id"]) == (2, "reject", "r7")
    h.send(feedback("p1", "", task="intent", rating=2, review_decision="reject", reviewer_id="r7"))
    assert h.skipped[-1] == "duplicate_rating" and len(h.joins["p1"]["ratings"]) == 1
    assert not h.examples


@pytest.mark.parametrize("fb, loc", [
    (dict(task="churn", value="yes"), "label_name"),
    (dict(task="intent", value="pizza_order"), "label_value"),
    (dict(task="intent", value=""), "label_value"),  # no label, no rating, no decision
])
def test_labels_no_model_can_be_scored_against_are_dead_lettered(fb, loc):
    h = Harness()
    with pytest.raises(Rejected) as refused:
        h.send(feedback("p1", fb["value"], task=fb["task"]))
    assert refused.value.field_errors[0].loc == loc and refused.value.code.value == "schema_invalid"


def test_a_label_for_a_task_the_prediction_lacks_is_skipped():
    h = Harness(FeedbackRules(task_labels={**RULES.task_labels, "toxicity": ("non_toxic", "toxic")}))
    h.send(prediction("p1"))
    assert h.send(feedback("p1", "toxic", task="toxicity")) == [] and h.skipped == ["task_not_predicted"]


def test_ttl_a_buffered_label_expires_and_a_prediction_stops_accepting_labels():
    h = Harness(FeedbackRules(task_labels=RULES.task_labels, join_ttl_s=2 * DAY), metrics_ttl_s=3 * DAY)
    h.send(feedback("p-early", "billing_dispute"))
    h.now += timedelta(days=2, seconds=1)
    assert examples_of(h.send(prediction("p-early"))) == [], "the buffered label expired"
    h.send(prediction("p-late"))
    h.now += timedelta(days=1)
    assert len(examples_of(h.send(feedback("p-late", "billing_dispute")))) == 2  # within the TTL
    h.now += timedelta(days=1, seconds=1)  # 2 days after the prediction arrived, though its entry was rewritten
    assert h.send(feedback("p-late", "cancel_service", version=2)) == []
    assert h.skipped[-1] == "prediction_expired"
    h.now += timedelta(days=3)
    assert "p-late" not in h.joins.at(h.now.timestamp())


def test_state_survives_a_json_round_trip_like_a_changelog_restore():
    h = Harness()
    h.send(feedback("p1", "billing_dispute"))
    h.send(prediction("p2"))
    restored = Harness()
    restored.joins = TtlState(json.loads(json.dumps(dict(h.joins.local))), RULES.join_ttl_s)
    restored.metrics = TtlState(json.loads(json.dumps(dict(h.metrics.local))), 15 * DAY)
    restored.join_offsets, restored.update_offset = h.join_offsets.copy(), h.update_offset
    assert len(examples_of(restored.send(prediction("p1")))) == 2
    assert len(examples_of(restored.send(feedback("p2", "cancel_service")))) == 2
    assert restored.latest().predictions == 2 and restored.latest().labeled == 2


def test_join_reprocessed_after_a_crash_republishes_the_same_update_and_metrics_apply_it_once():
    h = Harness()
    h.send(prediction("p1"))
    snapshot_count = len(h.snapshots)
    update = h.updates[-1]
    h.aggregate(update)  # the same join record's update again (same partition and offset)
    assert h.skipped[-1] == "duplicate_update" and len(h.snapshots) == snapshot_count
    assert h.metrics[APPLIED_KEY] == {str(update.source_partition): update.source_offset}
    assert h.latest().predictions == 1


# --- metrics ------------------------------------------------------------------------------------------------


def test_accuracy_per_class_confusion_and_coverage_match_sklearn():
    h = Harness()
    pairs = [("billing_dispute", "billing_dispute"), ("billing_dispute", "cancel_service"),
             ("cancel_service", "cancel_service"), ("technical_issue", "billing_dispute"),
             ("technical_issue", "technical_issue"), ("cancel_service", "billing_dispute"),
             ("billing_dispute", "billing_dispute")]
    for i, (predicted, _) in enumerate(pairs):
        h.send(prediction(f"p{i}", champion=predicted, at=T0 + timedelta(minutes=i)))
    for i in range(3):
        h.send(prediction(f"unlabeled{i}", at=T0 + timedelta(minutes=30 + i)))
    for i, (_, true) in enumerate(pairs):
        h.send(feedback(f"p{i}", true))
    m = h.latest()
    y_pred, y_true = [p for p, _ in pairs], [t for _, t in pairs]
    assert (m.predictions, m.labeled) == (10, 7) and m.label_coverage == pytest.approx(0.7)
    assert m.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    classes = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    for i, cls in enumerate(classes):
        got = m.per_class[cls]
        assert (got.precision, got.recall, got.f1) == pytest.approx((precision[i], recall[i], f1[i]))
        assert got.support == support[i]
    assert m.confusion == {"billing_dispute": {"billing_dispute": 2, "technical_issue": 1, "cancel_service": 1},
                           "cancel_service": {"billing_dispute": 1, "cancel_service": 1},
                           "technical_issue": {"technical_issue": 1}}
    assert m.window_start == T0 and m.window_end == T0 + timedelta(hours=1)


def test_label_latency_percentiles():
    h = Harness()
    latencies_h = list(range(1, 21))  # 1..20 hours
    for i, hours in enumerate(latencies_h):
        h.send(prediction(f"p{i}"))
        h.send(feedback(f"p{i}", "billing_dispute", at=T0 + timedelta(hours=hours)))
    m = h.latest()
    assert m.label_latency_p50_s == pytest.approx(10 * 3600, rel=0.006)  # nearest rank: the 10th of 20
    assert m.label_latency_p95_s == pytest.approx(19 * 3600, rel=0.006)  # the 19th of 20
    assert percentile({}, 0.5) is None


def test_predictions_are_bucketed_by_their_own_time_at_the_boundaries():
    h = Harness()
    h.send(prediction("before", at=T0 + timedelta(hours=1) - timedelta(microseconds=1)))
    h.send(prediction("on", at=T0 + timedelta(hours=1)))
    h.send(feedback("before", "billing_dispute", at=T0 + timedelta(days=2)))
    first, second = h.latest(window_start=T0), h.latest(window_start=T0 + timedelta(hours=1))
    assert (first.predictions, first.labeled, second.predictions, second.labeled) == (1, 1, 1, 0)
    assert second.window_end == T0 + timedelta(hours=2)
    assert bucket_of(T0 + timedelta(minutes=59), 1800) == (T0 + timedelta(minutes=30), T0 + timedelta(hours=1))


def test_metric_snapshots_have_deterministic_ids_per_bucket_and_revision():
    a, b = Harness(), Harness()
    for h in (a, b):
        h.send(prediction("p1"))
        h.send(feedback("p1", "billing_dispute"))
    assert [s.model_dump() for s in a.snapshots] == [s.model_dump() for s in b.snapshots]
    assert len({s.event_id for s in a.snapshots}) == len(a.snapshots)


def test_an_update_for_a_forgotten_bucket_is_skipped_not_counted_from_zero():
    h = Harness()
    delta = MetricDelta(model_name="intent", model_version="1", deployment=Deployment.CHAMPION, task="intent",
                        window_start=T0, window_end=T0 + timedelta(hours=1),
                        add=LabeledObservation(true_label="a", predicted_label="a", label_latency_s=1.0))
    h.aggregate(FeedbackMetricUpdateV1(event_id="u1", occurred_at=T0, prediction_event_id="p", source_partition=0,
                                       source_offset=5, deltas=[delta]))
    assert h.skipped == ["metrics_bucket_expired"] and h.snapshots == []


def test_an_update_retracting_an_observation_the_bucket_does_not_hold_is_refused_whole():
    h = Harness()
    h.send(prediction("p1"))
    h.send(feedback("p1", "billing_dispute"))
    before = dict(h.metrics.local)
    held = h.updates[-1].deltas[0].add
    foreign = LabeledObservation(true_label="cancel_service", predicted_label=held.predicted_label,
                                 label_latency_s=held.label_latency_s)
    good = h.updates[-1].deltas[0].model_copy(update={"add": held, "retract": held, "predictions": 0})
    bad = good.model_copy(update={"retract": foreign})
    update = FeedbackMetricUpdateV1(event_id="u-foreign", occurred_at=T0, prediction_event_id="p1",
                                    source_partition=0, source_offset=99, deltas=[good, bad])
    with pytest.raises(Rejected) as refused:
        h.aggregate(update)
    assert refused.value.code == "schema_invalid"
    assert [(e.loc, e.type) for e in refused.value.field_errors] == [("deltas.1.retract", "retract_not_held")]
    assert dict(h.metrics.local) == before  # nothing of the refused update was applied, not even delta 0


def test_tick_only_snapshots_can_be_turned_off():
    h = Harness(FeedbackRules(task_labels=RULES.task_labels, emit_tick_snapshots=False))
    h.send(prediction("p1"))
    assert h.snapshots == []
    h.send(feedback("p1", "billing_dispute"))
    assert {(s.model_version, s.predictions, s.labeled) for s in h.snapshots} == {("1", 1, 1), ("2", 1, 1)}


def test_settings_defaults_and_the_ttl_rule(monkeypatch):
    settings = FeedbackSettings()
    assert settings.http_port == 8085 and settings.join_ttl_s == 14 * DAY and settings.metrics_bucket_s == 3600
    monkeypatch.setenv("SLUICE_FEEDBACK_JOIN_TTL_S", str(30 * DAY))
    with pytest.raises(ValueError, match="metrics_ttl_s must exceed join_ttl_s"):
        FeedbackSettings()
