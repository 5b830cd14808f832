"""Feedback's pure logic: join labels to the exact prediction and model versions, and online metrics.

Four routes, all pure `(event, state, context) -> HandlerResult`:

    predictions  (by conversation, 6)  --rekey-->  feedback.join (by prediction_event_id, 3)
    feedback     (by prediction, 3)    --rekey-->  feedback.join
    feedback.join           --join (state 'joins', per prediction id)-->  examples.labeled + feedback.metric-updates
    feedback.metric-updates (1 partition) --aggregate (state 'metrics', per bucket)-->  metrics.online

The join state entry of a prediction id holds the prediction's snapshot (once it arrived), every label per task
and source (latest version; early labels wait here for their prediction) and the label-less ratings. Labels are
idempotent on (prediction id, label source, label name, label version): a duplicate changes nothing and
re-emits the same examples (uuid5 ids), a higher version supersedes, a lower one is skipped.

The metrics count one label per prediction and task (the most trusted source's latest version); each change is
a delta (prediction tick, labeled observation added and/or retracted) sent to one partition with the position
of the join record that caused it, and the aggregation applies each join position once. All state is plain JSON.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from schemas import EventModel
from schemas._parts import Deployment
from schemas.dead_letter.v1 import DeadLetterReason, FieldError
from schemas.feedback.v1 import FeedbackV1
from schemas.feedback_join.v1 import FeedbackJoinV1, LabelFact, PredictionSnapshot, SnapshotOutput
from schemas.feedback_metric_update.v1 import FeedbackMetricUpdateV1, LabeledObservation, MetricDelta
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.online_metrics.v1 import ClassMetrics, OnlineMetricsV1
from schemas.prediction.v1 import PredictionV1
from services.runtime.handler import HandlerContext, HandlerResult, Output, Rejected

JOIN_TOPIC = "feedback.join"
METRIC_UPDATES_TOPIC = "feedback.metric-updates"
LABELED_TOPIC = "examples.labeled"
METRICS_TOPIC = "metrics.online"

_JOIN_ID_NAMESPACE = uuid.UUID("2f0c6a8e-41b7-4d3a-9c15-7e8d2b6f0a93")
_EXAMPLE_ID_NAMESPACE = uuid.UUID("a4e1c9d2-6b3f-4e8a-b7c0-5d2f1e9a3c64")
_UPDATE_ID_NAMESPACE = uuid.UUID("c81d4e2b-9a7f-4c36-8e5b-0f3a6d2c9b17")
_METRICS_ID_NAMESPACE = uuid.UUID("5e9b2d7c-3a1f-4b8e-a6d4-2c0f8e1b7a35")

APPLIED_KEY = "__applied__"  # metrics state: last join offset applied, per join partition
LATENCY_BASE = 1.01  # latency histogram bins: 1% wide in log(1 + seconds), so percentiles are within ~0.5%
DEFAULT_SOURCE_PRIORITY = ("qa_audit", "human_review", "agent", "customer_survey", "system")


@dataclass(frozen=True)
class FeedbackRules:
    # Served task -> its labels (from the model contracts); an empty tuple accepts any label of that task.
    task_labels: Mapping[str, tuple[str, ...]]
    join_ttl_s: float = 14 * 86_400.0
    bucket_s: int = 3600
    source_priority: tuple[str, ...] = DEFAULT_SOURCE_PRIORITY
    ratings_kept: int = 16
    emit_tick_snapshots: bool = True


# --- ids and small helpers ----------------------------------------------------------------------------------


def join_event_id(kind: str, source_event_id: str) -> str:
    return str(uuid.uuid5(_JOIN_ID_NAMESPACE, f"{kind}:{source_event_id}"))


def example_event_id(prediction_event_id: str, source: str, task: str, version: int, output: Mapping[str, Any]) -> str:
    """Deterministic per (prediction, label source, task, label version, model output)."""
    return str(uuid.uuid5(_EXAMPLE_ID_NAMESPACE, "|".join((
        prediction_event_id, source, task, str(version), output["model_name"], output["model_version"],
        output["deployment"]))))


def update_event_id(join_event: str) -> str:
    return str(uuid.uuid5(_UPDATE_ID_NAMESPACE, join_event))


def metrics_event_id(bucket_key: str, revision: int) -> str:
    return str(uuid.uuid5(_METRICS_ID_NAMESPACE, f"{bucket_key}#{revision}"))


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def bucket_of(when: datetime, bucket_s: int) -> tuple[datetime, datetime]:
    start = math.floor(when.timestamp() / bucket_s) * bucket_s
    return (datetime.fromtimestamp(start, tz=timezone.utc), datetime.fromtimestamp(start + bucket_s, tz=timezone.utc))


def bucket_key(delta: MetricDelta) -> str:
    return "|".join((delta.task, delta.model_name, delta.model_version, delta.deployment.value,
                     delta.window_start.astimezone(timezone.utc).isoformat()))


# --- re-keying: predictions and feedback into the join topic ------------------------------------------------


def make_prediction_rekey_handler():
    """Handler for predictions: a compact snapshot, keyed by prediction event id, onto feedback.join."""

    def handle_prediction(event: EventModel, _state: Mapping[str, Any], _context: HandlerContext) -> HandlerResult:
        assert isinstance(event, PredictionV1), f"runtime decoded {type(event).__name__}, expected PredictionV1"
        snapshot = PredictionSnapshot(
            turn_id=event.turn_id, conversation_id=event.conversation_id, tenant_id=event.tenant_id,
            predicted_at=event.occurred_at, redacted_text=event.redacted_text,
            outputs=[SnapshotOutput(task=o.task, model_name=o.model_name, model_version=o.model_version,
                                    deployment=o.deployment, label=o.label, confidence=o.confidence)
                     for o in event.outputs],
        )
        joined = FeedbackJoinV1(event_id=join_event_id("prediction", event.event_id), occurred_at=event.occurred_at,
                                prediction_event_id=event.event_id, kind="prediction", prediction=snapshot)
        return HandlerResult(outputs=(Output(JOIN_TOPIC, joined),))

    return handle_prediction


def make_feedback_rekey_handler(rules: FeedbackRules):
    """Handler for feedback: validated against the model contracts, then onto feedback.join.

    A label for a task no model serves, or a label value the task does not have, is dead-lettered (code
    schema_invalid, the field named): it can never be scored, and the dead letter keeps it replayable once the
    contract knows it. Feedback with no label value is a rating or review decision and needs one of them.
    """

    def handle_feedback(event: EventModel, _state: Mapping[str, Any], _context: HandlerContext) -> HandlerResult:
        assert isinstance(event, FeedbackV1), f"runtime decoded {type(event).__name__}, expected FeedbackV1"
        if not event.label_value.strip():
            if event.rating is None and event.review_decision is None:
                raise Rejected(DeadLetterReason.SCHEMA_INVALID,
                               "feedback carries no label value, rating or review decision",
                               [FieldError(loc="label_value", msg="empty, and no rating or review_decision",
                                           type="missing")])
        elif event.label_name not in rules.task_labels:
            raise Rejected(DeadLetterReason.SCHEMA_INVALID,
                           f"unknown_task: no served model answers task {event.label_name!r} "
                           f"(tasks: {', '.join(sorted(rules.task_labels))})",
                           [FieldError(loc="label_name", msg="not a served task", type="unknown_task")])
        elif rules.task_labels[event.label_name] and event.label_value not in rules.task_labels[event.label_name]:
            raise Rejected(DeadLetterReason.SCHEMA_INVALID,
                           f"unknown_label: {event.label_value!r} is not a label of task {event.label_name!r}",
                           [FieldError(loc="label_value", msg="not a label of the task", type="unknown_label")])
        label = LabelFact(
            feedback_event_id=event.event_id, turn_id=event.turn_id, label_source=event.label_source,
            label_name=event.label_name, label_value=event.label_value, label_version=event.label_version,
            rating=event.rating, review_decision=event.review_decision, reviewer_id=event.reviewer_id,
            labeled_at=event.occurred_at,
        )
        joined = FeedbackJoinV1(event_id=join_event_id("feedback", event.event_id), occurred_at=event.occurred_at,
                                prediction_event_id=event.prediction_event_id, kind="label", label=label)
        return HandlerResult(outputs=(Output(JOIN_TOPIC, joined),))

    return handle_feedback


# --- the join -----------------------------------------------------------------------------------------------


def empty_entry() -> dict[str, Any]:
    return {"prediction": None, "labels": {}, "ratings": []}


def _chosen(by_source: Mapping[str, Any], priority: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
    """The label the metrics count for one task: the most trusted source present (unknown sources last)."""
    if not by_source:
        return None
    rank = {source: i for i, source in enumerate(priority)}
    source = min(by_source, key=lambda s: (rank.get(s, len(priority)), s))
    return source, by_source[source]


def _latency(prediction: Mapping[str, Any], label: Mapping[str, Any]) -> float:
    return max(0.0, (_time(label["labeled_at"]) - _time(prediction["predicted_at"])).total_seconds())


def _examples(prediction_event_id: str, prediction: Mapping[str, Any], task: str, source: str,
              label: Mapping[str, Any]) -> list[Output]:
    """One labeled example per model output of the task: champion and every shadow challenger."""
    predicted_at, labeled_at = _time(prediction["predicted_at"]), _time(label["labeled_at"])
    return [
        Output(LABELED_TOPIC, LabeledExampleV1(
            event_id=example_event_id(prediction_event_id, source, task, label["version"], output),
            occurred_at=labeled_at, turn_id=prediction["turn_id"], prediction_event_id=prediction_event_id,
            feedback_event_id=label["feedback_event_id"], task=task, model_name=output["model_name"],
            model_version=output["model_version"], deployment=output["deployment"],
            predicted_label=output["label"], true_label=label["value"], confidence=output["confidence"],
            redacted_text=prediction["redacted_text"], label_source=source, label_version=label["version"],
            predicted_at=predicted_at, labeled_at=labeled_at, label_latency_s=_latency(prediction, label),
        ))
        for output in prediction["outputs"] if output["task"] == task
    ]


def _observation(prediction: Mapping[str, Any], output: Mapping[str, Any],
                 label: Mapping[str, Any] | None) -> LabeledObservation | None:
    if label is None:
        return None
    return LabeledObservation(true_label=label["value"], predicted_label=output["label"],
                              label_latency_s=_latency(prediction, label))


def _delta(prediction: Mapping[str, Any], output: Mapping[str, Any], bucket_s: int, *, predictions: int = 0,
           add: Mapping[str, Any] | None = None, retract: Mapping[str, Any] | None = None) -> MetricDelta:
    start, end = bucket_of(_time(prediction["predicted_at"]), bucket_s)
    return MetricDelta(model_name=output["model_name"], model_version=output["model_version"],
                       deployment=output["deployment"], task=output["task"], window_start=start, window_end=end,
                       predictions=predictions, add=_observation(prediction, output, add),
                       retract=_observation(prediction, output, retract))


def _with_rating(entry: Mapping[str, Any], label: LabelFact, kept: int) -> list[dict[str, Any]] | None:
    """The entry's ratings with this feedback's rating/decision added; None if it has none or is known."""
    if label.rating is None and label.review_decision is None:
        return None
    if any(r["feedback_event_id"] == label.feedback_event_id for r in entry["ratings"]):
        return None
    rating = {"feedback_event_id": label.feedback_event_id, "source": label.label_source, "name": label.label_name,
              "rating": label.rating, "decision": label.review_decision, "reviewer_id": label.reviewer_id,
              "at": label.labeled_at.isoformat()}
    return ([*entry["ratings"], rating])[-kept:] if kept else []


def make_join_handler(rules: FeedbackRules):
    """Handler for feedback.join. State: one entry per prediction event id (see the module docstring)."""

    def update(event: FeedbackJoinV1, context: HandlerContext, deltas: list[MetricDelta]) -> Output:
        return Output(METRIC_UPDATES_TOPIC, FeedbackMetricUpdateV1(
            event_id=update_event_id(event.event_id), occurred_at=event.occurred_at,
            prediction_event_id=event.prediction_event_id, source_partition=context.partition,
            source_offset=context.offset, deltas=deltas,
        ))

    def on_prediction(event: FeedbackJoinV1, entry: dict[str, Any], context: HandlerContext) -> HandlerResult:
        pid = event.prediction_event_id
        if entry["prediction"] is not None:
            return HandlerResult(skipped="duplicate_prediction")  # its outputs went out the first time
        assert event.prediction is not None
        prediction = event.prediction.model_dump(mode="json") | {"seen_at": context.now.timestamp()}
        outputs: list[Output] = []
        deltas = []
        for output in prediction["outputs"]:
            chosen = _chosen(entry["labels"].get(output["task"], {}), rules.source_priority)
            deltas.append(_delta(prediction, output, rules.bucket_s, predictions=1,
                                 add=chosen[1] if chosen else None))
        predicted_tasks = {o["task"] for o in prediction["outputs"]}
        for task in sorted(entry["labels"]):
            if task in predicted_tasks:
                for source in sorted(entry["labels"][task]):  # buffered early labels join now
                    outputs += _examples(pid, prediction, task, source, entry["labels"][task][source])
        if deltas:
            outputs.append(update(event, context, deltas))
        return HandlerResult(outputs=tuple(outputs), state_updates={pid: {**entry, "prediction": prediction}})

    def on_label(event: FeedbackJoinV1, entry: dict[str, Any], context: HandlerContext) -> HandlerResult:
        pid, label = event.prediction_event_id, event.label
        assert label is not None
        prediction = entry["prediction"]
        if prediction is not None and context.now.timestamp() - prediction["seen_at"] >= rules.join_ttl_s:
            return HandlerResult(skipped="prediction_expired")
        ratings = _with_rating(entry, label, rules.ratings_kept)
        if not label.label_value.strip():  # a rating or review decision without a label: recorded, no example
            if ratings is None:
                return HandlerResult(skipped="duplicate_rating")
            return HandlerResult(state_updates={pid: {**entry, "ratings": ratings}}, skipped="rating_recorded")
        task, source = label.label_name, label.label_source
        if prediction is not None and not any(o["task"] == task for o in prediction["outputs"]):
            return HandlerResult(skipped="task_not_predicted")
        by_source = entry["labels"].get(task, {})
        current = by_source.get(source)
        if current is not None:
            if label.label_version < current["version"]:
                return HandlerResult(skipped="superseded_label_version")
            if label.label_version == current["version"]:
                if label.label_value != current["value"]:
                    return HandlerResult(skipped="conflicting_label_version")
                # A duplicate: nothing changes; the same examples again (same ids), no metric change.
                again = _examples(pid, prediction, task, source, current) if prediction is not None else []
                return HandlerResult(outputs=tuple(again), skipped="duplicate_label")
        stored = {"version": label.label_version, "value": label.label_value,
                  "feedback_event_id": label.feedback_event_id, "labeled_at": label.labeled_at.isoformat()}
        new_by_source = {**by_source, source: stored}
        new_entry = {**entry, "labels": {**entry["labels"], task: new_by_source}}
        if ratings is not None:
            new_entry["ratings"] = ratings
        if prediction is None:
            return HandlerResult(state_updates={pid: new_entry}, skipped="label_buffered")
        outputs = _examples(pid, prediction, task, source, stored)
        before, after = _chosen(by_source, rules.source_priority), _chosen(new_by_source, rules.source_priority)
        if before != after:
            deltas = [_delta(prediction, output, rules.bucket_s, add=after[1] if after else None,
                             retract=before[1] if before else None)
                      for output in prediction["outputs"] if output["task"] == task]
            outputs.append(update(event, context, deltas))
        return HandlerResult(outputs=tuple(outputs), state_updates={pid: new_entry})

    def handle_join(event: EventModel, joins: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        assert isinstance(event, FeedbackJoinV1), f"runtime decoded {type(event).__name__}, expected FeedbackJoinV1"
        entry = joins.get(event.prediction_event_id) or empty_entry()
        if event.kind == "prediction":
            return on_prediction(event, entry, context)
        return on_label(event, entry, context)

    return handle_join


# --- online metrics -----------------------------------------------------------------------------------------


def latency_bin(seconds: float) -> int:
    return int(round(math.log1p(max(0.0, seconds)) / math.log(LATENCY_BASE)))


def bin_seconds(index: int) -> float:
    return math.expm1(index * math.log(LATENCY_BASE))


def percentile(histogram: Mapping[str, int], q: float) -> float | None:
    """Nearest-rank percentile of a latency histogram ({bin: count}), to ~0.5%."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = max(1, math.ceil(q * total)), 0
    for index in sorted(histogram, key=int):
        seen += histogram[index]
        if seen >= rank:
            return round(bin_seconds(int(index)), 3)
    return None  # unreachable


def empty_bucket(delta: MetricDelta) -> dict[str, Any]:
    return {"model_name": delta.model_name, "model_version": delta.model_version,
            "deployment": delta.deployment.value, "task": delta.task,
            "window_start": delta.window_start.isoformat(), "window_end": delta.window_end.isoformat(),
            "predictions": 0, "labeled": 0, "confusion": {}, "latency": {}, "revision": 0}


def _count(table: dict[str, Any], path: Iterable[str], step: int) -> None:
    *inner, last = path
    for key in inner:
        table = table.setdefault(key, {})
    value = table.get(last, 0) + step
    if value > 0:
        table[last] = value
    else:
        table.pop(last, None)


def holds(bucket: Mapping[str, Any], observation: LabeledObservation) -> bool:
    """Whether `bucket` counts `observation` (so that retracting it keeps every count non-negative)."""
    return (bucket["confusion"].get(observation.true_label, {}).get(observation.predicted_label, 0) > 0
            and bucket["latency"].get(str(latency_bin(observation.label_latency_s)), 0) > 0
            and bucket["labeled"] > 0)


def apply_delta(bucket: Mapping[str, Any], delta: MetricDelta) -> dict[str, Any]:
    """A new bucket: `delta` applied to `bucket` (never mutated)."""
    result = {**bucket, "confusion": {t: dict(row) for t, row in bucket["confusion"].items()},
              "latency": dict(bucket["latency"]), "revision": bucket["revision"] + 1}
    result["predictions"] += delta.predictions
    for observation, step in ((delta.retract, -1), (delta.add, 1)):
        if observation is None:
            continue
        result["labeled"] += step
        _count(result["confusion"], (observation.true_label, observation.predicted_label), step)
        _count(result["latency"], (str(latency_bin(observation.label_latency_s)),), step)
    result["confusion"] = {t: row for t, row in result["confusion"].items() if row}
    return result


def snapshot(key: str, bucket: Mapping[str, Any], occurred_at: datetime) -> OnlineMetricsV1:
    confusion: dict[str, dict[str, int]] = bucket["confusion"]
    labeled, predictions = bucket["labeled"], bucket["predictions"]
    classes = sorted(set(confusion) | {p for row in confusion.values() for p in row})
    per_class = {}
    for cls in classes:
        tp = confusion.get(cls, {}).get(cls, 0)
        support = sum(confusion.get(cls, {}).values())
        predicted = sum(row.get(cls, 0) for row in confusion.values())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[cls] = ClassMetrics(precision=precision, recall=recall, f1=f1, support=support)
    correct = sum(confusion.get(cls, {}).get(cls, 0) for cls in classes)
    return OnlineMetricsV1(
        event_id=metrics_event_id(key, bucket["revision"]), occurred_at=occurred_at,
        model_name=bucket["model_name"], model_version=bucket["model_version"],
        deployment=Deployment(bucket["deployment"]), task=bucket["task"],
        window_start=_time(bucket["window_start"]), window_end=_time(bucket["window_end"]),
        predictions=predictions, labeled=labeled,
        label_coverage=min(1.0, labeled / predictions) if predictions else 0.0,
        accuracy=correct / labeled if labeled else None, per_class=per_class, confusion=confusion,
        label_latency_p50_s=percentile(bucket["latency"], 0.50),
        label_latency_p95_s=percentile(bucket["latency"], 0.95),
    )


def make_metrics_handler(rules: FeedbackRules):
    """Handler for feedback.metric-updates (one partition). State: one entry per bucket key, plus APPLIED_KEY."""

    def handle_update(event: EventModel, metrics: Mapping[str, Any], _context: HandlerContext) -> HandlerResult:
        assert isinstance(event, FeedbackMetricUpdateV1), \
            f"runtime decoded {type(event).__name__}, expected FeedbackMetricUpdateV1"
        applied = metrics.get(APPLIED_KEY) or {}
        if event.source_offset <= applied.get(str(event.source_partition), -1):
            return HandlerResult(skipped="duplicate_update")  # a join record re-processed after a crash
        updates: dict[str, Any] = {APPLIED_KEY: {**applied, str(event.source_partition): event.source_offset}}
        outputs = []
        expired = 0
        for index, delta in enumerate(event.deltas):
            key = bucket_key(delta)
            bucket = updates.get(key) or metrics.get(key)
            if bucket is None:
                if delta.predictions == 0:  # the bucket outlived metrics_ttl_s; counting into a new one would lie
                    expired += 1
                    continue
                bucket = empty_bucket(delta)
            if delta.retract is not None and not holds(bucket, delta.retract):
                # Counts that go below zero would publish impossible metrics; the join never retracts what it
                # did not add, so this update comes from elsewhere and is refused whole.
                raise Rejected(DeadLetterReason.SCHEMA_INVALID,
                               f"delta {index} retracts an observation that bucket {key} does not hold",
                               [FieldError(loc=f"deltas.{index}.retract", type="retract_not_held",
                                           msg="no such labeled observation in the bucket")])
            updates[key] = apply_delta(bucket, delta)
            if rules.emit_tick_snapshots or delta.add is not None or delta.retract is not None:
                outputs.append(Output(METRICS_TOPIC, snapshot(key, updates[key], event.occurred_at)))
        skipped = "metrics_bucket_expired" if expired and expired == len(event.deltas) else None
        return HandlerResult(outputs=tuple(outputs), state_updates=updates, skipped=skipped)

    return handle_update
