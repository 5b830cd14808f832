"""Features' composition root: wiring only (settings, Triton client, PII detector, conversation state)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from schemas import EventModel
from services.features.config import FeaturesSettings
from services.features.handlers import FeatureRules, TurnModels, make_features_handler
from services.runtime import injection
from services.runtime.fetch import BatchPolicy
from services.runtime.pii import PiiDetector
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec
from services.runtime.triton import TritonClient, text_tensor

SERVICE = "features"
SOURCE = "turns.validated"


def model_fetcher(client: TritonClient, config: FeaturesSettings):
    """One batch: NER on every turn and, concurrently, embedding -> injection on the turns of injection_roles.

    Both read the ORIGINAL text; only this stage may, and injection detectors misfire on redacted text.
    """
    scored_roles = set(config.injection_roles) if config.injection_enabled else set()

    async def tag(events: Sequence[EventModel]) -> list[bytes]:
        result = await client.infer(
            config.ner_model, {"TEXT": text_tensor([event.text for event in events])}, ["SPANS"],
            version=config.ner_model_version, timeout_s=config.ner_timeout_s,
        )
        return [row[0] for row in result.outputs["SPANS"]]

    async def score(texts: list[str]) -> list[float]:
        if not texts:
            return []
        embedded = await client.infer(config.embedding_model, {"TEXT": text_tensor(texts)}, ["EMBEDDING"],
                                      timeout_s=config.injection_timeout_s)
        scored = await client.infer(config.injection_model, {"EMBEDDING": embedded.outputs["EMBEDDING"]},
                                    ["PROBABILITIES"], version=config.injection_model_version,
                                    timeout_s=config.injection_timeout_s)
        return [float(row[1]) for row in scored.outputs["PROBABILITIES"]]

    async def fetch(events: Sequence[EventModel]) -> list[Any]:
        scored = [i for i, event in enumerate(events) if event.role.value in scored_roles]
        spans, probabilities = await asyncio.gather(
            tag(events), score([injection.model_text(events[i].text) for i in scored]))
        attack_probability = dict(zip(scored, probabilities))
        return [TurnModels(ner_spans=spans[i], injection_probability=attack_probability.get(i))
                for i in range(len(events))]

    return fetch


def build_service(
    runtime: RuntimeSettings | None = None, config: FeaturesSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or FeaturesSettings()
    client = TritonClient(config.triton_url, timeout_s=config.ner_timeout_s)
    rules = FeatureRules(
        context_turns=config.context_turns,
        injection_roles=tuple(config.injection_roles) if config.injection_enabled else (),
        injection_model=f"{config.injection_model}/{config.injection_model_version}",
    )
    handler = make_features_handler(PiiDetector(), rules)
    route = Route(SOURCE, handler, state="conversations", fetcher=model_fetcher(client, config),
                  batch=BatchPolicy(config.batch_max_size, config.batch_max_wait_ms / 1000.0))
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=[route],
        states=[StateSpec("conversations", "features.conversations-changelog", config.conversation_ttl_s)],
        http_host=config.http_host,
        http_port=config.http_port,
        **overrides,
    )


def main() -> None:
    build_service().run()
