"""Feedback's composition root: wiring only (settings, model contracts, the four routes and two states)."""

from __future__ import annotations

from services.feedback.config import FeedbackSettings
from services.feedback.handlers import (
    JOIN_TOPIC,
    METRIC_UPDATES_TOPIC,
    FeedbackRules,
    make_feedback_rekey_handler,
    make_join_handler,
    make_metrics_handler,
    make_prediction_rekey_handler,
)
from services.runtime.model_contracts import load_model_contracts, served_task_labels
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec

SERVICE = "feedback"


def build_rules(config: FeedbackSettings) -> FeedbackRules:
    contracts = load_model_contracts(config.model_contracts_dir)
    task_labels = served_task_labels(contracts)
    return FeedbackRules(
        task_labels=task_labels, join_ttl_s=config.join_ttl_s, bucket_s=config.metrics_bucket_s,
        source_priority=tuple(config.label_source_priority), ratings_kept=config.ratings_kept,
        emit_tick_snapshots=config.emit_tick_snapshots,
    )


def build_service(
    runtime: RuntimeSettings | None = None, config: FeedbackSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or FeedbackSettings()
    rules = build_rules(config)
    routes = [
        Route("predictions", make_prediction_rekey_handler()),
        Route("feedback", make_feedback_rekey_handler(rules)),
        Route(JOIN_TOPIC, make_join_handler(rules), state="joins"),
        Route(METRIC_UPDATES_TOPIC, make_metrics_handler(rules), state="metrics"),
    ]
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=routes,
        states=[StateSpec("joins", "feedback.joins-changelog", config.join_ttl_s),
                StateSpec("metrics", "feedback.metrics-changelog", config.metrics_ttl_s)],
        http_host=config.http_host,
        http_port=config.http_port,
        **overrides,
    )


def main() -> None:
    build_service().run()
