"""Inference without Kafka or Triton: the plan read from model contracts, the fetcher against a fake
Triton client, and the pure handler. A new model joins by its contract alone (no code change)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from schemas._parts import Deployment
from schemas.features.v1 import FeaturesV1
from services.inference.app import model_fetcher
from services.inference.config import InferenceSettings
from services.inference.handlers import make_prediction_handler, prediction_event_id
from services.inference.plan import load_plan
from services.runtime.fetch import DependencyUnavailable
from services.runtime.handler import HandlerContext
from services.runtime.model_contracts import ModelContractError
from services.runtime.triton import InferResult

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

EMBEDDING = """\
name: embedding
description: test embedding
backend: python
max_batch_size: 4
versions: ["1"]
inputs: [{name: TEXT, data_type: TYPE_STRING, dims: [1]}]
outputs: [{name: EMBEDDING, data_type: TYPE_FP32, dims: [3]}]
"""
SENTIMENT = """\
name: sentiment
description: test sentiment head
backend: python
max_batch_size: 64
versions: ["1", "2"]
inputs: [{name: EMBEDDING, data_type: TYPE_FP32, dims: [3]}]
outputs: [{name: PROBABILITIES, data_type: TYPE_FP32, dims: [3]}]
labels: [negative, neutral, positive]
serving:
  task: sentiment
  inputs: {EMBEDDING: {field: redacted_text, via: embedding, output: EMBEDDING}}
  output: PROBABILITIES
  champion: "1"
  challengers: ["2"]
"""
# A model that arrives later: a text classifier reading the conversation context directly.
URGENCY = """\
name: urgency
description: test model added by contract only
backend: python
max_batch_size: 8
versions: ["3"]
inputs: [{name: TEXT, data_type: TYPE_STRING, dims: [1]}]
outputs: [{name: SCORES, data_type: TYPE_FP32, dims: [2]}]
labels: [routine, urgent]
serving:
  task: urgency
  inputs: {TEXT: {field: context_text}}
  output: SCORES
  champion: "3"
"""


class FakeTriton:
    """Answers like Triton would, deterministically; records every request; can be told to fail a model."""

    def __init__(self, down: set[str] = frozenset()):
        self.down = set(down)
        self.requests: list[tuple[str, str, dict[str, np.ndarray]]] = []

    async def infer(self, model, inputs, outputs, *, version="", timeout_s=None):
        self.requests.append((model, version, inputs))
        if model in self.down or f"{model}:{version}" in self.down:
            raise DependencyUnavailable(f"{model} down")
        if model == "embedding":
            texts = [row[0].decode() for row in inputs["TEXT"]]
            vectors = np.array([[len(t), t.count(" "), 1.0] for t in texts], dtype=np.float32)
            return InferResult({"EMBEDDING": vectors}, 2.0)
        if model == "urgency":
            urgent = np.array([[0.1, 0.9] if b"now" in row[0] else [0.8, 0.2] for row in inputs["TEXT"]],
                              dtype=np.float32)
            return InferResult({"SCORES": urgent}, 1.0)
        embedding = inputs["EMBEDDING"]
        positive = (embedding[:, 0] > 20).astype(np.float32) * 0.8 + 0.1 * int(version)
        probabilities = np.stack([1 - positive - 0.05, np.full_like(positive, 0.05), positive], axis=1)
        return InferResult({"PROBABILITIES": probabilities}, 1.5)


def contracts_dir(tmp_path: Path, *documents: str) -> Path:
    for document in documents:
        name = document.split("\n", 1)[0].split(": ")[1]
        (tmp_path / f"{name}.yaml").write_text(document)
    return tmp_path


def features(index: int, text: str, context: str = "") -> FeaturesV1:
    return FeaturesV1(
        event_id=f"features-{index}", occurred_at=NOW, turn_id=f"turn-{index}", conversation_id="conv-1",
        turn_index=index, role="customer", channel="voice", language="en-US", tenant_id="acme",
        started_at=NOW, ended_at=NOW, redacted_text=text, context_text=context,
    )


def context_for(fetched) -> HandlerContext:
    return HandlerContext(service="inference", now=NOW, source_topic="features", partition=0, offset=0,
                          fetched=fetched)


async def run(plan, client, events):
    fetch = model_fetcher(client, plan, InferenceSettings())
    fetched = await fetch(events)
    handler = make_prediction_handler(plan)
    return [handler(event, {}, context_for(f)).outputs[0].event for event, f in zip(events, fetched)]


async def test_champion_and_shadow_challenger_run_from_the_contracts(tmp_path):
    plan = load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT))
    assert [(b.model, b.version, b.deployment) for b in plan.bindings] == [
        ("sentiment", "1", "champion"), ("sentiment", "2", "challenger")]
    client = FakeTriton()
    events = [features(0, "this is a long and happy sentence"), features(1, "short"),
              features(2, "short")]
    predictions = await run(plan, client, events)
    first = predictions[0]
    assert first.event_id == prediction_event_id("features-0") and first.features_event_id == "features-0"
    champion, challenger = first.outputs
    assert (champion.deployment, challenger.deployment) == (Deployment.CHAMPION, Deployment.CHALLENGER)
    assert champion.label == "positive" and champion.model_version == "1" and challenger.model_version == "2"
    assert champion.confidence == max(champion.scores.values())
    assert champion.latency_ms == pytest.approx(3.5)  # embedding request + head request
    assert predictions[1].outputs[0].label == "negative"
    # the embedding ran once per distinct text, in chunks of the contract's max_batch_size
    embedded = [row[0] for model, _, inputs in client.requests if model == "embedding" for row in inputs["TEXT"]]
    assert sorted(embedded) == sorted({b"this is a long and happy sentence", b"short"})
    # the turn's embedding travels with the prediction (float16, base64) for drift monitoring downstream
    vector = np.frombuffer(base64.b64decode(first.embedding_b64), dtype="<f2")
    assert vector.tolist() == [33.0, 6.0, 1.0] and first.embedding_model == "embedding/1"


async def test_a_new_model_joins_the_pipeline_by_its_contract_alone(tmp_path):
    plan = load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT, URGENCY))
    client = FakeTriton()
    predictions = await run(plan, client, [features(0, "please help", context="customer: i need it now")])
    urgency = [o for o in predictions[0].outputs if o.task == "urgency"]
    assert len(urgency) == 1 and urgency[0].label == "urgent" and urgency[0].model_version == "3"
    assert ("urgency", "3") in {(model, version) for model, version, _ in client.requests}


async def test_a_failing_shadow_never_holds_back_the_champion(tmp_path):
    plan = load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT))
    predictions = await run(plan, FakeTriton(down={"sentiment:2"}), [features(0, "hello there")])
    assert [(o.model_version, o.deployment) for o in predictions[0].outputs] == [("1", Deployment.CHAMPION)]


async def test_an_unavailable_champion_is_backpressure_not_a_dead_letter(tmp_path):
    plan = load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT))
    fetch = model_fetcher(FakeTriton(down={"embedding"}), plan, InferenceSettings())
    with pytest.raises(DependencyUnavailable):
        await fetch([features(0, "hello")])


def test_contracts_naming_an_unknown_field_or_model_are_refused_at_start(tmp_path):
    with pytest.raises(ModelContractError, match="not a field of the features event"):
        load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT.replace("field: redacted_text", "field: txt")))
    other = tmp_path / "unknown-via"
    other.mkdir()
    with pytest.raises(ModelContractError, match="via model 'embedder' is unknown"):
        load_plan(contracts_dir(other, SENTIMENT.replace("via: embedding", "via: embedder")))


def test_challengers_can_be_switched_off(tmp_path):
    plan = load_plan(contracts_dir(tmp_path, EMBEDDING, SENTIMENT), challengers=False)
    assert [b.deployment for b in plan.bindings] == ["champion"]
