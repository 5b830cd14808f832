"""online_metrics v1: live quality of one model version over one time bucket, from joined labels."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas._base import EventModel
from schemas._parts import Deployment


class ClassMetrics(BaseModel):
    """Per-class quality in a bucket."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    precision: float = Field(ge=0.0, le=1.0, description="Precision for this class.")
    recall: float = Field(ge=0.0, le=1.0, description="Recall for this class.")
    f1: float = Field(ge=0.0, le=1.0, description="F1 for this class.")
    support: int = Field(ge=0, description="Labeled examples whose true label is this class.")


class OnlineMetricsV1(EventModel):
    """Quality of one (model, version, deployment, task) over [window_start, window_end)."""

    schema_name: Literal["online_metrics"] = Field(default="online_metrics", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    model_name: str = Field(description="Model name.")
    model_version: str = Field(description="Model version.")
    deployment: Deployment = Field(description="Champion or challenger.")
    task: str = Field(description="Task.")
    window_start: AwareDatetime = Field(description="Bucket start (inclusive).")
    window_end: AwareDatetime = Field(description="Bucket end (exclusive).")
    predictions: int = Field(ge=0, description="Predictions made in the bucket.")
    labeled: int = Field(ge=0, description="Of those, how many got a label so far.")
    label_coverage: float = Field(ge=0.0, le=1.0, description="labeled / predictions.")
    accuracy: float | None = Field(default=None, ge=0.0, le=1.0, description="Accuracy over labeled examples.")
    per_class: dict[str, ClassMetrics] = Field(default_factory=dict, description="Per-class metrics.")
    confusion: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Confusion matrix: confusion[true_label][predicted_label] = count."
    )
    label_latency_p50_s: float | None = Field(default=None, ge=0.0, description="Median label latency, seconds.")
    label_latency_p95_s: float | None = Field(default=None, ge=0.0, description="95th percentile label latency.")
