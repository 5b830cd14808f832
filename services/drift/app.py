"""Drift's composition root: wiring only (settings, signal plan from the model contracts, detector bank)."""

from __future__ import annotations

from services.drift.bank import BankSettings, DetectorBank
from services.drift.config import DriftSettings
from services.drift.handlers import make_detection_handler, make_extraction_handler
from services.drift.signals import Projection, SignalPlan
from services.runtime.model_contracts import load_model_contracts, served_task_labels
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec

SERVICE = "drift"
UPSTREAM = ("predictions", "turns.enriched", "review.requests", "examples.labeled")
EMBEDDING_INPUT_DIMS = 384


def bank_settings(config: DriftSettings) -> BankSettings:
    contracts = load_model_contracts(config.model_contracts_dir)
    labels = served_task_labels(contracts)
    unknown = sorted(set(config.class_tasks) - set(labels))
    if unknown:
        raise ValueError(f"SLUICE_DRIFT_CLASS_TASKS names tasks no model contract serves: {unknown} "
                         f"(served: {sorted(labels)})")
    return BankSettings(
        budget_per_1e5=config.false_alarm_budget_per_1e5,
        reference_windows=config.reference_windows,
        window=config.window,
        label_window=config.label_window,
        label_reference=config.label_reference_size,
        class_reference=config.class_reference_size,
        turns_per_conversation=config.turns_per_conversation,
        cooldown_s=config.cooldown_s,
        retrain_min_labeled=config.retrain_min_labeled,
        numeric_features=tuple(config.numeric_features),
        confidence_tasks=tuple(config.confidence_tasks),
        class_labels={task: tuple(label for label in labels[task] if label not in config.unwatched_classes)
                      for task in config.class_tasks},
        verdicts=tuple(config.verdicts),
        embedding=config.embedding_dims > 0,
    )


def build_service(
    runtime: RuntimeSettings | None = None, config: DriftSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or DriftSettings()
    settings = bank_settings(config)
    plan = SignalPlan(tuple(config.numeric_features), tuple(config.confidence_tasks), tuple(config.class_tasks),
                      config.embedding_dims, config.conversation_turn_index)
    projection = Projection(EMBEDDING_INPUT_DIMS, config.embedding_dims) if config.embedding_dims else None
    extract = make_extraction_handler(plan, projection)
    routes = [Route(topic, extract) for topic in UPSTREAM]
    routes.append(Route("drift.observations", make_detection_handler(settings, lambda: DetectorBank(settings)),
                        state="detectors"))
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=routes,
        states=[StateSpec("detectors", "drift.detectors-changelog", config.state_ttl_s)],
        http_host=config.http_host,
        http_port=config.http_port,
        **overrides,
    )


def main() -> None:
    build_service().run()
