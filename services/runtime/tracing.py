"""OpenTelemetry: one span per event per service, with W3C trace context carried in Kafka headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_HEADERS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()

TraceExporter = Literal["none", "console", "otlp"]


def build_tracer_provider(
    service: str, exporter: TraceExporter, otlp_endpoint: str, extra_exporter: SpanExporter | None = None
) -> TracerProvider:
    """One provider per service process; `extra_exporter` lets tests collect spans in memory."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"sluice-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if extra_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(extra_exporter))
    return provider


def extract_context(headers: Iterable[tuple[str, bytes | None]]) -> Context:
    carrier = {k: v.decode("latin-1") for k, v in headers if k in TRACE_HEADERS and v is not None}
    return _PROPAGATOR.extract(carrier)


def trace_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """W3C trace headers for the current (or given) span context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return [(k, v.encode("latin-1")) for k, v in carrier.items()]


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
