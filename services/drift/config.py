"""Drift settings, from SLUICE_DRIFT_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DriftSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_DRIFT_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the health and metrics endpoint binds to.")
    http_port: int = Field(default=8086, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics.")
    false_alarm_budget_per_1e5: float = Field(
        default=1.0, gt=0,
        description="False alarms each detector may raise per 100,000 stationary events; thresholds are calibrated "
        "to it by simulation (services/drift/calibration.json).",
    )
    window: int = Field(
        default=5, ge=1,
        description="Observations averaged into one detector update (turns of a conversation are alike; windows "
        "keep the detectors' calibration honest on correlated traffic).",
    )
    label_window: int = Field(
        default=1, ge=1,
        description="Labeled examples averaged into one error-rate update; 1 = a Bernoulli CUSUM on each label.",
    )
    label_reference_size: int = Field(
        default=500, ge=200, le=1000, description="Labeled examples that form a model's reference error rate."
    )
    reference_windows: int = Field(
        default=200, ge=100,
        description="Window means that form each signal's reference (the 'normal' its detector compares with); "
        "a signal can alert after window * reference_windows observations.",
    )
    cooldown_s: float = Field(
        default=600.0, ge=0, description="No second alert for the same signal within this many seconds (event time)."
    )
    numeric_features: tuple[str, ...] = Field(
        default=("word_count", "digit_ratio", "question_marks", "pii_count"),
        description="Numeric features of the features stage to watch, per turn (JSON list). Features fixed by a "
        "conversation's channel (uppercase_ratio, duration_s) false-alarm on per-turn windows.",
    )
    confidence_tasks: tuple[str, ...] = Field(
        default=("intent", "sentiment", "toxicity"), description="Tasks whose champion confidence is watched."
    )
    class_tasks: tuple[str, ...] = Field(
        default=("intent", "sentiment", "toxicity"),
        description="Tasks whose champion class mix is watched (one rate detector per label of the task).",
    )
    conversation_turn_index: int | None = Field(
        default=1, ge=0,
        description="Class mix, confidence and embedding distance are sampled once per conversation, at this turn "
        "index (a conversation's turns share its intent, mood and topic; counting each would look like drift "
        "whenever a few long conversations dominate). null: every turn.",
    )
    class_reference_size: int = Field(
        default=500, ge=200, le=1000,
        description="Conversations whose class (sampled once each) form a class's reference rate.",
    )
    turns_per_conversation: float = Field(
        default=8.0, gt=0,
        description="Typical turns per conversation: an update of a once-per-conversation signal stands for this "
        "many turns when the false-alarm budget (per turns) is shared out.",
    )
    unwatched_classes: tuple[str, ...] = Field(
        default=("non_toxic",),
        description="Labels whose rate is not watched (e.g. the complement of a binary task's watched label).",
    )
    embedding_dims: int = Field(
        default=32, ge=0, le=384,
        description="Dimensions of the random projection of turn embeddings for the distance-to-reference signal "
        "(0 switches the signal off).",
    )
    verdicts: tuple[str, ...] = Field(
        default=("flag", "block"), description="Guardrail verdicts whose rate is watched."
    )
    retrain_min_labeled: int = Field(
        default=200, ge=0,
        description="A confirmed error-rate alert requests retraining only with at least this many labeled "
        "examples of the model version available.",
    )
    model_contracts_dir: Path | None = Field(
        default=None, description="Model contracts (labels per task, for class-mix signals); default contracts/models."
    )
    state_ttl_s: float = Field(
        default=90 * 86_400.0, gt=0, description="Detector state not updated for this long is forgotten."
    )
