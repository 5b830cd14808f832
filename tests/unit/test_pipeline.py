"""The runtime pipeline (decode -> handler with retry -> encode, or a dead letter) with fakes only:
the real contract, real metrics, an in-memory tracer, a fixed clock and a sleep that only records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from schemas.dead_letter.v1 import DeadLetterReason, DeadLetterV1
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.ingestion.handlers import IngestionRules, make_raw_turn_handler
from services.runtime.codec import SCHEMA_HEADER, header_value
from services.runtime.deadletter import InboundMessage, original_key, original_value
from services.runtime.handler import HandlerContext, HandlerResult, Output, Rejected, TransientError
from services.runtime.metrics import ServiceMetrics
from services.runtime.pipeline import Outcome, Pipeline, Publication, RetryPolicy
from services.runtime.topics import DEFAULT_CONTRACT, load_contract

CONTRACT = load_contract(DEFAULT_CONTRACT)
NAMESPACE = "unit"
SERVICE = "test"
SOURCE = "turns.raw"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01".encode()
MAX_BYTES = 1_048_576


class Harness:
    def __init__(self, handler, retry: RetryPolicy = RetryPolicy(3, 0.05, 2.0)):
        self.metrics = ServiceMetrics(SERVICE)
        self.spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.delays: list[float] = []

        async def record_sleep(delay: float) -> None:
            self.delays.append(delay)

        self.pipeline = Pipeline(
            service=SERVICE, contract=CONTRACT, namespace=NAMESPACE, source=SOURCE, handler=handler,
            metrics=self.metrics, tracer=provider.get_tracer("unit-test"), max_message_bytes=MAX_BYTES,
            retry=retry, clock=lambda: NOW, sleep=record_sleep,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"service": SERVICE, "topic": SOURCE, **labels})
        return 0.0 if value is None else value


def _turn_body(**changes) -> bytes:
    body = {
        "schema_name": "raw_turn", "schema_version": 2, "event_id": "turn-0001",
        "occurred_at": "2026-11-27T09:30:17+00:00", "conversation_id": "call-42", "turn_index": 4,
        "role": "customer", "text": " hello  there ", "started_at": "2026-11-27T09:30:12+00:00",
        "ended_at": "2026-11-27T09:30:17+00:00", "channel": "voice", "language": "en-US", "tenant_id": "acme",
    }
    body.update(changes)
    return json.dumps(body).encode()


def _message(value: bytes | None = None, *, traced: bool = True, offset: int = 7) -> InboundMessage:
    headers = [(SCHEMA_HEADER, b"raw_turn/v2")]
    if traced:
        headers.append(("traceparent", TRACEPARENT))
    return InboundMessage(
        topic=f"{NAMESPACE}.{SOURCE}", partition=1, offset=offset, timestamp=1_795_000_000.0, key=b"call-42",
        value=_turn_body() if value is None else value, headers=tuple(headers),
    )


def _trace_id_of(publication: Publication) -> str:
    traceparent = header_value(publication.headers, "traceparent")
    assert traceparent is not None, publication.headers
    version, trace_id, span_id, flags = traceparent.decode().split("-")
    return trace_id


def _only_dead_letter(outcome: Outcome) -> DeadLetterV1:
    assert len(outcome.publications) == 1
    publication = outcome.publications[0]
    assert publication.topic == f"{NAMESPACE}.deadletter"
    assert publication.logical_topic == "deadletter"
    assert header_value(publication.headers, SCHEMA_HEADER) == b"dead_letter/v1"
    record = DeadLetterV1.model_validate_json(publication.value)
    assert outcome.dead_letter_reason is record.reason_code
    assert outcome.event is None and dict(outcome.state_updates) == {}
    return record


INGEST = make_raw_turn_handler(IngestionRules())


async def test_a_valid_message_is_published_validated_in_the_incoming_trace():
    harness = Harness(INGEST)

    outcome = await harness.pipeline.process(_message(), {})

    assert outcome.dead_letter_reason is None
    assert [p.topic for p in outcome.publications] == [f"{NAMESPACE}.turns.validated"]
    publication = outcome.publications[0]
    assert publication.logical_topic == "turns.validated"
    assert publication.key == b"call-42"
    assert header_value(publication.headers, SCHEMA_HEADER) == b"validated_turn/v1"
    validated = ValidatedTurnV1.model_validate_json(publication.value)
    assert (validated.turn_id, validated.text) == ("turn-0001", "hello there")
    assert (validated.producer, validated.produced_at, validated.received_at) == (SERVICE, NOW, NOW)
    assert set(outcome.state_updates) == {"turn-0001"}
    assert _trace_id_of(publication) == TRACE_ID

    (span,) = harness.spans.get_finished_spans()
    assert span.name == f"{SERVICE} process {SOURCE}"
    assert span.kind is SpanKind.CONSUMER
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert span.attributes["sluice.event_id"] == "turn-0001"
    assert span.attributes["messaging.kafka.message.offset"] == 7
    assert span.status.status_code is not StatusCode.ERROR
    assert harness.metric("sluice_messages_consumed_total") == 1.0


async def test_the_published_traceparent_names_the_processing_span_as_parent():
    harness = Harness(INGEST)
    outcome = await harness.pipeline.process(_message(), {})
    (span,) = harness.spans.get_finished_spans()
    traceparent = header_value(outcome.publications[0].headers, "traceparent").decode()
    assert traceparent.split("-")[2] == format(span.context.span_id, "016x")


async def test_a_message_without_trace_headers_starts_a_new_trace():
    harness = Harness(INGEST)
    outcome = await harness.pipeline.process(_message(traced=False), {})
    (span,) = harness.spans.get_finished_spans()
    assert span.parent is None
    assert _trace_id_of(outcome.publications[0]) == format(span.context.trace_id, "032x") != TRACE_ID


async def test_an_undecodable_message_is_dead_lettered_with_its_reason_and_original_bytes():
    harness = Harness(INGEST)
    message = _message(b"conversation_id=42&text=hello")

    outcome = await harness.pipeline.process(message, {})

    record = _only_dead_letter(outcome)
    assert record.reason_code is DeadLetterReason.NOT_JSON
    assert original_value(record) == b"conversation_id=42&text=hello"
    assert original_key(record) == b"call-42"
    assert (record.service, record.source_topic, record.source_partition, record.source_offset) == (
        SERVICE, f"{NAMESPACE}.{SOURCE}", 1, 7,
    )
    assert record.producer == SERVICE
    assert outcome.publications[0].key == f"{NAMESPACE}.{SOURCE}".encode()
    assert _trace_id_of(outcome.publications[0]) == TRACE_ID
    assert harness.metric("sluice_messages_dead_lettered_total", reason="not_json") == 1.0
    assert harness.metric("sluice_messages_dead_lettered_total", reason="schema_invalid") == 0.0
    (span,) = harness.spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["sluice.dead_letter.reason"] == "not_json"


async def test_a_schema_invalid_message_is_dead_lettered_with_its_field_errors():
    harness = Harness(INGEST)
    outcome = await harness.pipeline.process(_message(_turn_body(turn_index="four")), {})
    record = _only_dead_letter(outcome)
    assert record.reason_code is DeadLetterReason.SCHEMA_INVALID
    assert [e.loc for e in record.field_errors] == ["turn_index"]


async def test_a_handler_rejection_is_dead_lettered_with_its_code():
    def reject(event, state, context):
        raise Rejected(DeadLetterReason.NORMALIZATION_FAILED, "cannot normalize")

    harness = Harness(reject)
    record = _only_dead_letter(await harness.pipeline.process(_message(), {}))

    assert record.reason_code is DeadLetterReason.NORMALIZATION_FAILED
    assert record.reason == "cannot normalize"
    assert record.exception_type == "services.runtime.handler.Rejected"
    assert record.attempts == 1
    assert original_value(record) == _turn_body()
    assert harness.metric("sluice_messages_dead_lettered_total", reason="normalization_failed") == 1.0


async def test_the_real_ingestion_handler_rejecting_blank_text_dead_letters_it():
    harness = Harness(INGEST)
    record = _only_dead_letter(await harness.pipeline.process(_message(_turn_body(text=" \u200b ")), {}))
    assert record.reason_code is DeadLetterReason.SCHEMA_INVALID
    assert [e.loc for e in record.field_errors] == ["text"]


async def test_a_handler_bug_is_dead_lettered_as_handler_error_with_the_exception_type():
    def crash(event, state, context):
        raise ZeroDivisionError("division by zero")

    harness = Harness(crash)
    record = _only_dead_letter(await harness.pipeline.process(_message(), {}))

    assert record.reason_code is DeadLetterReason.HANDLER_ERROR
    assert record.exception_type == "builtins.ZeroDivisionError"
    assert "ZeroDivisionError: division by zero" in record.reason
    assert harness.metric("sluice_messages_dead_lettered_total", reason="handler_error") == 1.0


async def test_a_handler_output_for_the_wrong_topic_is_a_handler_error_not_a_crash():
    def wrong_topic(event, state, context):
        validated = INGEST(event, state, context).outputs[0].event
        return HandlerResult(outputs=(Output("turns.raw", validated),))

    harness = Harness(wrong_topic)
    record = _only_dead_letter(await harness.pipeline.process(_message(), {}))
    assert record.reason_code is DeadLetterReason.HANDLER_ERROR
    assert record.exception_type == "builtins.TypeError"


class FlakyHandler:
    """Raises TransientError `failures` times, then delegates to the real ingestion handler."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0
        self.contexts: list[HandlerContext] = []

    def __call__(self, event, state: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        self.calls += 1
        self.contexts.append(context)
        if self.calls <= self.failures:
            raise TransientError(f"dependency unavailable (call {self.calls})")
        return INGEST(event, state, context)


async def test_a_transient_error_is_retried_with_exponential_backoff_then_succeeds():
    handler = FlakyHandler(failures=2)
    harness = Harness(handler, RetryPolicy(3, 0.05, 2.0))

    outcome = await harness.pipeline.process(_message(), {})

    assert outcome.dead_letter_reason is None
    assert [p.logical_topic for p in outcome.publications] == ["turns.validated"]
    assert handler.calls == 3
    assert harness.delays == [0.05, 0.1]
    assert harness.metric("sluice_handler_retries_total") == 2.0
    assert harness.metric("sluice_messages_dead_lettered_total", reason="retries_exhausted") == 0.0
    (span,) = harness.spans.get_finished_spans()
    assert [e.name for e in span.events] == ["retry", "retry"]


async def test_retry_delay_is_capped_by_the_maximum_backoff():
    handler = FlakyHandler(failures=4)
    harness = Harness(handler, RetryPolicy(5, 0.5, 1.0))
    await harness.pipeline.process(_message(), {})
    assert harness.delays == [0.5, 1.0, 1.0, 1.0]


async def test_a_transient_error_on_every_attempt_is_dead_lettered_as_retries_exhausted():
    handler = FlakyHandler(failures=10)
    harness = Harness(handler, RetryPolicy(3, 0.05, 2.0))

    record = _only_dead_letter(await harness.pipeline.process(_message(), {}))

    assert record.reason_code is DeadLetterReason.RETRIES_EXHAUSTED
    assert record.attempts == 3
    assert record.exception_type == "services.runtime.handler.TransientError"
    assert handler.calls == 3
    assert harness.delays == [0.05, 0.1]
    assert harness.metric("sluice_handler_retries_total") == 2.0
    assert harness.metric("sluice_messages_dead_lettered_total", reason="retries_exhausted") == 1.0


async def test_a_rejection_after_a_retry_records_the_attempt_it_happened_on():
    calls = []

    def transient_then_reject(event, state, context):
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("blip")
        raise Rejected(DeadLetterReason.SCHEMA_INVALID, "no")

    harness = Harness(transient_then_reject)
    record = _only_dead_letter(await harness.pipeline.process(_message(), {}))
    assert record.reason_code is DeadLetterReason.SCHEMA_INVALID
    assert record.attempts == 2


async def test_a_duplicate_is_skipped_without_publications_and_counted():
    harness = Harness(INGEST)

    outcome = await harness.pipeline.process(_message(), {"turn-0001": 1})

    assert outcome.publications == []
    assert outcome.dead_letter_reason is None
    assert dict(outcome.state_updates) == {}
    assert harness.metric("sluice_messages_skipped_total", reason="duplicate") == 1.0
    assert harness.metric("sluice_messages_dead_lettered_total", reason="handler_error") == 0.0
    (span,) = harness.spans.get_finished_spans()
    assert span.attributes["sluice.skipped"] == "duplicate"


async def test_the_handler_gets_the_clock_and_the_source_position():
    handler = FlakyHandler(failures=0)
    harness = Harness(handler)
    await harness.pipeline.process(_message(offset=99), {})
    assert handler.contexts == [
        HandlerContext(service=SERVICE, now=NOW, source_topic=SOURCE, partition=1, offset=99,
                       source_schema="raw_turn/v2")
    ]


def test_publish_failed_dead_letters_the_message_as_publish_failed():
    harness = Harness(INGEST)
    message = _message()

    outcome = harness.pipeline.publish_failed(message, RuntimeError("record too large"))

    record = _only_dead_letter(outcome)
    assert record.reason_code is DeadLetterReason.PUBLISH_FAILED
    assert "record too large" in record.reason
    assert record.exception_type == "builtins.RuntimeError"
    assert original_value(record) == message.value
    assert _trace_id_of(outcome.publications[0]) == TRACE_ID
    assert harness.metric("sluice_messages_dead_lettered_total", reason="publish_failed") == 1.0


async def test_a_dead_letter_keeps_at_most_half_the_publish_limit_of_the_original():
    harness = Harness(INGEST)
    pipeline = Pipeline(
        service=SERVICE, contract=CONTRACT, namespace=NAMESPACE, source=SOURCE, handler=INGEST,
        metrics=harness.metrics, tracer=TracerProvider().get_tracer("t"), max_message_bytes=100,
        max_publish_bytes=80, clock=lambda: NOW,
    )
    value = b"x" * 200
    record = _only_dead_letter(await pipeline.process(_message(value), {}))
    assert record.reason_code is DeadLetterReason.OVERSIZE
    assert original_value(record) == value[:40]
    assert record.original_value_truncated is True
    assert record.original_value_size == 200


@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.05), (2, 0.1), (3, 0.2), (10, 2.0)])
def test_retry_policy_delay_doubles_and_is_capped(attempt, delay):
    assert RetryPolicy(3, 0.05, 2.0).delay(attempt) == pytest.approx(delay)


async def test_a_deeply_nested_json_value_is_dead_lettered_not_raised():
    harness = Harness(INGEST)
    outcome = await harness.pipeline.process(_message(b"[" * 100_000), {})
    record = _only_dead_letter(outcome)
    assert record.reason_code is DeadLetterReason.NOT_JSON
