"""Every schema version Sluice knows, and the upcasters between consecutive major versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas._base import EventModel
from schemas.dead_letter.v1 import DeadLetterV1
from schemas.drift_alert.v1 import DriftAlertV1
from schemas.drift_observation.v1 import DriftObservationV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.features.v1 import FeaturesV1
from schemas.feedback.v1 import FeedbackV1
from schemas.feedback_join.v1 import FeedbackJoinV1
from schemas.feedback_metric_update.v1 import FeedbackMetricUpdateV1
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.online_metrics.v1 import OnlineMetricsV1
from schemas.prediction.v1 import PredictionV1
from schemas.raw_turn.upcast import raw_turn_v1_to_v2
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2
from schemas.retrain_request.v1 import RetrainRequestV1
from schemas.review_request.v1 import ReviewRequestV1
from schemas.validated_turn.v1 import ValidatedTurnV1

Upcaster = Callable[[EventModel], EventModel]


class UnknownSchemaError(LookupError):
    """No model is registered under this schema name and version."""


@dataclass
class SchemaRegistry:
    models: dict[tuple[str, int], type[EventModel]] = field(default_factory=dict)
    upcasters: dict[tuple[str, int], Upcaster] = field(default_factory=dict)

    def register(self, model: type[EventModel]) -> None:
        key = model.schema_key()
        if key in self.models:
            raise ValueError(f"schema {model.schema_id()} registered twice")
        self.models[key] = model

    def register_upcaster(self, name: str, from_version: int, upcaster: Upcaster) -> None:
        self.upcasters[(name, from_version)] = upcaster

    def model(self, name: str, version: int) -> type[EventModel]:
        try:
            return self.models[(name, version)]
        except KeyError:
            known = ", ".join(sorted(f"{n}/v{v}" for n, v in self.models)) or "none"
            raise UnknownSchemaError(f"unknown schema {name}/v{version} (known: {known})") from None

    def versions(self, name: str) -> list[int]:
        return sorted(v for n, v in self.models if n == name)

    def names(self) -> list[str]:
        return sorted({n for n, _ in self.models})

    def upcast(self, event: EventModel, to_version: int) -> EventModel:
        """Apply upcasters one major version at a time until `event` is at `to_version`."""
        name, version = event.schema_key()
        if version > to_version:
            raise UnknownSchemaError(f"{name}/v{version} is newer than the consumer's v{to_version}")
        while version < to_version:
            upcaster = self.upcasters.get((name, version))
            if upcaster is None:
                raise UnknownSchemaError(f"no upcaster from {name}/v{version} to v{version + 1}")
            event = upcaster(event)
            version = event.schema_key()[1]
        return event


def _build_default() -> SchemaRegistry:
    registry = SchemaRegistry()
    for model in (
        RawTurnV1, RawTurnV2, ValidatedTurnV1, FeaturesV1, PredictionV1, EnrichedTurnV1, ReviewRequestV1,
        FeedbackV1, LabeledExampleV1, OnlineMetricsV1, DriftAlertV1, RetrainRequestV1, DeadLetterV1,
        DriftObservationV1,
    ):
        registry.register(model)
    registry.register(FeedbackJoinV1)
    registry.register(FeedbackMetricUpdateV1)
    registry.register_upcaster("raw_turn", 1, raw_turn_v1_to_v2)  # type: ignore[arg-type]
    return registry


REGISTRY = _build_default()
