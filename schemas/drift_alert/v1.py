"""drift_alert v1: a detector found that a monitored signal changed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import EventModel


class DriftAlertV1(EventModel):
    """An alert from the drift service; `occurred_at` is when the change was detected."""

    schema_name: Literal["drift_alert"] = Field(default="drift_alert", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    signal: str = Field(description="Monitored signal, e.g. 'features.numeric.word_count' or 'prediction.intent.mix'.")
    signal_kind: Literal["numeric", "confidence", "class_mix", "embedding", "verdict_rate", "error_rate"] = Field(
        description="Kind of signal, which decides the detector family."
    )
    detector: str = Field(description="Detector and parameters, e.g. 'CUSUM(k=0.5,h=12.1)'.")
    statistic: float = Field(description="Detector statistic when it fired.")
    threshold: float = Field(description="Threshold it crossed (calibrated to the false-alarm budget).")
    false_alarm_budget_per_1e5: float = Field(ge=0.0, description="False alarms per 100,000 events the threshold allows.")
    window_events: int = Field(ge=0, description="Events in the current window the statistic covers.")
    reference_summary: dict[str, float] = Field(default_factory=dict, description="Reference stats (mean, std, ...).")
    current_summary: dict[str, float] = Field(default_factory=dict, description="Current-window stats.")
    severity: Literal["info", "warning", "critical"] = Field(description="How urgent the alert is.")
    cooldown_s: float = Field(ge=0.0, description="No repeat alert for this signal within this many seconds.")
    tenant_id: str | None = Field(default=None, description="Tenant, when the signal is per tenant.")
    model_name: str | None = Field(default=None, description="Model, when the signal is about a model.")
    model_version: str | None = Field(default=None, description="Model version, when relevant.")
