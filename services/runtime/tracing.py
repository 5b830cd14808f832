"""OpenTelemetry: one span per event per service, with W3C trace context carried in Kafka headers.

Exporters (`SLUICE_TRACE_EXPORTER`): `none`, `console` (stdout), `otlp` (OTLP/HTTP protobuf to
`SLUICE_OTLP_ENDPOINT`, e.g. the compose OpenTelemetry collector) and `file` (JSON lines, one span per
line, to `SLUICE_TRACE_FILE`; `{service}` in the path is replaced by the service name). Spans are
batched; `StreamService.run` flushes them when the process stops (SIGTERM included).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_HEADERS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()

TraceExporter = Literal["none", "console", "otlp", "file"]


def build_tracer_provider(
    service: str, exporter: TraceExporter, otlp_endpoint: str, extra_exporter: SpanExporter | None = None,
    trace_file: Path | str | None = None,
) -> TracerProvider:
    """One provider per service process; `extra_exporter` lets tests collect spans in memory."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"sluice-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    elif exporter == "file":
        if not trace_file:
            raise ValueError("trace_exporter=file needs a trace file (SLUICE_TRACE_FILE)")
        path = str(trace_file).replace("{service}", service)
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(path)))
    if extra_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(extra_exporter))
    return provider


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as a JSON-able dict (the line format of `JsonLinesSpanExporter`)."""
    context = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None and parent.is_valid else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _jsonable(v) for k, v in (span.attributes or {}).items()},
        "events": [{"name": e.name, "time_ns": e.timestamp,
                    "attributes": {k: _jsonable(v) for k, v in (e.attributes or {}).items()}}
                   for e in span.events],
        "links": [{"trace_id": format(link.context.trace_id, "032x"), "span_id": format(link.context.span_id, "016x"),
                   "attributes": {k: _jsonable(v) for k, v in (link.attributes or {}).items()}}
                  for link in span.links],
    }


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object per line (see `span_record`).

    Each export is one `write` on a file opened with O_APPEND, so several processes may share a file
    without interleaving lines.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        data = "".join(json.dumps(span_record(span), separators=(",", ":")) + "\n" for span in spans).encode()
        with self._lock:
            if self._fd is None:
                return SpanExportResult.FAILURE
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written through at once

    def shutdown(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_span_file(path: str | Path) -> list[dict[str, Any]]:
    """The spans a `JsonLinesSpanExporter` wrote (for tests and ad-hoc inspection)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def extract_context(headers: Iterable[tuple[str, bytes | None]]) -> Context:
    carrier = {k: v.decode("latin-1") for k, v in headers if k in TRACE_HEADERS and v is not None}
    return _PROPAGATOR.extract(carrier)


def incoming_span_context(headers: Iterable[tuple[str, bytes | None]]) -> trace.SpanContext | None:
    """The remote span context a record's headers carry, or None when they carry none (or an invalid one)."""
    context = trace.get_current_span(extract_context(headers)).get_span_context()
    return context if context.is_valid else None


def trace_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """W3C trace headers for the current (or given) span context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return [(k, v.encode("latin-1")) for k, v in carrier.items()]


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
