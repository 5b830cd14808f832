"""Features' composition root: wiring only (settings, Triton client, PII detector, conversation state)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import EventModel
from services.features.config import FeaturesSettings
from services.features.handlers import FeatureRules, make_features_handler
from services.runtime.fetch import BatchPolicy
from services.runtime.pii import PiiDetector
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec
from services.runtime.triton import TritonClient, text_tensor

SERVICE = "features"
SOURCE = "turns.validated"


def ner_fetcher(client: TritonClient, config: FeaturesSettings):
    """Tags every turn of a batch with the NER model in one request; returns its raw span JSON per turn."""

    async def fetch(events: Sequence[EventModel]) -> list[Any]:
        result = await client.infer(
            config.ner_model, {"TEXT": text_tensor([event.text for event in events])}, ["SPANS"],
            version=config.ner_model_version, timeout_s=config.ner_timeout_s,
        )
        return [row[0] for row in result.outputs["SPANS"]]

    return fetch


def build_service(
    runtime: RuntimeSettings | None = None, config: FeaturesSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or FeaturesSettings()
    client = TritonClient(config.triton_url, timeout_s=config.ner_timeout_s)
    handler = make_features_handler(PiiDetector(), FeatureRules(context_turns=config.context_turns))
    route = Route(SOURCE, handler, state="conversations", fetcher=ner_fetcher(client, config),
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
