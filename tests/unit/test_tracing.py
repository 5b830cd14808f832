"""Trace exporters: the JSON-lines file exporter and the OTLP/HTTP exporter against a local HTTP server that
decodes the protobuf request, as a collector would."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from services.runtime.settings import RuntimeSettings
from services.runtime.tracing import (
    build_tracer_provider, extract_context, incoming_span_context, read_span_file, trace_headers,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEADERS = [("traceparent", f"00-{TRACE_ID}-{PARENT}-01".encode())]


def test_the_file_exporter_writes_one_json_line_per_span_with_parent_and_links(tmp_path):
    provider = build_tracer_provider("features", "file", "", trace_file=tmp_path / "{service}.jsonl")
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("fetch") as fetch:
        pass
    with tracer.start_as_current_span("features process turns.validated", context=extract_context(HEADERS),
                                      links=[trace.Link(fetch.get_span_context())],
                                      attributes={"sluice.event_id": "e1", "tags": ("a", "b")}):
        outgoing = dict(trace_headers())["traceparent"].decode()
    provider.force_flush()
    assert (tmp_path / "features.jsonl").exists()

    fetch_record, process = read_span_file(tmp_path / "features.jsonl")
    assert process["trace_id"] == TRACE_ID and process["parent_span_id"] == PARENT
    assert process["name"] == "features process turns.validated" and process["service"] == "sluice-features"
    assert process["attributes"] == {"sluice.event_id": "e1", "tags": ["a", "b"]}
    assert process["links"] == [{"trace_id": fetch_record["trace_id"], "span_id": fetch_record["span_id"],
                                 "attributes": {}}]
    assert 0 < process["start_ns"] <= process["end_ns"]
    assert outgoing.split("-")[2] == process["span_id"], "the published header names the span as parent"
    assert fetch_record["parent_span_id"] is None and fetch_record["trace_id"] != TRACE_ID
    provider.shutdown()


def test_the_file_exporter_needs_a_path():
    with pytest.raises(ValueError, match="SLUICE_TRACE_FILE"):
        build_tracer_provider("features", "file", "")


def test_settings_accept_the_file_exporter(monkeypatch, tmp_path):
    monkeypatch.setenv("SLUICE_TRACE_EXPORTER", "file")
    monkeypatch.setenv("SLUICE_TRACE_FILE", str(tmp_path / "spans.jsonl"))
    settings = RuntimeSettings()
    assert settings.trace_exporter == "file" and settings.trace_file == tmp_path / "spans.jsonl"


def test_incoming_span_context_is_none_without_a_valid_traceparent():
    assert incoming_span_context([]) is None
    assert incoming_span_context([("traceparent", b"garbage")]) is None
    assert format(incoming_span_context(HEADERS).span_id, "016x") == PARENT


def test_the_otlp_exporter_posts_protobuf_spans_to_the_collector_endpoint():
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        provider = build_tracer_provider("guardrails", "otlp", endpoint)
        with provider.get_tracer("test").start_as_current_span("guardrails process predictions",
                                                               context=extract_context(HEADERS)):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()

    assert received, "the exporter sent nothing"
    path, content_type, body = received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    service_name = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    assert service_name == "sluice-guardrails"
    [span] = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert span.name == "guardrails process predictions"
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT


async def test_a_batched_event_is_a_child_of_its_own_record_linked_to_the_fetch_and_its_decision_counted():
    from tests.unit.test_pipeline import PARENT_SPAN_ID, Harness, _message
    from tests.unit.test_pipeline import TRACE_ID as RECORD_TRACE_ID
    from services.runtime.handler import HandlerResult

    harness = Harness(lambda event, state, context: HandlerResult(decision="flag"))
    fetch = trace.SpanContext(int("ab" * 16, 16), int("cd" * 8, 16), is_remote=False,
                              trace_flags=trace.TraceFlags(1))
    decoded = harness.pipeline.decode(_message())
    with harness.pipeline.tracer.start_as_current_span("unrelated batch span"):  # must not become the parent
        await harness.pipeline.handle(decoded, {}, fetched={"ok": 1}, links=[trace.Link(fetch)])
    span = next(s for s in harness.spans.get_finished_spans() if s.name.endswith("process turns.raw"))
    assert format(span.context.trace_id, "032x") == RECORD_TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert [link.context.span_id for link in span.links] == [fetch.span_id]
    assert span.attributes["sluice.decision"] == "flag"
    assert harness.metric("sluice_decisions_total", decision="flag") == 1


def test_a_fail_stop_flushes_the_spans_of_the_crash_before_exiting(monkeypatch, tmp_path):
    from services.runtime import service as runtime_service

    provider = build_tracer_provider("guardrails", "file", "", trace_file=tmp_path / "{service}.jsonl")
    with provider.get_tracer("test").start_as_current_span("guardrails process predictions"):
        pass
    exits = []
    monkeypatch.setattr(runtime_service.os, "_exit", exits.append)
    monkeypatch.setattr(runtime_service.logging, "shutdown", lambda: None)  # pytest's own log handlers stay open
    runtime_service.fail_stop("guardrails: unexpected runtime failure", RuntimeError("boom"), provider)
    assert exits == [70]
    assert [span["name"] for span in read_span_file(tmp_path / "guardrails.jsonl")] == ["guardrails process predictions"]
