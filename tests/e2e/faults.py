"""Fault-injection harness: the whole pipeline (six services, real Kafka, real Triton) under generated load.

A `Pipeline` runs every service as its own OS process under a supervisor that restarts any process that
exits (as compose's `restart:` does), reads every output topic continuously with read_committed, and runs
*phases*: each phase streams its own generated turns (plus malformed records, plus reviewer labels for earlier
turns) on an absolute schedule, injects one fault part way through, and then accounts for every event:

- every raw turn ends enriched, under review or blocked, exactly once (services/runtime/accounting.py);
- every malformed record is exactly one dead letter;
- no event id appears twice on any output topic with different content (exactly-once mode: not at all);
- every prediction of the phase is observed by drift exactly once, every label yields labeled examples;
- a phase is accounted only when every stage has caught up (outcomes, dead letters, drift, labels);
- recovery time: from the fault until a turn sent after the fault is done (outcome and drift observation)
  with normal latency again.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.feedback.v1 import FeedbackV1
from schemas.review_request.v1 import ReviewRequestV1
from services.runtime.accounting import account
from services.runtime.codec import encode
from services.runtime.conversations import generate_turns
from services.runtime.kafka_tools import topic_partitions
from services.runtime.sample_traffic import malformed_records
from services.runtime.topics import load_contract
from tests.integration.conftest import Broker, ServiceProcess, Triton, free_port

CONTRACT = load_contract()
EXACTLY_ONCE = os.environ.get("SLUICE_DELIVERY", "exactly_once") == "exactly_once"  # the services' default
SERVICES = ("ingestion", "features", "inference", "guardrails", "feedback", "drift")
WATCHED = ("predictions", "turns.enriched", "review.requests", "deadletter", "drift.observations",
           "examples.labeled")


@dataclass
class Seen:
    """One record read from an output topic: its event id, decoded document and broker timestamp."""

    topic: str
    event_id: str
    document: dict
    timestamp_s: float


class OutputWatcher:
    """Reads every watched topic from the beginning, read_committed, for the life of the pipeline."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.records: dict[str, list[Seen]] = defaultdict(list)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        topics = [CONTRACT.physical(logical, self.namespace) for logical in WATCHED]
        self._logical = {CONTRACT.physical(logical, self.namespace): logical for logical in WATCHED}
        partitions = await topic_partitions(self.bootstrap, topics)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", isolation_level="read_committed",
                                    request_timeout_ms=60_000)
        await consumer.start()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._consumer = consumer
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except Exception:  # noqa: BLE001 - the broker restarts in one phase; the client reconnects
                await asyncio.sleep(0.5)
                continue
            for tp, records in batches.items():
                logical = self._logical[tp.topic]
                for record in records:
                    document = json.loads(record.value)
                    self.records[logical].append(Seen(logical, document["event_id"], document,
                                                      record.timestamp / 1000.0))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()


@dataclass
class Supervisor:
    """Restarts any service process that exits, like compose's `restart: unless-stopped`."""

    services: dict[str, ServiceProcess]
    restarts: Counter = field(default_factory=Counter)
    restart_s: list[tuple[str, float]] = field(default_factory=list)  # (service, exit seen -> ready again)
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            for name, service in self.services.items():
                if service.process is not None and service.process.poll() is not None:
                    self.restarts[name] += 1
                    began = time.monotonic()
                    await asyncio.to_thread(_start_until_ready, service)
                    self.restart_s.append((name, time.monotonic() - began))
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _start_until_ready(service: ServiceProcess) -> None:
    """Start a service; while a dependency is down it may exit at once, so keep trying (bounded)."""
    deadline = time.monotonic() + 240
    while True:
        try:
            service.start(ready_timeout_s=120)
            return
        except (RuntimeError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            if service.process is not None and service.process.poll() is None:
                service.process.kill()
                service.process.wait()


@dataclass
class PhaseResult:
    name: str
    turns: int
    malformed: int
    labels: int
    outcomes: Counter
    lost: int
    duplicate_ids: int
    problems: list[str]
    dead_letters_ok: bool
    drift_observed_ok: bool
    labels_ok: bool
    fault_s: float
    restart_s: float | None
    recovery_s: float | None
    p50_before_s: float | None
    max_latency_s: float | None
    restarts: dict[str, int]
    lost_positions: list[str] = field(default_factory=list)  # turns.raw partition@offset of each lost turn

    @property
    def ok(self) -> bool:
        # at_least_once may repeat a record after a crash, with the same event id and content (the accounting
        # flags any other duplicate as a problem); exactly_once may not repeat it at all.
        return (not self.lost and (not self.duplicate_ids or not EXACTLY_ONCE) and not self.problems
                and self.dead_letters_ok and self.drift_observed_ok and self.labels_ok
                and self.recovery_s is not None)

    def row(self) -> str:
        recovery = "never" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        restart = "-" if self.restart_s is None else f"{self.restart_s:.1f} s"
        outcomes = "/".join(str(self.outcomes.get(o, 0)) for o in ("enriched", "under_review", "blocked"))
        restarts = ", ".join(f"{k} {v}" for k, v in sorted(self.restarts.items()) if v) or "-"
        return (f"| {self.name} | {self.turns} + {self.malformed} bad + {self.labels} labels | {outcomes} | "
                f"{self.lost} | {self.duplicate_ids} | {len(self.problems)} | "
                f"{'yes' if self.dead_letters_ok else 'NO'} | {'yes' if self.drift_observed_ok else 'NO'} | "
                f"{restart} | {recovery} | {self.max_latency_s or 0:.1f} s | {restarts} |")


TABLE_HEADER = ("| fault | load | enriched/review/blocked | lost | repeated ids (same content) | problems | dead letters exact | "
                "drift exactly once | back up after | caught up after | max latency | supervisor restarts |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|")


class Pipeline:
    def __init__(self, kafka: Broker, triton: Triton, workdir: Path, namespace: str) -> None:
        self.kafka = kafka
        self.triton = triton
        self.workdir = workdir
        self.namespace = namespace
        self.services: dict[str, ServiceProcess] = {}
        self.watcher = OutputWatcher(kafka.bootstrap, namespace)
        self.supervisor = Supervisor(self.services)
        self.results: list[PhaseResult] = []
        self.sent_turns: list = []
        self._phase_index = 0

    def physical(self, logical: str) -> str:
        return CONTRACT.physical(logical, self.namespace)

    async def start(self) -> None:
        for name in SERVICES:
            port = free_port()
            env = {
                **os.environ,
                "SLUICE_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
                "SLUICE_NAMESPACE": self.namespace,
                "SLUICE_STATE_DIR": str(self.workdir / "state"),
                "SLUICE_LOG_LEVEL": os.environ.get("SLUICE_FAULTS_LOG_LEVEL", "WARNING"),
                f"SLUICE_{name.upper()}_HTTP_PORT": str(port),
                "SLUICE_FEATURES_TRITON_URL": self.triton.grpc_url,
                "SLUICE_INFERENCE_TRITON_URL": self.triton.grpc_url,
            }
            self.services[name] = ServiceProcess(name, env, self.workdir / f"{name}.log", port)
        await asyncio.gather(*(asyncio.to_thread(s.start, 180) for s in self.services.values()))
        await self.watcher.start()
        self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()
        await self.watcher.stop()
        for service in self.services.values():
            if service.process is not None and service.process.poll() is None:
                service.stop()

    # --- faults ---------------------------------------------------------------------------------
    def kill(self, name: str) -> Callable[[], Awaitable[float | None]]:
        async def inject() -> float | None:
            self.services[name].process.kill()  # SIGKILL; the supervisor restarts it
            return None
        return inject

    def broker_restart(self) -> Callable[[], Awaitable[float | None]]:
        async def inject() -> float:
            began = time.monotonic()
            await asyncio.to_thread(self.kafka.run, "stop")
            await asyncio.to_thread(self.kafka.run, "start")
            return time.monotonic() - began
        return inject

    def triton_outage(self, seconds: float) -> Callable[[], Awaitable[float | None]]:
        async def inject() -> float:
            began = time.monotonic()
            await asyncio.to_thread(self.triton.run, "stop")
            await asyncio.sleep(seconds)  # the outage itself
            await asyncio.to_thread(self.triton.run, "start")  # returns once every model is ready
            return time.monotonic() - began
        return inject

    # --- one phase --------------------------------------------------------------------------------
    async def run_phase(self, name: str, inject: Callable[[], Awaitable[float | None]], *, turns: int, rate: float,
                        fault_after_s: float, labels: int = 0, drain_timeout_s: float = 300) -> PhaseResult:
        self._phase_index += 1
        run_id = f"{self.namespace}-p{self._phase_index}"
        generated = generate_turns(turns, seed=100 + self._phase_index, run_id=run_id, pii_share=0.3,
                                   toxic_share=0.05, injection_share=0.1)
        bad = malformed_records(max(1, turns // 10), seed=200 + self._phase_index, run_id=run_id)
        label_records = self._labels_for_earlier_reviews(labels)
        raw_topic, feedback_topic = self.physical("turns.raw"), self.physical("feedback")
        schedule: list[tuple[str, bytes | None, bytes | None, list]] = []
        bad_every = max(1, len(generated) // max(1, len(bad)))
        bad_iter = iter(bad)
        for index, turn in enumerate(generated):
            schedule.append((raw_topic, turn.record.key, turn.record.value, turn.record.headers))
            if index % bad_every == bad_every - 1:
                record = next(bad_iter, None)
                if record is not None:
                    schedule.append((raw_topic, record.key, record.value, record.headers))
        for index, (key, value, headers) in enumerate(label_records):
            schedule.insert(min(len(schedule), (index + 1) * len(schedule) // (len(label_records) + 1)),
                            (feedback_topic, key, value, headers))
        restarts_before = Counter(self.supervisor.restarts)
        restart_log_from = len(self.supervisor.restart_s)

        sent_at: dict[str, float] = {}
        turn_ids = {turn.record.event_id for turn in generated}
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap, acks="all", enable_idempotence=True,
                                    request_timeout_ms=120_000, max_request_size=2_097_152)
        await producer.start()
        fault_at: float | None = None

        async def fault() -> tuple[float, float | None]:
            await asyncio.sleep(fault_after_s)
            started = time.time()
            restored_in = await inject()
            return started, restored_in

        fault_task = asyncio.ensure_future(fault())
        start = time.time()
        pending = []
        for index, (topic, key, value, headers) in enumerate(schedule):
            due = start + index / rate  # absolute schedule: a slow send never shifts the ones after it
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if topic == raw_topic and value is not None:
                try:
                    document = json.loads(value)
                except ValueError:
                    document = None
                turn_id = document.get("event_id") if isinstance(document, dict) else None
                if turn_id in turn_ids:
                    sent_at[turn_id] = due
            pending.append((value, await producer.send(topic, value, key=key, headers=headers)))
        delivered = await asyncio.gather(*(future for _, future in pending))
        # Dead letters are matched to bad records by their position on turns.raw (equal bytes recur across phases).
        bad_values = {id(record.value): record for record in bad}
        positions = {}
        raw_position_of_turn: dict[str, str] = {}
        for (value, _), metadata in zip(pending, delivered):
            record = bad_values.get(id(value))
            if record is not None and metadata.topic == raw_topic:
                positions[(metadata.partition, metadata.offset)] = record.expected
            elif metadata.topic == raw_topic:
                raw_position_of_turn[str(json.loads(value).get("event_id"))] = f"{metadata.partition}@{metadata.offset}"
        await producer.stop()
        fault_at, restored_in = await fault_task
        self.sent_turns.extend(generated)

        deadline = time.monotonic() + drain_timeout_s
        next_report = time.monotonic() + 10
        while True:
            result = self._account(turn_ids)
            letters_ok = self._dead_letters_ok(positions)
            # Every stage must have caught up, not only the turn outcomes: a killed drift or feedback
            # service delays its own outputs only.
            observed_ok = self._observed_once(turn_ids)
            labels_ok = self._labels_joined(label_records)
            if (not result.lost and not result.problems and letters_ok and observed_ok and labels_ok) \
                    or time.monotonic() > deadline:
                break
            if time.monotonic() > next_report:
                next_report += 10
                seen = {logical: len(self.watcher.records[logical]) for logical in WATCHED}
                print(f"# {name}: waiting: {len(result.lost)} lost, {len(result.problems)} problems, dead letters "
                      f"{'ok' if letters_ok else 'incomplete'}, drift {'ok' if observed_ok else 'incomplete'}, "
                      f"labels {'ok' if labels_ok else 'incomplete'}; records seen {seen}", flush=True)
            await asyncio.sleep(1.0)
        await asyncio.sleep(3.0)  # late duplicates (a reprocessed record) would arrive now
        result = self._account(turn_ids)
        latencies = self._latencies(turn_ids, sent_at)
        before = [lat for t, lat, sent in latencies if sent < fault_at]
        normal = max(1.0, 3 * (statistics.quantiles(before, n=20)[-1] if len(before) >= 20 else max(before or [1.0])))
        if restored_in is None:  # a killed service: the supervisor's restart of it
            restored_in = max((seconds for _, seconds in self.supervisor.restart_s[restart_log_from:]), default=None)
        phase = PhaseResult(
            name=name, turns=len(generated), malformed=len(bad), labels=len(label_records),
            outcomes=result.counts, lost=len(result.lost), duplicate_ids=self._duplicate_ids(),
            problems=result.problems, dead_letters_ok=self._dead_letters_ok(positions),
            drift_observed_ok=self._observed_once(turn_ids), labels_ok=self._labels_joined(label_records),
            fault_s=fault_at - start, restart_s=restored_in,
            recovery_s=caught_up_after([(sent, out) for out, _, sent in latencies], fault_at, normal),
            p50_before_s=statistics.median(before) if before else None,
            max_latency_s=max((lat for _, lat, _ in latencies), default=None),
            restarts=dict(Counter(self.supervisor.restarts) - restarts_before),
            lost_positions=sorted(raw_position_of_turn.get(turn, "?") for turn in result.lost),
        )
        self.results.append(phase)
        return phase

    # --- accounting -------------------------------------------------------------------------------
    def _docs(self, logical: str) -> list[Seen]:
        return list(self.watcher.records[logical])

    def _account(self, turn_ids: set[str]):
        enriched = [EnrichedTurnV1.model_validate(s.document) for s in self._docs("turns.enriched")
                    if s.document.get("turn_id") in turn_ids]
        reviews = [ReviewRequestV1.model_validate(s.document) for s in self._docs("review.requests")
                   if s.document.get("turn_id") in turn_ids]
        return account(turn_ids, enriched, reviews)

    def _latencies(self, turn_ids: set[str], sent_at: dict[str, float]) -> list[tuple[float, float, float]]:
        """(done time, latency, sent time) per turn. A turn is done when both its outcome (enriched or under
        review) and drift's observation of its prediction are out, each counted at its first record: a fault
        in drift delays only the observation."""
        outcome: dict[str, float] = {}
        for logical in ("turns.enriched", "review.requests"):
            for seen in self._docs(logical):
                turn = seen.document.get("turn_id")
                if turn in turn_ids and turn in sent_at:
                    outcome[turn] = min(outcome.get(turn, seen.timestamp_s), seen.timestamp_s)
        turn_of_prediction = {s.event_id: s.document.get("turn_id") for s in self._docs("predictions")}
        observed: dict[str, float] = {}
        for seen in self._docs("drift.observations"):
            if seen.document.get("source_topic") == "predictions":
                turn = turn_of_prediction.get(seen.document.get("source_event_id"))
                if turn in outcome:
                    observed[turn] = min(observed.get(turn, seen.timestamp_s), seen.timestamp_s)
        done = {turn: max(out, observed[turn]) for turn, out in outcome.items() if turn in observed}
        return sorted((out, out - sent_at[turn], sent_at[turn]) for turn, out in done.items())

    def _duplicate_ids(self) -> int:
        """Records repeating an event id already on the same topic (over the whole run so far)."""
        duplicates = 0
        for logical in WATCHED:
            counts = Counter(seen.event_id for seen in self._docs(logical))
            duplicates += sum(count - 1 for count in counts.values() if count > 1)
        return duplicates

    def _dead_letters_ok(self, positions: dict[tuple[int, int], str]) -> bool:
        """Exactly one dead letter, with the expected reason, per bad record (by its turns.raw position)."""
        raw_topic = self.physical("turns.raw")
        letters = Counter()
        for seen in self._docs("deadletter"):
            letter = seen.document
            position = (letter.get("source_partition"), letter.get("source_offset"))
            if letter.get("source_topic") == raw_topic and position in positions:
                letters[(position, letter.get("reason_code"))] += 1
        return letters == Counter({(position, reason): 1 for position, reason in positions.items()})

    def _observed_once(self, turn_ids: set[str]) -> bool:
        """Every prediction of the phase has exactly one drift observation (one event id: a record repeated
        with the same id after a crash is the same observation, counted among the repeated ids)."""
        predictions = {s.event_id for s in self._docs("predictions") if s.document.get("turn_id") in turn_ids}
        observation_ids: dict[str, set[str]] = defaultdict(set)
        for seen in self._docs("drift.observations"):
            if seen.document.get("source_topic") == "predictions":
                observation_ids[seen.document.get("source_event_id")].add(seen.event_id)
        return len(predictions) == len(turn_ids) and all(len(observation_ids.get(p, ())) == 1 for p in predictions)

    def _labels_for_earlier_reviews(self, count: int) -> list[tuple[bytes, bytes, list]]:
        if not count:
            return []
        truth = {t.record.event_id: t.truth.intent for t in self.sent_turns}
        labelled = {s.document["prediction_event_id"] for s in self._docs("examples.labeled")
                    if "prediction_event_id" in s.document}
        reviews = [s.document for s in self._docs("review.requests")
                   if s.document.get("turn_id") in truth and s.document.get("prediction_event_id") not in labelled]
        spec = CONTRACT.get("feedback")
        now = datetime.now(timezone.utc)
        out = []
        for review in reviews[:count]:
            label = FeedbackV1(event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"fault-label:{review['prediction_event_id']}")),
                               occurred_at=now, prediction_event_id=review["prediction_event_id"],
                               turn_id=review["turn_id"], label_source="human_review", label_name="intent",
                               label_value=truth[review["turn_id"]], review_decision="approve")
            envelope = encode(label, spec, "faults", now)
            out.append((envelope.key, envelope.value, envelope.headers))
        return out

    def _labels_joined(self, labels: list[tuple[bytes, bytes, list]]) -> bool:
        if not labels:
            return True
        wanted = {json.loads(value)["prediction_event_id"] for _, value, _ in labels}
        joined = {s.document.get("prediction_event_id") for s in self._docs("examples.labeled")}
        return wanted <= joined

    def table(self) -> str:
        return "\n".join([TABLE_HEADER, *(r.row() for r in self.results)])




def caught_up_after(delivered: list[tuple[float, float]], fault_at: float, normal_s: float) -> float | None:
    """Seconds from the fault until the pipeline had caught up: the first output time t, no earlier than the
    first delivery of a turn sent after the fault, by which every turn sent before t - normal_s was delivered.
    `delivered` holds (sent, output) times per turn; None when no turn sent after the fault came out."""
    after_fault = [out for sent, out in delivered if sent >= fault_at]
    if not after_fault:
        return None
    first = min(after_fault)
    by_sent = sorted(delivered)
    for t in sorted(out for _, out in delivered if out >= first):
        if all(out <= t for sent, out in by_sent if sent <= t - normal_s):
            return t - fault_at
    return None
