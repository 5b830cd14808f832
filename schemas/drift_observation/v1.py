"""drift_observation v1: what the drift service's detectors read from one upstream event (internal topic)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import EventModel


class DriftObservationV1(EventModel):
    """Signal values extracted from one prediction, verdict or labeled example.

    The drift service fans its upstream topics into one single-partition topic of these, so that every
    detector sees the whole stream in one order and its state lives in one place.
    """

    schema_name: Literal["drift_observation"] = Field(
        default="drift_observation", description="Name of this event's schema."
    )
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    source_topic: str = Field(description="Logical topic the observation was extracted from.")
    source_event_id: str = Field(description="event_id of the upstream event.")
    tenant_id: str | None = Field(default=None, description="Tenant of the upstream event, when it has one.")
    numeric: dict[str, float] = Field(
        default_factory=dict,
        description="Numeric signal values by signal name, e.g. 'numeric.word_count', 'confidence.intent'.",
    )
    categorical: dict[str, str] = Field(
        default_factory=dict, description="Categorical signal values by signal name, e.g. 'class.intent', 'verdict'."
    )
    binary: dict[str, bool] = Field(
        default_factory=dict,
        description="Binary outcomes by signal name, e.g. 'error.intent/1/champion' (True = the model was wrong).",
    )
    embedding: list[float] | None = Field(
        default=None, description="Fixed random projection of the turn embedding (for distance-to-reference)."
    )
