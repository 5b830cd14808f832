"""The middleware chain every consumed message goes through, independent of the Kafka client.

    trace span -> decode (edge) -> handler with bounded retry -> encode outputs
                        \\-> any failure: a dead-letter record instead of a crash

`process` returns what to publish and which state to write; the transport publishes it and
acknowledges the source offset only once every publication is confirmed (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas import EventModel
from schemas.dead_letter.v1 import DeadLetterReason
from services.runtime.codec import DecodeError, decode_with_source, encode
from services.runtime.deadletter import InboundMessage, dead_letter_for
from services.runtime.fetch import FetchFailed
from services.runtime.handler import Handler, HandlerContext, HandlerResult, Rejected, TransientError
from services.runtime.metrics import ServiceMetrics
from services.runtime.topics import TopicContract
from services.runtime.tracing import extract_context, trace_headers

log = logging.getLogger("sluice.runtime")

DEAD_LETTER_TOPIC = "deadletter"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_s: float = 0.05
    backoff_max_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * (2 ** (attempt - 1)))


@dataclass(frozen=True)
class Publication:
    """One record to publish: physical topic, key, value, headers."""

    topic: str
    logical_topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Decoded:
    """A consumed message after the decode edge: the event, or the dead letter that replaces it."""

    message: InboundMessage
    event: EventModel | None
    source_schema: str
    dead_letter: "Outcome | None"


@dataclass(frozen=True)
class Outcome:
    publications: list[Publication] = field(default_factory=list)
    state_updates: Mapping[str, Any] = field(default_factory=dict)
    dead_letter_reason: DeadLetterReason | None = None
    event: EventModel | None = None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Pipeline:
    """Runs one route (source topic + handler) of one service."""

    def __init__(
        self,
        *,
        service: str,
        contract: TopicContract,
        namespace: str,
        source: str,
        handler: Handler,
        metrics: ServiceMetrics,
        tracer: trace.Tracer,
        max_message_bytes: int,
        max_publish_bytes: int = 4 * 1024 * 1024,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.service = service
        self.contract = contract
        self.namespace = namespace
        self.source = source
        self.source_spec = contract.get(source)
        self.handler = handler
        self.metrics = metrics
        self.tracer = tracer
        self.max_message_bytes = max_message_bytes
        # base64 grows the original by 4/3; half the publish limit leaves room for the rest of the record.
        self.max_dead_letter_original_bytes = max_publish_bytes // 2
        self.retry = retry
        self.clock = clock
        self.sleep = sleep
        self._dead_letter_spec = contract.get(DEAD_LETTER_TOPIC)
        # Label lookups cost a lock and a dict probe each; these two are hit on every message.
        self._consumed = metrics.consumed.labels(service, source)
        self._handler_seconds = metrics.handler_seconds.labels(service, source)

    def physical(self, logical: str) -> str:
        return self.contract.physical(logical, self.namespace)

    @contextmanager
    def _span(self, message: InboundMessage, links: Sequence[trace.Link] = ()) -> Iterator[trace.Span]:
        # The parent is the record's own incoming context (its upstream span), never the current one:
        # without a traceparent header the span starts a new trace.
        with self.tracer.start_as_current_span(
            f"{self.service} process {self.source}",
            context=extract_context(message.headers),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": message.topic,
                "messaging.kafka.destination.partition": message.partition,
                "messaging.kafka.message.offset": message.offset,
            },
        ) as span:
            yield span

    async def process(self, message: InboundMessage, state: Mapping[str, Any]) -> Outcome:
        """Decode, handle and encode one message (routes without a fetcher)."""
        started = time.perf_counter()
        self._consumed.inc()
        with self._span(message) as span:
            decoded = self._decode(message, span)
            outcome = decoded.dead_letter or await self._handle(decoded, state, span)
        self._handler_seconds.observe(time.perf_counter() - started)
        return outcome

    def decode(self, message: InboundMessage) -> Decoded:
        """Decode one message of a batch; a failure is dead-lettered here, in a span of its own."""
        self._consumed.inc()
        try:
            return self._decode(message, None)
        except DecodeError as exc:
            with self._span(message) as span:
                return Decoded(message, None, "", self._dead_letter(message, span, exc.code, exc.reason,
                                                                    field_errors=exc.field_errors))

    async def handle(self, decoded: Decoded, state: Mapping[str, Any], fetched: Any = None,
                     links: Sequence[trace.Link] = ()) -> Outcome:
        """Run the handler on a decoded event of a batch, with what the route's fetcher returned for it.

        `links` point at the batch's fetch span (the model call shared by the batch)."""
        if decoded.dead_letter is not None:
            return decoded.dead_letter
        started = time.perf_counter()
        with self._span(decoded.message, links) as span:
            if isinstance(fetched, FetchFailed):
                span.set_attribute("sluice.event_id", decoded.event.event_id)
                outcome = self._dead_letter(decoded.message, span, DeadLetterReason.HANDLER_ERROR,
                                            f"dependency refused this input: {fetched.reason}")
            else:
                outcome = await self._handle(decoded, state, span, fetched)
        self._handler_seconds.observe(time.perf_counter() - started)
        return outcome

    def _decode(self, message: InboundMessage, span: trace.Span | None) -> Decoded:
        """The event, or (with a span) its dead letter; without a span a DecodeError propagates."""
        try:
            event, source_schema = decode_with_source(message.value, message.headers, self.source_spec,
                                                      self.max_message_bytes)
        except DecodeError as exc:
            if span is None:
                raise
            return Decoded(message, None, "", self._dead_letter(message, span, exc.code, exc.reason,
                                                                field_errors=exc.field_errors))
        return Decoded(message, event, source_schema, None)

    async def _handle(self, decoded: Decoded, state: Mapping[str, Any], span: trace.Span,
                      fetched: Any = None) -> Outcome:
        message, event = decoded.message, decoded.event
        span.set_attribute("sluice.event_id", event.event_id)
        context = HandlerContext(
            service=self.service, now=self.clock(), source_topic=self.source,
            partition=message.partition, offset=message.offset, source_schema=decoded.source_schema,
            fetched=fetched,
        )
        attempt = 1
        while True:
            try:
                result = self.handler(event, state, context)
                if result.skipped:
                    self.metrics.skipped.labels(self.service, self.source, result.skipped).inc()
                    span.set_attribute("sluice.skipped", result.skipped)
                if result.decision:
                    self.metrics.decisions.labels(self.service, self.source, result.decision).inc()
                    span.set_attribute("sluice.decision", result.decision)
                return Outcome(self._encode(result, span), result.state_updates, None, event)
            except Rejected as exc:
                return self._dead_letter(message, span, exc.code, exc.reason, field_errors=exc.field_errors,
                                         exception=exc, attempts=attempt)
            except TransientError as exc:
                if attempt >= self.retry.attempts:
                    return self._dead_letter(
                        message, span, DeadLetterReason.RETRIES_EXHAUSTED,
                        f"gave up after {attempt} attempts: {exc}", exception=exc, attempts=attempt,
                    )
                self.metrics.retries.labels(self.service, self.source).inc()
                span.add_event("retry", {"attempt": attempt, "error": str(exc)})
                await self.sleep(self.retry.delay(attempt))
                attempt += 1
            except Exception as exc:  # a handler bug must not crash the service or block the partition
                log.exception("handler of %s failed on %s[%d]@%d", self.service, message.topic,
                              message.partition, message.offset)
                return self._dead_letter(message, span, DeadLetterReason.HANDLER_ERROR,
                                         f"{type(exc).__name__}: {exc}", exception=exc, attempts=attempt)

    def _encode(self, result: HandlerResult, span: trace.Span) -> list[Publication]:
        now = self.clock()
        headers = trace_headers()
        publications = []
        for output in result.outputs:
            spec = self.contract.get(output.topic)
            encoded = encode(output.event, spec, self.service, now)
            publications.append(
                Publication(self.physical(output.topic), output.topic, encoded.key, encoded.value,
                            encoded.headers + headers)
            )
        span.set_attribute("sluice.outputs", len(publications))
        return publications

    def publish_failed(self, message: InboundMessage, exception: BaseException) -> Outcome:
        """The outputs of a message could not be published (e.g. too large): dead-letter the message instead."""
        with self.tracer.start_as_current_span(f"{self.service} publish-failed {self.source}",
                                               context=extract_context(message.headers)) as span:
            return self._dead_letter(message, span, DeadLetterReason.PUBLISH_FAILED,
                                     f"an output could not be published: {exception}", exception=exception)

    def _dead_letter(self, message: InboundMessage, span: trace.Span, code: DeadLetterReason, reason: str,
                     **details: Any) -> Outcome:
        span.set_status(Status(StatusCode.ERROR, f"{code.value}: {reason}"[:256]))
        span.set_attribute("sluice.dead_letter.reason", code.value)
        log.warning("%s dead-letters %s[%d]@%d: %s: %s", self.service, message.topic, message.partition,
                    message.offset, code.value, reason)
        record = dead_letter_for(message, service=self.service, code=code, reason=reason, now=self.clock(),
                                 max_original_bytes=self.max_dead_letter_original_bytes, **details)
        encoded = encode(record, self._dead_letter_spec, self.service, self.clock())
        publication = Publication(self.physical(DEAD_LETTER_TOPIC), DEAD_LETTER_TOPIC, encoded.key,
                                  encoded.value, encoded.headers + trace_headers())
        self.metrics.dead_lettered.labels(self.service, self.source, code.value).inc()
        return Outcome([publication], {}, code, None)
