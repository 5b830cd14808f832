"""Inference's pure logic: model outputs (fetched from Triton by the runtime) become a prediction event."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import EventModel
from schemas._parts import Deployment, ModelOutput
from schemas.features.v1 import FeaturesV1
from schemas.prediction.v1 import PredictionV1
from services.inference.plan import Binding, InferencePlan
from services.runtime.handler import HandlerContext, HandlerResult, Output

PREDICTIONS_TOPIC = "predictions"
# Key of the fetched entry holding (base64 float16 embedding of the redacted text, '<model>/<version>').
EMBEDDING_KEY = "__embedding__"
_PREDICTION_ID_NAMESPACE = uuid.UUID("a4e0c8b2-9f13-4d6e-8c57-1e2b3d4f5a60")


def prediction_event_id(features_event_id: str) -> str:
    """Deterministic: reprocessing a features event republishes the same prediction id."""
    return str(uuid.uuid5(_PREDICTION_ID_NAMESPACE, features_event_id))


def model_output(binding: Binding, probabilities: Sequence[float], latency_ms: float | None) -> ModelOutput:
    if len(probabilities) != len(binding.labels):
        raise ValueError(f"{binding.model} v{binding.version} returned {len(probabilities)} scores for "
                         f"{len(binding.labels)} labels")
    scores = {label: round(min(1.0, max(0.0, float(p))), 6) for label, p in zip(binding.labels, probabilities)}
    label = max(scores, key=scores.__getitem__)
    return ModelOutput(
        task=binding.task, model_name=binding.model, model_version=binding.version,
        deployment=Deployment.CHAMPION if binding.deployment == "champion" else Deployment.CHALLENGER,
        label=label, scores=scores, confidence=scores[label],
        latency_ms=None if latency_ms is None else round(latency_ms, 3),
    )


def make_prediction_handler(plan: InferencePlan):
    """Handler for features. Fetched: {binding key: (probabilities, latency_ms)} for this turn."""

    def handle_features(event: EventModel, _state: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        assert isinstance(event, FeaturesV1), f"runtime decoded {type(event).__name__}, expected FeaturesV1"
        fetched: Mapping[str, tuple[Sequence[float], float]] = context.fetched or {}
        outputs = []
        for binding in plan.bindings:
            answer = fetched.get(binding.key)
            if answer is None:
                if binding.deployment == "champion":
                    raise ValueError(f"no output from champion {binding.model} v{binding.version}")
                continue  # a shadow that failed never holds back the champion's prediction
            outputs.append(model_output(binding, answer[0], answer[1]))
        prediction = PredictionV1(
            event_id=prediction_event_id(event.event_id),
            occurred_at=event.occurred_at,
            turn_id=event.turn_id,
            features_event_id=event.event_id,
            conversation_id=event.conversation_id,
            turn_index=event.turn_index,
            role=event.role,
            channel=event.channel,
            language=event.language,
            tenant_id=event.tenant_id,
            redacted_text=event.redacted_text,
            pii=event.pii,
            outputs=outputs,
            started_at=event.started_at,
            ended_at=event.ended_at,
            numeric=event.numeric,
            injection=event.injection,
            embedding_b64=fetched[EMBEDDING_KEY][0] if EMBEDDING_KEY in fetched else None,
            embedding_model=fetched[EMBEDDING_KEY][1] if EMBEDDING_KEY in fetched else None,
        )
        return HandlerResult(outputs=(Output(PREDICTIONS_TOPIC, prediction),))

    return handle_features
