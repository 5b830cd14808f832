"""Ingestion's composition root: wiring only (settings, handler, state, HTTP endpoint)."""

from __future__ import annotations

import asyncio
import uuid

import faust
from faust.web import Request, Response, View

from services.ingestion.config import IngestionSettings
from services.ingestion.handlers import HttpRejection, IngestionRules, make_raw_turn_handler, validate_http_turns
from services.runtime.codec import encode
from services.runtime.pipeline import utc_now
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec
from services.runtime.tracing import extract_context, trace_headers

SERVICE = "ingestion"
RAW_TOPIC = "turns.raw"
HTTP_PRODUCER = "ingestion-http"


def install_http_endpoint(config: IngestionSettings):
    def install(app: faust.App, service: StreamService) -> None:
        spec = service.contract.get(RAW_TOPIC)
        topic = service.physical(RAW_TOPIC)

        @app.page("/v1/turns")
        class Turns(View):
            async def post(self, request: Request) -> Response:
                if request.content_length and request.content_length > config.max_http_body_bytes:
                    return self.json({"error": f"body over {config.max_http_body_bytes} bytes"}, status=413)
                body = await request.read()
                result = validate_http_turns(
                    body, request.headers.get("Content-Type", ""), spec, config.max_http_batch,
                    lambda: str(uuid.uuid4()),
                )
                if isinstance(result, HttpRejection):
                    return self.json(result.body, status=result.status)
                # A client's own W3C trace context (traceparent header) makes this span part of its trace.
                client = [(k.lower(), v.encode("latin-1")) for k, v in request.headers.items()]
                with service.tracer.start_as_current_span("ingestion http produce", context=extract_context(client)):
                    headers = trace_headers()
                    futures = []
                    for event in result:
                        # Older schema versions are produced as they came; the consumer upcasts them.
                        encoded = encode(event, spec, HTTP_PRODUCER, utc_now())
                        futures.append(await app.producer.send(
                            topic, encoded.key, encoded.value, None, None, encoded.headers + headers))
                    await asyncio.gather(*futures)
                return self.json({"accepted": len(result), "event_ids": [e.event_id for e in result]}, status=202)

    return install


def build_service(
    runtime: RuntimeSettings | None = None, config: IngestionSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or IngestionSettings()
    rules = IngestionRules(config.max_text_chars, config.assume_utc_for_naive_times)
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=[Route(RAW_TOPIC, make_raw_turn_handler(rules), state="dedup")],
        states=[StateSpec("dedup", "ingestion.dedup-changelog", config.dedup_window_s)],
        http_host=config.http_host,
        http_port=config.http_port,
        pages=[install_http_endpoint(config)],
        **overrides,
    )


def main() -> None:
    build_service().run()
