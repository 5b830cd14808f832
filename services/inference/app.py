"""Inference's composition root: wiring only (settings, model plan from the contracts, Triton client)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from schemas import EventModel
from services.inference.config import InferenceSettings
from services.inference.handlers import EMBEDDING_KEY, make_prediction_handler
from services.inference.plan import Binding, InferencePlan, load_plan
from services.runtime.fetch import BatchPolicy, BatchRejected, DependencyUnavailable
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.triton import TritonClient, text_tensor

SERVICE = "inference"
SOURCE = "features"
log = logging.getLogger("sluice.inference")


def model_fetcher(client: TritonClient, plan: InferencePlan, config: InferenceSettings):
    """Runs the plan for a batch: `via` models once per distinct text, then every binding concurrently."""

    def timeout(model: str) -> float:
        return config.model_timeouts_s.get(model, config.timeout_s)

    async def run_via(model: str, fields: Sequence[str], events: Sequence[EventModel]):
        contract = plan.contracts[model]
        texts = sorted({getattr(event, field) for event in events for field in fields})
        row = {text: i for i, text in enumerate(texts)}
        limit = contract.max_batch_size or len(texts)
        input_name = contract.inputs[0].name
        outputs = [output.name for output in contract.outputs]
        chunks = await asyncio.gather(*(
            client.infer(model, {input_name: text_tensor(texts[start:start + limit])}, outputs,
                         version=str(contract.versions[-1]), timeout_s=timeout(model))
            for start in range(0, len(texts), limit)
        ))
        merged = {name: np.concatenate([chunk.outputs[name] for chunk in chunks]) for name in outputs}
        return row, merged, max(chunk.latency_ms for chunk in chunks)

    async def run_binding(binding: Binding, events: Sequence[EventModel], via: dict[str, Any]):
        inputs = {}
        via_latency = 0.0
        for source in binding.inputs:
            if source.via:
                row, merged, latency = via[source.via]
                rows = [row[getattr(event, source.field)] for event in events]
                inputs[source.tensor] = merged[source.via_output][rows]
                via_latency = max(via_latency, latency)
            else:
                inputs[source.tensor] = text_tensor([getattr(event, source.field) for event in events])
        result = await client.infer(binding.model, inputs, [binding.output], version=binding.version,
                                    timeout_s=timeout(binding.model))
        return result.outputs[binding.output], via_latency + result.latency_ms

    async def shadow(binding: Binding, events: Sequence[EventModel], via: dict[str, Any]):
        try:
            return await run_binding(binding, events, via)
        except (BatchRejected, DependencyUnavailable) as exc:
            log.warning("shadow %s v%s failed for a batch of %d: %s", binding.model, binding.version,
                        len(events), exc)
            return None

    async def fetch(events: Sequence[EventModel]) -> list[Any]:
        via_models = plan.via_models
        via_results = await asyncio.gather(*(run_via(m, f, events) for m, f in via_models.items()))
        via = dict(zip(via_models, via_results))
        answers = await asyncio.gather(*(
            run_binding(b, events, via) if b.deployment == "champion" else shadow(b, events, via)
            for b in plan.bindings
        ))
        per_event: list[dict[str, Any]] = [{} for _ in events]
        if config.publish_embedding and config.embedding_model in via:
            row, merged, _ = via[config.embedding_model]
            vectors = merged[plan.contracts[config.embedding_model].outputs[0].name]
            if all(event.redacted_text in row for event in events):
                version = plan.contracts[config.embedding_model].versions[-1]
                for i, event in enumerate(events):
                    per_event[i][EMBEDDING_KEY] = (
                        base64.b64encode(vectors[row[event.redacted_text]].astype("<f2").tobytes()).decode("ascii"),
                        f"{config.embedding_model}/{version}",
                    )
        for binding, answer in zip(plan.bindings, answers):
            if answer is None:
                continue
            probabilities, latency_ms = answer
            for i in range(len(events)):
                per_event[i][binding.key] = (probabilities[i].tolist(), latency_ms)
        return per_event

    return fetch


def build_service(
    runtime: RuntimeSettings | None = None, config: InferenceSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or InferenceSettings()
    plan = load_plan(config.model_contracts_dir, challengers=config.challengers_enabled)
    client = TritonClient(config.triton_url, timeout_s=config.timeout_s)
    route = Route(SOURCE, make_prediction_handler(plan), fetcher=model_fetcher(client, plan, config),
                  batch=BatchPolicy(config.batch_max_size, config.batch_max_wait_ms / 1000.0))
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=[route],
        http_host=config.http_host,
        http_port=config.http_port,
        **overrides,
    )


def main() -> None:
    build_service().run()
