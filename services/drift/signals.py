"""Which signals the drift service watches, and how each upstream event becomes one observation (pure).

    predictions       numeric.<feature>          numeric features the features stage computed
                      confidence.<task>          champion confidence
                      class.<task>               champion label (a class-mix signal: one rate per class)
                      embedding                  projection of the turn embedding (distance to the reference)
    turns.enriched /  verdict                    guardrail verdict (a rate per verdict); blocked turns only
    review.requests                              appear on review.requests, flagged ones on both
    examples.labeled  error.<task>/<model>/<version>/<deployment>   True when the model was wrong
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

import numpy as np

from schemas import EventModel
from schemas._parts import Deployment
from schemas.drift_observation.v1 import DriftObservationV1
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.labeled_example.v1 import LabeledExampleV1
from schemas.prediction.v1 import PredictionV1
from schemas.review_request.v1 import ReviewRequestV1

_OBSERVATION_ID_NAMESPACE = uuid.UUID("2f7d6c1b-4e0a-4a9e-8b35-71c2d9e0f4a8")
PROJECTION_SEED = 20261127


@dataclass(frozen=True)
class SignalPlan:
    numeric_features: tuple[str, ...]
    confidence_tasks: tuple[str, ...]
    class_tasks: tuple[str, ...]
    embedding_dims: int  # 0: no embedding signal
    # Class mix, confidence and topic (embedding) are properties of a conversation more than of a turn: its
    # turns share its intent, its customer's mood and its subject. Counting every turn would make a few long
    # conversations look like drift, so these are sampled once per conversation, at this turn index (the
    # customer's first turn in most call flows). None: every turn.
    conversation_turn_index: int | None = 1


def observation_id(source_topic: str, event_id: str) -> str:
    """Deterministic: a redelivered upstream event yields the same observation id."""
    return str(uuid.uuid5(_OBSERVATION_ID_NAMESPACE, f"{source_topic}:{event_id}"))


class Projection:
    """A fixed Gaussian random projection (Johnson-Lindenstrauss): distances survive, payloads shrink ~12x."""

    def __init__(self, input_dims: int, output_dims: int, seed: int = PROJECTION_SEED):
        rng = np.random.default_rng(seed)
        self.matrix = rng.standard_normal((input_dims, output_dims)).astype(np.float32) / np.sqrt(output_dims)

    def __call__(self, embedding_b64: str) -> list[float]:
        vector = np.frombuffer(base64.b64decode(embedding_b64), dtype="<f2").astype(np.float32)
        if vector.shape[0] != self.matrix.shape[0]:
            raise ValueError(f"embedding has {vector.shape[0]} dimensions, expected {self.matrix.shape[0]}")
        return [round(float(v), 5) for v in vector @ self.matrix]


def _observation(source_topic: str, event: EventModel, tenant_id: str | None, **values) -> DriftObservationV1:
    return DriftObservationV1(event_id=observation_id(source_topic, event.event_id), occurred_at=event.occurred_at,
                              source_topic=source_topic, source_event_id=event.event_id, tenant_id=tenant_id, **values)


def from_prediction(prediction: PredictionV1, plan: SignalPlan, projection: Projection | None) -> DriftObservationV1:
    champions = {o.task: o for o in prediction.outputs if o.deployment == Deployment.CHAMPION}
    numeric = {f"numeric.{name}": float(prediction.numeric[name]) for name in plan.numeric_features
               if name in prediction.numeric}
    categorical: dict[str, str] = {}
    embedding = None
    if plan.conversation_turn_index is None or prediction.turn_index == plan.conversation_turn_index:
        numeric |= {f"confidence.{task}": champions[task].confidence for task in plan.confidence_tasks
                    if task in champions}
        categorical = {f"class.{task}": champions[task].label for task in plan.class_tasks if task in champions}
        if projection is not None and prediction.embedding_b64:
            embedding = projection(prediction.embedding_b64)
    return _observation("predictions", prediction, prediction.tenant_id, numeric=numeric, categorical=categorical,
                        embedding=embedding)


def from_enriched(event: EnrichedTurnV1) -> DriftObservationV1:
    return _observation("turns.enriched", event, event.tenant_id, categorical={"verdict": event.verdict.value})


def from_review(event: ReviewRequestV1) -> DriftObservationV1 | None:
    """Only blocks count here: a flagged turn is also on turns.enriched, which already counted its verdict."""
    if event.verdict.value != "block":
        return None
    return _observation("review.requests", event, event.tenant_id, categorical={"verdict": "block"})


def from_labeled(example: LabeledExampleV1) -> DriftObservationV1:
    signal = f"error.{example.task}/{example.model_name}/{example.model_version}/{example.deployment.value}"
    return _observation("examples.labeled", example, None,
                        binary={signal: example.predicted_label != example.true_label})
