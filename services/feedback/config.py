"""Feedback settings, from SLUICE_FEEDBACK_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY_S = 86_400.0


class FeedbackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_FEEDBACK_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the health and metrics endpoint binds to.")
    http_port: int = Field(default=8085, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics.")
    model_contracts_dir: Path | None = Field(
        default=None,
        description="Directory of model contracts; their served tasks and labels are the only labels accepted "
        "(anything else is dead-lettered). Defaults to contracts/models.",
    )
    join_ttl_s: float = Field(
        default=14 * DAY_S, gt=0,
        description="How long the join keeps a prediction for its labels (counted from the prediction's arrival), "
        "and an early label waiting for its prediction (from its last change). At least the label latency you "
        "expect: days, not a stream-join window. Restored across restarts.",
    )
    metrics_ttl_s: float = Field(
        default=15 * DAY_S, gt=0,
        description="How long an online-metrics bucket is kept after its last change; must exceed join_ttl_s so "
        "that a bucket outlives every label that can still reach it.",
    )
    metrics_bucket_s: int = Field(
        default=3600, ge=1, le=86_400 * 31,
        description="Width of an online-metrics time bucket in seconds, by the prediction's time (occurred_at).",
    )
    label_source_priority: tuple[str, ...] = Field(
        default=("qa_audit", "human_review", "agent", "customer_survey", "system"),
        description="Label sources from most to least trusted (JSON list). Every source's label becomes labeled "
        "examples; the metrics count one label per prediction and task: the most trusted source's latest version.",
    )
    ratings_kept: int = Field(
        default=16, ge=0, le=1000,
        description="Ratings and review decisions without a label kept per prediction in the join state.",
    )
    emit_tick_snapshots: bool = Field(
        default=True,
        description="Publish an online-metrics snapshot when only the prediction count of a bucket changed (a new "
        "prediction); false publishes one only when its labeled observations change.",
    )

    @model_validator(mode="after")
    def _buckets_outlive_labels(self) -> "FeedbackSettings":
        if self.metrics_ttl_s <= self.join_ttl_s:
            raise ValueError("metrics_ttl_s must exceed join_ttl_s: a label may reach a bucket until the join "
                             "forgets its prediction")
        return self
