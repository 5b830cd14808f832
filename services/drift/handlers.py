"""Drift's pure logic, in two stages.

1. Extraction (stateless, one route per upstream topic): each prediction, verdict or labeled example becomes
   one `drift_observation` on `drift.observations`, a single-partition topic, so that every detector sees
   the whole stream in one order and its state lives in one place.
2. Detection (one route, stateful): each observation updates the detectors of its signals (the bank in
   services/drift/bank.py). A detector that fires raises a `drift_alert` unless its signal is in cooldown; an
   error-rate alert on a model with enough labeled examples also raises a `retrain_request`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from schemas import EventModel
from schemas.drift_alert.v1 import DriftAlertV1
from schemas.drift_observation.v1 import DriftObservationV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.prediction.v1 import PredictionV1
from schemas.retrain_request.v1 import RetrainRequestV1
from schemas.review_request.v1 import ReviewRequestV1
from services.drift import signals
from services.drift.bank import BankSettings, DetectorBank, Firing
from services.runtime.handler import HandlerContext, HandlerResult, Output

OBSERVATIONS_TOPIC = "drift.observations"
ALERTS_TOPIC = "drift.alerts"
RETRAIN_TOPIC = "retrain.requests"
_ALERT_ID_NAMESPACE = uuid.UUID("c3a1e9d4-7b20-4f6e-9a18-5d0b2e4c8f71")
_RETRAIN_ID_NAMESPACE = uuid.UUID("8d5b2f60-1e4c-4c3a-b7f9-0a6e3d2c1b95")


def make_extraction_handler(plan: signals.SignalPlan, projection: signals.Projection | None):
    """Handler for predictions, turns.enriched, review.requests and examples.labeled."""

    def handle_upstream(event: EventModel, _state: Mapping[str, Any], _context: HandlerContext) -> HandlerResult:
        if isinstance(event, PredictionV1):
            observation = signals.from_prediction(event, plan, projection)
        elif isinstance(event, EnrichedTurnV1):
            observation = signals.from_enriched(event)
        elif isinstance(event, ReviewRequestV1):
            observation = signals.from_review(event)
            if observation is None:
                return HandlerResult(skipped="flag_counted_on_enriched")
        elif isinstance(event, LabeledExampleV1):
            observation = signals.from_labeled(event)
        else:
            raise TypeError(f"drift does not observe {type(event).__name__}")
        return HandlerResult(outputs=(Output(OBSERVATIONS_TOPIC, observation),))

    return handle_upstream


def alert_from(firing: Firing, observation: DriftObservationV1, settings: BankSettings) -> DriftAlertV1:
    model_name = model_version = None
    if firing.kind == "error_rate":
        _task, model_name, model_version, _deployment = firing.signal.split(".", 1)[1].split("/")
    return DriftAlertV1(
        event_id=str(uuid.uuid5(_ALERT_ID_NAMESPACE, f"{firing.signal}:{observation.event_id}")),
        occurred_at=observation.occurred_at,
        signal=firing.signal,
        signal_kind=firing.kind,
        detector=firing.detector,
        statistic=firing.statistic,
        threshold=firing.threshold,
        false_alarm_budget_per_1e5=firing.budget_per_1e5,
        window_events=firing.window_events,
        reference_summary=firing.reference_summary,
        current_summary=firing.current_summary,
        severity=firing.severity,
        cooldown_s=settings.cooldown_s,
        tenant_id=None,
        model_name=model_name,
        model_version=model_version,
    )


def make_detection_handler(settings: BankSettings, new_bank: Callable[[], DetectorBank]):
    """Handler for drift.observations. State: the detector bank, split into small keys (bank.py)."""
    cache: dict[str, DetectorBank] = {}

    def handle_observation(event: EventModel, state: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        assert isinstance(event, DriftObservationV1), f"runtime decoded {type(event).__name__}"
        bank = cache.get("bank")
        if bank is None or not bank.matches(state):
            bank = DetectorBank.restore(state, new_bank)  # first event, or state restored after a rebalance
            cache["bank"] = bank
        if bank.already_applied(context.offset):
            return HandlerResult(skipped="observation_already_applied")
        firings = bank.observe(event, context.offset)
        outputs: list[Output] = []
        for firing in firings:
            alert = alert_from(firing, event, settings)
            outputs.append(Output(ALERTS_TOPIC, alert))
            if firing.kind == "error_rate" and firing.signal.endswith("/champion") and \
                    firing.labeled_examples >= settings.retrain_min_labeled:
                _task_model = firing.signal.split(".", 1)[1].split("/")
                outputs.append(Output(RETRAIN_TOPIC, RetrainRequestV1(
                    event_id=str(uuid.uuid5(_RETRAIN_ID_NAMESPACE, alert.event_id)),
                    occurred_at=event.occurred_at,
                    model_name=_task_model[1],
                    model_version=_task_model[2],
                    task=_task_model[0],
                    reason=f"error rate of {_task_model[1]} v{_task_model[2]} rose from "
                           f"{firing.reference_summary.get('p0', firing.reference_summary.get('mean', 0.0)):.3f} to "
                           f"{firing.current_summary.get('rate', firing.current_summary.get('mean', 0.0)):.3f} "
                           f"over recent labels ({firing.detector}, {firing.labeled_examples} labeled examples)",
                    alert_event_ids=[alert.event_id],
                    labeled_examples_available=firing.labeled_examples,
                )))
        return HandlerResult(outputs=tuple(outputs), state_updates=bank.dirty_state())

    return handle_observation
