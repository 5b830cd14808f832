"""Service lifecycle on faust-streaming: consumers, producers, tables, HTTP endpoints, graceful shutdown.

Delivery: at-least-once. Agents run with concurrency 1 and manual acks: a source record is acked
only after every record it produced (outputs or a dead letter) is confirmed by the broker, and
faust commits only the contiguous prefix of acked offsets — with two faust commit defects patched
(services/runtime/faust_fixes.py). faust's `exactly_once` mode is not used (faust issues #323, #440,
#517); duplicates after a crash are absorbed by deterministic event ids and idempotent consumers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.serializers import codecs as faust_codecs
from faust.web import Request, Response, View
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.runtime import faust_fixes
from services.runtime.deadletter import InboundMessage
from services.runtime.fetch import BatchPipeline, BatchPolicy, Fetcher, FetchRunner
from services.runtime.handler import Handler
from services.runtime.kafka_security import aiokafka_security, faust_credentials
from services.runtime.kafka_tools import last_committed_record_offsets
from services.runtime.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from services.runtime.pipeline import Decoded, Outcome, Pipeline, RetryPolicy, utc_now
from services.runtime.settings import RuntimeSettings
from services.runtime.state import StateSpec, TtlState
from services.runtime.topics import TopicContract, load_contract
from services.runtime.transactions import UNSENDABLE, ChangelogRecord, TransactionalOutput
from services.runtime.tracing import build_tracer_provider, incoming_span_context

log = logging.getLogger("sluice.runtime")
# aiohttp takes the charset separately and refuses it inside the content type.
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"


@dataclass(frozen=True)
class Route:
    """Consume `source` (a logical topic) with `handler`, optionally reading and writing `state`.

    With a `fetcher`, records are micro-batched (`batch`) and the fetcher's I/O (model calls) runs
    once per batch before the handler sees each event (see services/runtime/fetch.py).
    """

    source: str
    handler: Handler
    state: str | None = None
    fetcher: Fetcher | None = None
    batch: BatchPolicy = BatchPolicy()


PageInstaller = Callable[[faust.App, "StreamService"], None]


@dataclass
class StreamService:
    name: str
    settings: RuntimeSettings
    routes: Sequence[Route]
    states: Sequence[StateSpec] = ()
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    pages: Iterable[PageInstaller] = ()
    tracer_provider: TracerProvider | None = None
    contract: TopicContract = field(init=False)
    metrics: ServiceMetrics = field(init=False)
    app: faust.App = field(init=False)
    state_views: dict[str, TtlState] = field(init=False, default_factory=dict)
    _agents_started: int = field(init=False, default=0)
    _finished: set[tuple[str, int, int]] = field(init=False, default_factory=set)
    _unavailable: set[str] = field(init=False, default_factory=set)
    transactions: TransactionalOutput | None = field(init=False, default=None)
    _next_offset: dict[tuple[str, int], int] = field(init=False, default_factory=dict)
    _changelog_pending: list[ChangelogRecord] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.contract = load_contract(self.settings.contract_path)
        self.namespace = self.settings.namespace or self.contract.namespace
        self.metrics = ServiceMetrics(self.name)
        if self.tracer_provider is None:
            self.tracer_provider = build_tracer_provider(
                self.name, self.settings.trace_exporter, self.settings.otlp_endpoint,
                trace_file=self.settings.trace_file,
            )
        self.tracer = self.tracer_provider.get_tracer(f"sluice.{self.name}")

    def physical(self, logical: str) -> str:
        return self.contract.physical(logical, self.namespace)

    # --- composition --------------------------------------------------------------------------
    def build(self) -> faust.App:
        """Create the faust app with its agents, tables and pages; nothing connects until it starts."""
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            f"{self.namespace}.{self.name}",
            broker=[f"kafka://{server.strip()}" for server in self.settings.bootstrap_servers.split(",")],
            broker_credentials=faust_credentials(self.settings),
            store="memory://",
            autodiscover=False,
            # Topics are created only by `sluice topics bootstrap`, from the contract.
            topic_allow_declare=False,
            topic_replication_factor=1,
            # The leader-election topic serves faust timers we do not use; not declaring it keeps the contract whole.
            topic_disable_leader=True,
            datadir=str(self.settings.state_dir / f"{self.namespace}.{self.name}"),
            producer_acks=-1,
            producer_max_request_size=self.settings.max_publish_bytes,
            producer_linger=self.settings.producer_linger_ms / 1000.0,
            broker_commit_interval=self.settings.commit_interval_s,
            broker_session_timeout=self.settings.session_timeout_s,
            broker_heartbeat_interval=self.settings.session_timeout_s / 5,
            consumer_group_instance_id=(f"{self.name}.{self.settings.instance_id}"
                                        if self.settings.static_membership else None),
            consumer_auto_offset_reset="earliest",
            web_enabled=True,
            web_host=self.http_host,
            web_port=self.http_port,
            web_bind=self.http_host,
        )
        self.app = app
        # Table changelog writes queue in faust's producer buffer; at its default of 100 messages a
        # backlog stalls the stream on every overflow ("producer buffer full").
        app.producer.buffer.max_messages = 5000
        tables = {spec.name: self._table(app, spec) for spec in self.states}
        for route in self.routes:
            self._install_route(app, route, tables)
        self._install_health_pages(app)
        for install in self.pages:
            install(app, self)
        self._guard_consumer_acks(app)
        return app

    def _guard_consumer_acks(self, app: faust.App) -> None:
        """Only records this runtime finished may become committable (see services/runtime/faust_fixes.py)."""
        finished = self._finished

        def is_finished(message: Any) -> bool:
            position = (message.topic, message.partition, message.offset)
            if position in finished:
                finished.discard(position)
                return True
            return False

        transactional = self.settings.delivery == "exactly_once"
        sources = {self.physical(route.source) for route in self.routes}
        faust_fixes.install(app.consumer, sources, is_finished, commit_offsets=not transactional)
        faust_fixes.abandon_batches_at_seeks(app.consumer, sources)
        if transactional:
            faust_fixes.read_committed(app.consumer)
            self._install_transactions(app)

    def _install_transactions(self, app: faust.App) -> None:
        """exactly_once: one transactional producer per instance commits outputs and source offsets together."""
        settings = self.settings
        self.transactions = TransactionalOutput(
            bootstrap_servers=settings.bootstrap_servers,
            transactional_id=f"{self.namespace}.{self.name}.{settings.instance_id}",
            group_id=app.conf.id, interval_s=settings.transaction_interval_ms / 1000.0,
            max_request_size=settings.max_publish_bytes,
            # Nothing is visible to readers before the commit, which flushes every batch: lingering until then
            # sends one request per partition per commit instead of one per record (py-spy: socket writes were
            # ~10% of ingestion's time).
            linger_ms=max(settings.producer_linger_ms, settings.transaction_interval_ms),
            on_failure=lambda what, exc: fail_stop(what, exc, self.tracer_provider),
            client_kwargs=aiokafka_security(settings),
        )
        transactions = self.transactions

        # Before the consumer starts: fencing the predecessor completes its last transaction (commit or abort),
        # so the committed offsets the consumer then reads are final, not a commit still in flight.
        first_start = app.on_first_start

        async def start_transactions_then_app() -> None:
            await transactions.start()
            # State entries are written in the transactions too: table recovery must stop at the last committed
            # record of each changelog partition, not at the markers after it.
            faust_fixes.transactional_changelog_recovery(
                app.tables.recovery,
                lambda tps: last_committed_record_offsets(
                    settings.bootstrap_servers, [TopicPartition(tp.topic, tp.partition) for tp in tps],
                    security=aiokafka_security(settings)))
            await first_start()

        app.on_first_start = start_transactions_then_app

        @app.on_partitions_revoked.connect
        async def commit_before_revocation(*_: Any, **__: Any) -> None:
            # Offsets of partitions about to move must be committed by this instance, or their new owner
            # reprocesses records whose outputs this instance's next commit would still publish.
            await transactions.commit()

        @app.on_before_shutdown.connect
        async def commit_at_shutdown(*_: Any, **__: Any) -> None:
            await transactions.stop()

    def _table(self, app: faust.App, spec: StateSpec) -> Any:
        changelog = self.contract.get(spec.changelog)
        table = app.Table(
            spec.name,
            default=None,
            partitions=changelog.partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
            changelog_topic=app.topic(
                self.physical(spec.changelog), partitions=changelog.partitions, compacting=True,
                key_serializer="json", value_serializer="json",
            ),
        )
        changelog_topic = self.physical(spec.changelog)

        def persist(partition: int, key: str, entry: Any) -> None:
            if self.transactions is not None:
                # exactly_once: the entry joins the transaction of the record that changed it, so state, outputs
                # and offset are committed together (encoded as faust's json serializer does, for recovery).
                self._changelog_pending.append(ChangelogRecord(
                    changelog_topic, partition, faust_codecs.dumps("json", key),
                    None if entry is None else faust_codecs.dumps("json", entry)))
                return
            # Explicit partition: this runs from a delivery callback, outside faust's event context.
            if entry is None:
                table.send_changelog(partition, key, None, value_serializer="raw")
            else:
                table.send_changelog(partition, key, entry)

        self.state_views[spec.name] = TtlState(table.data, spec.ttl_s, persist)
        return table

    def _install_route(self, app: faust.App, route: Route, tables: dict[str, Any]) -> None:
        spec = self.contract.get(route.source)
        if self.name not in spec.consumers:
            raise ValueError(f"contract: {self.name} is not a consumer of {route.source}")
        pipeline = Pipeline(
            service=self.name, contract=self.contract, namespace=self.namespace, source=route.source,
            handler=route.handler, metrics=self.metrics, tracer=self.tracer,
            max_message_bytes=self.settings.max_message_bytes,
            max_publish_bytes=self.settings.max_publish_bytes,
            retry=RetryPolicy(self.settings.retry_attempts, self.settings.retry_backoff_s,
                              self.settings.retry_backoff_max_s),
        )
        state = self.state_views[route.state] if route.state else TtlState({}, ttl_s=0.0)
        topic = app.topic(
            self.physical(route.source), partitions=spec.partitions,
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
            # Null and empty values must reach the pipeline to be dead-lettered, not skipped.
            allow_empty=True,
        )

        if route.fetcher is not None:
            agent = self._batched_agent(pipeline, state, route)
        else:
            async def agent(stream: faust.StreamT) -> None:
                self._agents_started += 1
                async for event in stream.noack().events():
                    if self._already_taken(event, pipeline.source):
                        continue
                    try:
                        await self._handle(pipeline, state, event)
                    except Exception as exc:  # noqa: BLE001
                        fail_stop(f"{self.name}: unexpected runtime failure on {pipeline_source(event)}", exc,
                                  self.tracer_provider)

        app.agent(topic, name=f"{self.name}.{route.source}", concurrency=1)(agent)

    def _batched_agent(self, pipeline: Pipeline, state: TtlState, route: Route) -> Callable[..., Any]:
        dependency = f"{route.source}-fetch"
        available = self.metrics.dependency_available.labels(self.name, dependency)
        available.set(1)

        def on_availability(up: bool) -> None:
            available.set(1 if up else 0)
            (self._unavailable.discard if up else self._unavailable.add)(dependency)

        runner = FetchRunner(f"{self.name} {route.source}", route.fetcher, route.batch, on_availability)

        async def prepare(events: list[faust.EventT]) -> tuple[list[InboundMessage], list[Decoded], list[Any],
                                                              list[trace.Link]]:
            inbound = [_inbound(event) for event in events]
            decoded = [pipeline.decode(message) for message in inbound]
            to_fetch = [item.event for item in decoded if item.event is not None]
            # The model call serves many traces: a root span of its own, linked to every record's incoming
            # context; each record's process span (a child of its own upstream span) links back to it.
            links = [trace.Link(ctx) for ctx in (incoming_span_context(item.message.headers)
                                                 for item in decoded if item.event is not None) if ctx]
            with self.tracer.start_as_current_span(f"{self.name} fetch {pipeline.source}",
                                                   context=otel_context.Context(), links=links,
                                                   attributes={"sluice.batch_size": len(to_fetch)}) as span:
                fetched = await runner.fetch(to_fetch)
            return inbound, decoded, fetched, [trace.Link(span.get_span_context())]

        async def finish(events: list[faust.EventT], prepared: tuple) -> None:
            inbound, decoded, fetched, fetch_links = prepared
            results = iter(fetched)
            for event, message, item in zip(events, inbound, decoded):
                now = utc_now().timestamp()
                outcome = await pipeline.handle(item, state.at(now), next(results) if item.event is not None else None,
                                                links=fetch_links)
                await self._finish(pipeline, state, event, message, outcome, now)

        def failed(exc: BaseException) -> None:
            fail_stop(f"{self.name}: unexpected runtime failure in a batch of {route.source}", exc,
                      self.tracer_provider)

        async def agent(stream: faust.StreamT) -> None:
            self._agents_started += 1
            batches = BatchPipeline(route.batch.max_size, route.batch.max_wait_s, prepare, finish, failed,
                                    route.batch.max_in_flight)
            try:
                async for event in stream.noack().events():
                    if self._already_taken(event, pipeline.source):
                        continue
                    await batches.add(event)
            except Exception as exc:  # noqa: BLE001
                failed(exc)
            finally:
                batches.cancel()

        return agent

    def _already_taken(self, event: faust.EventT, source: str) -> bool:
        """exactly_once: True for a record this process already took (faust re-delivers buffered records after
        it seeks back to the committed offset). Its outputs are in this instance's transaction, committed or
        still open; processing it again would publish them twice and apply its state change twice. A crash
        aborts the open transaction and starts a new process, so "taken" never outlives its transaction."""
        if self.transactions is None:
            return False
        message = event.message
        position = (message.topic, message.partition)
        if message.offset < self._next_offset.get(position, -1):
            log.info("%s: %s[%s]@%s was already taken by this process (next %s); not processed again", self.name,
                     message.topic, message.partition, message.offset, self._next_offset[position])
            self.metrics.skipped.labels(self.name, source, "redelivered").inc()
            return True
        self._next_offset[position] = message.offset + 1
        return False

    async def _handle(self, pipeline: Pipeline, state: TtlState, event: faust.EventT) -> None:
        inbound = _inbound(event)
        now = utc_now().timestamp()
        outcome = await pipeline.process(inbound, state.at(now))
        await self._finish(pipeline, state, event, inbound, outcome, now)

    async def _finish(self, pipeline: Pipeline, state: TtlState, event: faust.EventT, inbound: InboundMessage,
                      outcome: Outcome, now: float) -> None:
        """Write state locally, publish the outcome, and ack the record once every publication is confirmed."""
        message = event.message
        for key, value in outcome.state_updates.items():
            state.write(key, value, message.partition, now)
        self._record_lag(pipeline.source, message)
        stage_latency = self.metrics.stage_seconds.labels(self.name, pipeline.source)

        def persist_state() -> None:
            for key in outcome.state_updates:
                state.persist(key, message.partition)
            if message.timestamp:  # every output confirmed: the stage is done with this record
                stage_latency.observe(max(0.0, time.time() - message.timestamp))

        if self.transactions is not None:
            for key in outcome.state_updates:
                state.persist(key, message.partition)  # queued for this record's transaction
            changelog, self._changelog_pending = self._changelog_pending, []

            def stage_done() -> None:
                if message.timestamp:
                    stage_latency.observe(max(0.0, time.time() - message.timestamp))

            await self._publish_in_transaction(pipeline, event, inbound, outcome, changelog, stage_done)
            return
        try:
            futures = await self._send_all(outcome)
        except Exception as exc:  # noqa: BLE001 - send() raises at once only for a record it can never send
            log.error("%s: output of %s cannot be published: %r", self.name, pipeline_source(event), exc)
            outcome = pipeline.publish_failed(inbound, exc)
            futures = await self._send_all(outcome)

        self._ack_when_confirmed(outcome, futures, event, persist_state)

    async def _publish_in_transaction(self, pipeline: Pipeline, event: faust.EventT, inbound: InboundMessage,
                                      outcome: Outcome, changelog: list[ChangelogRecord],
                                      stage_done: Callable[[], None]) -> None:
        """exactly_once: the record's publications, state changelog entries and offset join the open transaction;
        the record is acked when that transaction commits (services/runtime/transactions.py)."""
        message = event.message
        source = TopicPartition(message.topic, message.partition)
        in_flight = self.metrics.in_flight.labels(self.name)
        in_flight.inc()

        def committed() -> None:
            in_flight.dec()
            for publication in outcome.publications:
                self.metrics.produced.labels(self.name, publication.logical_topic).inc()
            stage_done()
            self._finished.add((message.topic, message.partition, message.offset))
            event.ack()

        try:
            try:
                await self.transactions.publish([*outcome.publications, *changelog], source, message.offset,
                                                committed)
            except UNSENDABLE as exc:
                log.error("%s: output of %s cannot be published: %r", self.name, pipeline_source(event), exc)
                outcome = pipeline.publish_failed(inbound, exc)
                # The state was changed locally; its entries still go with the dead letter to stay in step.
                await self.transactions.publish([*outcome.publications, *changelog], source, message.offset,
                                                committed)
        except Exception as exc:  # noqa: BLE001 - the open transaction is unusable; a restart aborts it
            fail_stop(f"{self.name}: transaction failed on {pipeline_source(event)}", exc, self.tracer_provider)

    async def _send_all(self, outcome: Outcome) -> list[asyncio.Future]:
        producer = self.app.producer
        return [
            await producer.send(publication.topic, publication.key, publication.value, None, None,
                                publication.headers)
            for publication in outcome.publications
        ]

    def _ack_when_confirmed(self, outcome: Outcome, futures: list[asyncio.Future], event: faust.EventT,
                            persist_state: Callable[[], None]) -> None:
        in_flight = self.metrics.in_flight.labels(self.name)
        in_flight.inc()

        def confirmed(_: Any) -> None:
            in_flight.dec()
            failures = [asyncio.CancelledError("send cancelled") if f.cancelled() else f.exception()
                        for f in futures]
            failures = [f for f in failures if f is not None]
            if failures:
                fail_stop(f"{self.name}: publish failed for {pipeline_source(event)} after the producer's retries",
                          failures[0], self.tracer_provider)
                return
            for publication in outcome.publications:
                self.metrics.produced.labels(self.name, publication.logical_topic).inc()
            # State reaches the changelog only after the outputs are safe (see services/runtime/state.py);
            # faust flushes the producer before it commits the acked offset.
            persist_state()
            message = event.message
            self._finished.add((message.topic, message.partition, message.offset))
            event.ack()

        if not futures:
            confirmed(None)
            return
        remaining = len(futures)

        def one_done(_: asyncio.Future) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0:
                confirmed(None)

        for future in futures:
            future.add_done_callback(one_done)

    def _record_lag(self, source: str, message: Any) -> None:
        try:
            highwater = self.app.consumer.highwater(message.tp)
        except Exception:  # noqa: BLE001 - lag is best effort; an unknown highwater just skips the sample
            return
        if highwater is not None:
            self.metrics.consumer_lag.labels(self.name, source, str(message.partition)).set(
                max(0, highwater - message.offset - 1)
            )

    # --- health -------------------------------------------------------------------------------
    def is_ready(self) -> bool:
        app = self.app
        if not app.started or app.rebalancing or self._agents_started < len(self.routes):
            return False
        if self._unavailable:
            return False
        if self.states:
            return app.tables.recovery.completed.is_set()
        return True

    def _install_health_pages(self, app: faust.App) -> None:
        service = self

        @app.page("/healthz")
        class Health(View):
            async def get(self, request: Request) -> Response:
                return self.json({"service": service.name, "status": "ok"})

        @app.page("/readyz")
        class Ready(View):
            async def get(self, request: Request) -> Response:
                ready = service.is_ready()
                body = {"service": service.name, "ready": ready, "waiting_for": sorted(service._unavailable)}
                return self.json(body, status=200 if ready else 503)

        @app.page("/metrics")
        class Metrics(View):
            async def get(self, request: Request) -> Response:
                return self.bytes(service.metrics.exposition(), content_type=PROMETHEUS_CONTENT_TYPE)

    # --- running ------------------------------------------------------------------------------
    def run(self) -> None:
        """Run until SIGTERM/SIGINT; faust stops the agents, flushes the producer and commits."""
        app = self.build()
        worker = faust.Worker(app, loglevel=self.settings.log_level.lower(), redirect_stdouts=False)
        # faust's terminal spinner sets the root logger to DEBUG when the level is WARNING or above,
        # which makes every library debug call build a log record (and writes escape codes to logs).
        worker.spinner = None
        try:
            worker.execute_from_commandline()  # raises SystemExit once stopped
        finally:
            # Spans still queued in the batch processors reach their exporter before the process exits.
            self.tracer_provider.force_flush()


FAIL_STOP_FLUSH_MS = 2000


def fail_stop(what: str, exc: BaseException, tracer_provider: TracerProvider | None = None) -> None:
    """Exit at once, committing nothing more, so the record is processed again after the restart.

    Letting faust's supervisor restart just the agent is not safe: the failed record would stay
    unacknowledged in memory while later ones are committed, or be skipped (seen in testing).
    The process manager (compose `restart:`, systemd, the demo script) restarts the service.
    The spans queued so far are flushed first, briefly (a crash's last spans are the ones worth reading),
    but never longer than FAIL_STOP_FLUSH_MS: an unreachable collector must not hold the exit.
    """
    log.critical("%s: %r; exiting (code 70) without committing it", what, exc, exc_info=exc)
    if tracer_provider is not None:
        try:
            tracer_provider.force_flush(FAIL_STOP_FLUSH_MS)
        except Exception:  # noqa: BLE001 - exiting regardless
            log.exception("flushing spans before exit failed")
    logging.shutdown()
    os._exit(70)


def pipeline_source(event: faust.EventT) -> str:
    message = event.message
    return f"{message.topic}[{message.partition}]@{message.offset}"


def _inbound(event: faust.EventT) -> InboundMessage:
    message = event.message
    return InboundMessage(
        topic=message.topic, partition=message.partition, offset=message.offset,
        timestamp=message.timestamp, key=message.key, value=message.value,
        headers=tuple(_normalize_headers(message.headers)),
    )


def _normalize_headers(headers: Any) -> Iterable[tuple[str, bytes | None]]:
    if not headers:
        return ()
    if isinstance(headers, dict):
        return [(str(k), v) for k, v in headers.items()]
    return [(str(k), v) for k, v in headers]
