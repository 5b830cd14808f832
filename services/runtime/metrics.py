"""Prometheus metrics every service exposes on /metrics, recorded once by the runtime."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]


class ServiceMetrics:
    """Metrics of one service; a registry of its own so tests and several services in a process don't collide."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None):
        self.service = service
        self.registry = registry or CollectorRegistry()
        labels = ["service", "topic"]
        self.consumed = Counter(
            "sluice_messages_consumed_total", "Messages consumed.", labels, registry=self.registry
        )
        self.produced = Counter(
            "sluice_messages_produced_total", "Messages published (delivery confirmed).", labels, registry=self.registry
        )
        self.dead_lettered = Counter(
            "sluice_messages_dead_lettered_total", "Messages dead-lettered, by reason code.",
            [*labels, "reason"], registry=self.registry,
        )
        self.skipped = Counter(
            "sluice_messages_skipped_total", "Valid messages a handler deliberately did not forward, by reason.",
            [*labels, "reason"], registry=self.registry,
        )
        self.retries = Counter("sluice_handler_retries_total", "Handler retries after a transient fault.",
                               labels, registry=self.registry)
        self.handler_seconds = Histogram(
            "sluice_handler_seconds", "Decode + handle + encode time per message.", labels,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "sluice_stage_latency_seconds",
            "Per stage: the source record's Kafka timestamp to the broker confirming every output of it "
            "(queueing, micro-batching, model calls, handler and publish).", labels,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            registry=self.registry,
        )
        self.decisions = Counter(
            "sluice_decisions_total", "What a handler decided for a message, by decision (e.g. guardrail verdicts).",
            [*labels, "decision"], registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "sluice_consumer_lag_messages", "High watermark minus next offset, per partition, at last message.",
            [*labels, "partition"], registry=self.registry,
        )
        self.in_flight = Gauge("sluice_in_flight_messages", "Messages handled but not yet acknowledged.",
                               ["service"], registry=self.registry)

        self.dependency_available = Gauge(
            "sluice_dependency_available", "1 while a route's fetch dependency (e.g. Triton) answers, else 0.",
            ["service", "dependency"], registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
