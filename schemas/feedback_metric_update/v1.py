"""feedback_metric_update v1: changes to online-metric counts from one join step (feedback-internal topic).

The join runs on several partitions; the aggregation needs every observation of a model in one place, so the
join sends its count changes to a single-partition topic of these, consumed by the metrics aggregation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas._base import EventModel
from schemas._parts import Deployment


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LabeledObservation(_Part):
    """One labeled prediction as the metrics count it."""

    true_label: str = Field(description="The label the metrics count (the most trusted source's latest version).")
    predicted_label: str = Field(description="What the model said.")
    label_latency_s: float = Field(ge=0.0, description="Label time minus prediction time, seconds.")


class MetricDelta(_Part):
    """A change to the counts of one (model, version, deployment, task, time bucket)."""

    model_name: str = Field(description="Model name.")
    model_version: str = Field(description="Model version.")
    deployment: Deployment = Field(description="Champion or challenger.")
    task: str = Field(description="Task.")
    window_start: AwareDatetime = Field(description="Start of the bucket holding the prediction's time.")
    window_end: AwareDatetime = Field(description="End (exclusive) of that bucket.")
    predictions: int = Field(default=0, ge=0, description="Predictions to add to the bucket (1 on first sight).")
    add: LabeledObservation | None = Field(default=None, description="Labeled observation to add, if any.")
    retract: LabeledObservation | None = Field(
        default=None, description="Labeled observation to remove (superseded by `add`), if any."
    )


class FeedbackMetricUpdateV1(EventModel):
    """Count changes caused by one record of the join topic, with that record's position for deduplication."""

    schema_name: Literal["feedback_metric_update"] = Field(
        default="feedback_metric_update", description="Name of this event's schema."
    )
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    prediction_event_id: str = Field(description="event_id of the prediction concerned; the Kafka key.")
    source_partition: int = Field(ge=0, description="Partition of the join record that caused these changes.")
    source_offset: int = Field(ge=0, description="Offset of that record; the aggregation applies each offset once.")
    deltas: list[MetricDelta] = Field(description="One entry per model output touched.")
