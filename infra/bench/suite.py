"""The benchmark suite behind `make bench`: every ratio measured side by side in one run, written as RESULTS.md + plots.

Usage (from the repository root, with the project's virtual environment):

    .venv/bin/python infra/bench/suite.py [--quick] [--events N] [--latency-seconds S]
        [--kafka-port 29792] [--triton-http-port 28792] [--output infra/bench/RESULTS.md]

One broker and one Triton on bench ports (Kafka 29792, data in .data/bench-kafka-29792; Triton HTTP/gRPC/metrics
28792/28793/28794, data in .data/bench-triton-28792) are reused when already running there, otherwise started
here and stopped at the end. Services run as real processes (`python -m services.runtime.cli run <service>`)
with SLUICE_LOG_LEVEL=WARNING; every namespace is fresh (`bench<hex>`) and deleted at the end. Measurements, in
this order:

1. **Per-hop CPU µs/event vs a bare hop.** N generated turns (services/runtime/conversations.py) are pre-filled
   into turns.raw. Each hop then runs *alone* and drains its input topic: ingestion (turns.raw), features
   (turns.validated, the previous hop's output), inference (features), guardrails (predictions). Right after each
   hop, a bare aiokafka consume->produce passthrough (infra/bench/ingestion_bench.py's worker: no decoding,
   acks=all, commit after each acknowledged batch) drains *the same input topic* under its own consumer group
   into a scratch topic. CPU = utime+stime from /proc/<pid>/stat between the first and the last output seen,
   divided by the events produced in between; Triton's CPU (server + python-backend stubs) over the same window
   is reported separately. events/s = (N-1) / span of the outputs' CreateTime stamps.
2. **Sustained pipeline throughput.** A second namespace: N fresh turns pre-filled into turns.raw, the four
   services started together, the drain timed on turns.enriched + review.requests (a turn counts once, at its
   first output): (N-1) / span of CreateTime. Baseline: four bare passthroughs chained (4 hops, 5 topics) over
   the same bytes.
3. **End-to-end latency, open loop.** On the same running pipeline: turns are sent at 50 % and 80 % of the
   throughput just measured, on an absolute schedule (turn i due at t0 + i/rate, never sleep-after-send), each
   with its intended send time in the header `sluice-intended-send-ns`. Latency per turn = CreateTime of its
   first output on turns.enriched / review.requests minus the *intended* send time, so a generator that falls
   behind (or a queue that builds) shows up in the numbers instead of hiding (coordinated omission).
4. **Triton dynamic batching ON vs OFF** - infra/bench/triton_bench.py as a subprocess (its own two Tritons).
5. **Inference stage vs in-process onnxruntime** - infra/bench/inference_bench.py as a subprocess (its own
   Triton, this broker).

`--quick`: a 3-5 minute smoke version (fewer events, shorter latency windows, triton_bench --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from infra.bench.ingestion_bench import http_status as _http_status  # noqa: E402 - after the path above

KAFKA_SH = REPO / "infra" / "kafka" / "kafka.sh"
TRITON_SH = REPO / "infra" / "triton" / "triton.sh"
INTENDED_HEADER = "sluice-intended-send-ns"
POLL_S = 0.1
# (service, input topic, output topics), in pipeline order.
HOPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ingestion", "turns.raw", ("turns.validated",)),
    ("features", "turns.validated", ("features",)),
    ("inference", "features", ("predictions",)),
    ("guardrails", "predictions", ("turns.enriched", "review.requests")),
)
TRITON_HOPS = {"features", "inference"}
FINAL_TOPICS = ("turns.enriched", "review.requests")
GOAL_HOP_RATIO = 2.0          # CPU per event of a hop <= 2x the bare hop
GOAL_INFERENCE = 0.95         # inference stage >= 0.95 of the in-process ceiling
GOAL_P99_MS = 50.0            # p99 at 50 % load
_TURN_ID = re.compile(rb'"turn_id"\s*:\s*"([^"]*)"')


class SuiteError(Exception):
    """A failed run: reported as one line, exit status 1."""


# --- pure helpers (tests/unit/test_bench_suite.py) -----------------------------------------------

def percentile(ascending: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending sequence; nan when empty."""
    if not ascending:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ascending)))
    return ascending[min(rank, len(ascending)) - 1]


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float]:
    values = sorted(latencies_ms)
    summary = {f"p{q:g}": percentile(values, q) for q in (50, 90, 99)}
    summary["max"] = values[-1] if values else float("nan")
    summary["mean"] = statistics.fmean(values) if values else float("nan")
    summary["n"] = len(values)
    return summary


def intended_send_ns(index: int, rate: float, start_ns: int) -> int:
    """Open-loop schedule: event `index` (0-based) is due at start + index / rate, whatever happened before."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return start_ns + round(index * 1e9 / rate)


def parse_proc_stat_cpu(stat_line: str, clk_tck: int) -> float:
    """utime + stime in seconds from the text of /proc/<pid>/stat (the command name may hold spaces and ')')."""
    fields = stat_line.rsplit(")", 1)[1].split()
    # After the command: state(0) ppid(1) ... utime(11) stime(12), i.e. fields 14 and 15 of proc(5).
    return (int(fields[11]) + int(fields[12])) / clk_tck


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        return parse_proc_stat_cpu(f.read(), os.sysconf("SC_CLK_TCK"))


def rate_from_stamps(stamps_ms: Sequence[int]) -> float:
    """(N - 1) / span of CreateTime stamps in ms; nan when the span is 0."""
    if len(stamps_ms) < 2:
        return float("nan")
    span = (max(stamps_ms) - min(stamps_ms)) / 1000.0
    return (len(stamps_ms) - 1) / span if span > 0 else float("nan")


def stage_breakdown(intended_ns: dict[str, int], middle_ms: Sequence[dict[str, int | None]],
                    final_ms: dict[str, int]) -> list[dict[str, float]]:
    """Latency summaries per stage: intended send -> first intermediate CreateTime -> ... -> final CreateTime.

    `middle_ms` holds one {turn id: CreateTime ms} per intermediate topic, in pipeline order; turns missing
    anywhere are left out of every stage."""
    ids = [i for i in intended_ns if i in final_ms and all(m.get(i) is not None for m in middle_ms)]
    columns: list[list[float]] = [[] for _ in range(len(middle_ms) + 1)]
    for i in ids:
        points = [intended_ns[i] / 1e6, *(m[i] for m in middle_ms), final_ms[i]]
        for k in range(len(columns)):
            columns[k].append(points[k + 1] - points[k])
    return [latency_summary(column) for column in columns]


def goal_met(value: float, goal: float, higher_is_better: bool) -> bool | None:
    if value != value:  # nan
        return None
    return value >= goal if higher_is_better else value <= goal


def turn_id_of(value: bytes | None) -> str | None:
    """The turn_id of a JSON event without a full parse (every pipeline topic after turns.raw carries it)."""
    if not value:
        return None
    match = _TURN_ID.search(value)
    return match.group(1).decode() if match else None


# --- processes -----------------------------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(extra)
    return env


@dataclass
class Proc:
    label: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    http_port: int | None = None
    popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def cpu(self) -> float:
        return proc_cpu_s(self.pid)

    def check(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise SuiteError(f"{self.label} exited with status {self.popen.returncode}; see {self.log_path}")

    async def ready(self, timeout_s: float) -> float:
        started = time.monotonic()
        while self.http_port is not None and await _http_status(self.http_port, "/readyz") != 200:
            self.check()
            if time.monotonic() - started > timeout_s:
                raise SuiteError(f"{self.label}: /readyz not 200 after {timeout_s:.0f} s; see {self.log_path}")
            await asyncio.sleep(POLL_S)
        return time.monotonic() - started

    def stop(self, timeout_s: float = 60.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Context:
    """Broker, Triton, workdir and the knobs every measurement shares."""

    def __init__(self, args: argparse.Namespace):
        from services.runtime.topics import load_contract

        self.args = args
        self.bootstrap = f"127.0.0.1:{args.kafka_port}"
        self.kafka_data = REPO / ".data" / f"bench-kafka-{args.kafka_port}"
        self.triton_data = REPO / ".data" / f"bench-triton-{args.triton_http_port}"
        self.triton_grpc = f"127.0.0.1:{args.triton_http_port + 1}"
        self.contract = load_contract(None)
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-suite-", dir=REPO / ".data"))
        self.started_kafka = self.started_triton = False
        self.namespaces: list[str] = []
        self.hop_namespace = ""
        self.profiles: dict[str, Any] = {}

    def kafka_env(self) -> dict[str, str]:
        return {**os.environ, "SLUICE_KAFKA_PORT": str(self.args.kafka_port),
                "SLUICE_KAFKA_DATA_DIR": str(self.kafka_data)}

    def triton_env(self) -> dict[str, str]:
        port = self.args.triton_http_port
        return {**{k: v for k, v in os.environ.items() if not k.startswith("SLUICE_TRITON_")},
                "SLUICE_TRITON_HTTP_PORT": str(port), "SLUICE_TRITON_GRPC_PORT": str(port + 1),
                "SLUICE_TRITON_METRICS_PORT": str(port + 2), "SLUICE_TRITON_DATA_DIR": str(self.triton_data)}

    def up(self) -> None:
        if subprocess.run([str(KAFKA_SH), "status"], env=self.kafka_env(), capture_output=True).returncode != 0:
            say(f"# starting Kafka on {self.bootstrap} (data {self.kafka_data.relative_to(REPO)})")
            self.started_kafka = True
            if subprocess.run([str(KAFKA_SH), "start"], env=self.kafka_env()).returncode != 0:
                raise SuiteError("infra/kafka/kafka.sh start failed")
        else:
            say(f"# reusing the Kafka already running on {self.bootstrap}")
        if subprocess.run(["bash", str(TRITON_SH), "status"], env=self.triton_env(),
                          capture_output=True).returncode != 0:
            say(f"# starting Triton on :{self.args.triton_http_port} (gRPC {self.triton_grpc})")
            self.started_triton = True
            if subprocess.run(["bash", str(TRITON_SH), "start"], env=self.triton_env()).returncode != 0:
                raise SuiteError("infra/triton/triton.sh start failed (run `make setup` or infra/triton/setup.sh?)")
        else:
            say(f"# reusing the Triton already running on :{self.args.triton_http_port}")

    def down(self) -> None:
        if self.started_triton:
            subprocess.run(["bash", str(TRITON_SH), "stop"], env=self.triton_env(), capture_output=True)
        if self.started_kafka:
            subprocess.run([str(KAFKA_SH), "stop"], env=self.kafka_env(), capture_output=True)

    def triton_pid(self) -> int:
        try:
            return int((self.triton_data / "triton.pid").read_text().strip())
        except (OSError, ValueError):
            raise SuiteError(f"no Triton pid file in {self.triton_data}") from None

    def triton_cpu(self) -> float:
        from infra.bench.inference_bench import tree_cpu

        return sum(tree_cpu(self.triton_pid()).values())

    @property
    def default_delivery(self) -> str:
        if self.args.delivery:
            return self.args.delivery
        from services.runtime.settings import RuntimeSettings

        return str(getattr(RuntimeSettings.model_fields.get("delivery"), "default", "at_least_once"))

    def service(self, name: str, namespace: str, delivery: str | None = None) -> Proc:
        port = _free_port()
        env = _clean_env({
            "SLUICE_NAMESPACE": namespace, "SLUICE_BOOTSTRAP_SERVERS": self.bootstrap,
            f"SLUICE_{name.upper()}_HTTP_PORT": str(port), "SLUICE_LOG_LEVEL": "WARNING",
            "SLUICE_STATE_DIR": str(self.workdir / f"state-{namespace}"),
        })
        if delivery or self.args.delivery:
            env["SLUICE_DELIVERY"] = delivery or self.args.delivery
        if name in TRITON_HOPS:
            env[f"SLUICE_{name.upper()}_TRITON_URL"] = self.triton_grpc
        return Proc(name, [sys.executable, "-m", "services.runtime.cli", "run", name], env,
                    self.workdir / f"{namespace}-{name}.log", port)

    def passthrough(self, namespace: str, source: str, dest: str, label: str) -> Proc:
        argv = [sys.executable, str(HERE / "ingestion_bench.py"), "--passthrough-worker", "--bootstrap",
                self.bootstrap, "--source", source, "--dest", dest, "--group", f"{namespace}.{label}"]
        return Proc(label, argv, _clean_env({}), self.workdir / f"{namespace}-{label}.log")


def say(message: str) -> None:
    print(message, flush=True)


# --- topics and traffic --------------------------------------------------------------------------

async def create_namespace(ctx: Context, extra: Sequence[str]) -> str:
    """Contract topics of a fresh namespace plus `extra` scratch topics (6 partitions, like turns.raw)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from services.runtime.bootstrap import bootstrap_topics
    from services.runtime.kafka_tools import topic_partitions

    name = f"bench{secrets.token_hex(4)}"
    ctx.namespaces.append(name)
    report = await bootstrap_topics(ctx.bootstrap, ctx.contract, name)
    if report.drift:
        raise SuiteError(f"topic bootstrap of {name} drifted")
    partitions = ctx.contract.get("turns.raw").partitions
    if extra:
        admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap, request_timeout_ms=30000)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(f"{name}.{t}", partitions, 1) for t in extra])
        finally:
            await admin.close()
    names = [ctx.contract.physical(t.name, name) for t in ctx.contract.topics] + [f"{name}.{t}" for t in extra]
    deadline = time.monotonic() + 60
    while True:
        try:
            await topic_partitions(ctx.bootstrap, names)
            return name
        except LookupError:
            if time.monotonic() > deadline:
                raise SuiteError(f"topics of {name} not visible after 60 s") from None
            await asyncio.sleep(0.2)


async def delete_namespaces(ctx: Context) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if any(t.startswith(ns + ".") for ns in ctx.namespaces))
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def turns(n: int, run_id: str, seed: int = 7) -> list[tuple[bytes, bytes, list[tuple[str, bytes]], str]]:
    """N generated raw turns (key, value, headers, turn id), many conversations interleaved."""
    from services.runtime.conversations import generate_turns

    out = []
    for t in generate_turns(n, seed=seed, run_id=run_id, concurrent_conversations=64):
        r = t.record
        out.append((r.key, r.value, list(r.headers), r.event_id))
    return out


# --- output watching -----------------------------------------------------------------------------

class Watcher:
    """Reads topics from the beginning; the first CreateTime (ms) of each identity seen."""

    def __init__(self, bootstrap: str, topics: Sequence[str], identity: Callable[[Any], Any]):
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.identity = identity
        self.first: dict[Any, int] = {}       # identity -> CreateTime (ms) of its first record
        self.received: dict[Any, int] = {}    # identity -> wall clock (ns) when this reader got it
        self.records = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> "Watcher":
        from aiokafka import AIOKafkaConsumer

        from services.runtime.kafka_tools import topic_partitions

        partitions = await topic_partitions(self.bootstrap, self.topics)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                          auto_offset_reset="earliest", fetch_max_wait_ms=50,
                                          isolation_level="read_committed")
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            now = time.time_ns()
            for records in batches.values():
                for record in records:
                    self.records += 1
                    key = self.identity(record)
                    if key is not None and key not in self.first:
                        self.first[key] = record.timestamp
                        self.received[key] = now

    def seen(self, ids: set | None) -> int:
        if ids is None:
            return len(self.first)
        return sum(1 for i in ids if i in self.first)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._consumer.stop()


@dataclass
class Drain:
    label: str
    events: int
    events_per_s: float
    cpu_us_per_event: float | None
    triton_cpu_us_per_event: float | None
    wall_s: float
    startup_s: float
    n_at_first: int
    extra: dict[str, Any] = field(default_factory=dict)


async def drain(ctx: Context, label: str, procs: Sequence[Proc], watcher: Watcher, ids: set | None, n: int,
                timeout_s: float, with_triton: bool = True) -> Drain:
    """Start `procs` (in order), wait until `watcher` has seen `n` identities (of `ids`), stop them."""
    t0 = time.monotonic()
    for proc in procs:
        proc.start()
    cpu_first: list[float] | None = None
    triton_first = triton_last = None
    n_first = 0
    t_first = None
    try:
        while True:
            for proc in procs:
                proc.check()
            seen = watcher.seen(ids)
            if cpu_first is None and seen > 0:
                cpu_first = [p.cpu() for p in procs]
                triton_first = ctx.triton_cpu() if with_triton else None
                n_first, t_first = seen, time.monotonic()
            if seen >= n:
                cpu_last = [p.cpu() for p in procs]
                triton_last = ctx.triton_cpu() if with_triton else None
                break
            if time.monotonic() - t0 > timeout_s:
                raise SuiteError(f"{label}: {seen} of {n} events out after {timeout_s:.0f} s; logs in {ctx.workdir}")
            await asyncio.sleep(POLL_S)
        t_done = time.monotonic()
    finally:
        for proc in procs:
            proc.stop()
    stamps = [watcher.first[i] for i in (ids if ids is not None else list(watcher.first))]
    window = n - n_first
    cpu = sum(cpu_last) - sum(cpu_first) if cpu_first is not None else float("nan")
    triton = (triton_last - triton_first) if with_triton and triton_first is not None else None
    return Drain(label, n, rate_from_stamps(stamps), cpu * 1e6 / window if window > 0 else float("nan"),
                 triton * 1e6 / window if triton is not None and window > 0 else None,
                 t_done - t0, (t_first - t0) if t_first else float("nan"), n_first,
                 {"cpu_by_process_us": {p.label: (b - a) * 1e6 / window if window > 0 else float("nan")
                                        for p, a, b in zip(procs, cpu_first, cpu_last)}})


# --- 1. per hop ----------------------------------------------------------------------------------

async def copy_repeated(ctx: Context, source: str, dest: str, n: int, minimum: int) -> int:
    """Copy the `n` records of `source` into `dest`, repeated until there are at least `minimum`: the bare hop is
    so fast that N records would be drained within one CPU clock tick. Returns the number written."""
    from services.runtime.kafka_tools import collect, produce_records

    records = await collect(ctx.bootstrap, source, None, expect=n, timeout_s=120.0, settle_s=0.3)
    if len(records) < n:
        raise SuiteError(f"only {len(records)} of {n} records readable on {source}")
    payload = [(r.key, r.value, list(r.headers)) for r in records]
    repeat = max(1, math.ceil(minimum / len(payload)))
    await produce_records(ctx.bootstrap, dest, payload * repeat)
    return len(payload) * repeat


async def per_hop(ctx: Context, n: int) -> list[dict[str, Any]]:
    extra = [f"bench.{kind}-{service}" for service, _, _ in HOPS for kind in ("ptin", "pt")]
    ns = await create_namespace(ctx, extra)
    ctx.hop_namespace = ns
    data = turns(n, run_id=f"{ns}-hop")
    ids = {turn_id for *_, turn_id in data}
    from services.runtime.kafka_tools import produce_records

    await produce_records(ctx.bootstrap, ctx.contract.physical("turns.raw", ns), [(k, v, h) for k, v, h, _ in data])
    say(f"# per hop: namespace {ns}: {n} turns pre-filled into turns.raw")
    rows = []
    for service, source, outputs in HOPS:
        out_topics = [ctx.contract.physical(t, ns) for t in outputs]
        watcher = await Watcher(ctx.bootstrap, out_topics, lambda r: turn_id_of(r.value)).start()
        try:
            hop = await drain(ctx, service, [ctx.service(service, ns)], watcher, ids, n, ctx.args.timeout,
                              with_triton=service in TRITON_HOPS)
        finally:
            await watcher.stop()
        # The bare hop: the very records of this hop's input topic, repeated, through a passthrough.
        pt_in, pt_out = f"{ns}.bench.ptin-{service}", f"{ns}.bench.pt-{service}"
        m = await copy_repeated(ctx, ctx.contract.physical(source, ns), pt_in, n, ctx.args.bare_events)
        watcher = await Watcher(ctx.bootstrap, [pt_out], lambda r: (r.partition, r.offset)).start()
        try:
            bare = await drain(ctx, f"passthrough {source}", [ctx.passthrough(ns, pt_in, pt_out, f"pt-{service}")],
                               watcher, None, m, ctx.args.timeout, with_triton=service in TRITON_HOPS)
        finally:
            await watcher.stop()
        ratio = hop.cpu_us_per_event / bare.cpu_us_per_event if bare.cpu_us_per_event else float("nan")
        say(f"#   {service:<10} {hop.events_per_s:7.0f} ev/s {hop.cpu_us_per_event:8.0f} µs/ev"
            + (f" (+ Triton {hop.triton_cpu_us_per_event:.0f})" if service in TRITON_HOPS else "")
            + f" | bare ({m} records) {bare.events_per_s:7.0f} ev/s {bare.cpu_us_per_event:6.0f} µs/ev "
            f"| CPU ratio {ratio:.1f}x")
        rows.append({"service": service, "delivery": ctx.default_delivery, "source": source, "hop": hop.__dict__, "bare": bare.__dict__,
                     "cpu_ratio": ratio})
    return rows


async def profile_hops(ctx: Context, names: Sequence[str], n: int) -> dict[str, Any]:
    """Drain each named hop's input once more (copied into a fresh namespace) with py-spy attached from the first
    output on; own and inclusive samples per function (infra/bench/inference_bench.summarize_profile)."""
    import shutil

    from infra.bench.inference_bench import summarize_profile

    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if exe is None:
        say("# profile: py-spy not found (pip install -e '.[bench]'); skipped")
        return {}
    ns = await create_namespace(ctx, [])
    profiles: dict[str, Any] = {}
    for service, source, outputs in HOPS:
        if service not in names:
            continue
        await copy_repeated(ctx, ctx.contract.physical(source, ctx.hop_namespace), ctx.contract.physical(source, ns),
                            n, n)
        watcher = await Watcher(ctx.bootstrap, [ctx.contract.physical(t, ns) for t in outputs],
                                lambda r: turn_id_of(r.value)).start()
        proc = ctx.service(service, ns).start()
        raw = ctx.workdir / f"py-spy-{service}.txt"
        spy = None
        try:
            while watcher.seen(None) == 0:
                proc.check()
                await asyncio.sleep(0.02)
            spy = subprocess.Popen([exe, "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "250",
                                    "--nonblocking", "--output", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while watcher.seen(None) < n:
                proc.check()
                await asyncio.sleep(POLL_S)
        finally:
            proc.stop()
            await watcher.stop()
            if spy is not None:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
        if raw.exists():
            profiles[service] = {**summarize_profile(raw, top=45), "raw": str(raw.relative_to(REPO))}
            say(f"# profile of {service}: {profiles[service]['samples']} samples in {raw}")
        else:
            say(f"# profile of {service}: py-spy wrote nothing (not permitted to attach?)")
    return profiles


# --- 2 + 3. pipeline, chain, open-loop latency ---------------------------------------------------

async def send_open_loop(ctx: Context, topic: str, data: list, rate: float) -> dict[str, Any]:
    """Send `data` at `rate` on an absolute schedule; the intended time goes into a header. Returns
    {turn_id: intended ns} and how far behind its schedule the generator ever was."""
    import gc

    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", linger_ms=0)
    await producer.start()
    intended: dict[str, int] = {}
    behind = 0.0
    futures = []
    try:
        gc.collect()
        gc.disable()
        try:
            mono0 = time.monotonic_ns() + 50_000_000
            wall0 = time.time_ns() + 50_000_000
            for i, (key, value, headers, turn_id) in enumerate(data):
                due_mono = intended_send_ns(i, rate, mono0)
                delay = (due_mono - time.monotonic_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                behind = max(behind, (time.monotonic_ns() - due_mono) / 1e9)
                due_wall = intended_send_ns(i, rate, wall0)
                intended[turn_id] = due_wall
                futures.append(await producer.send(
                    topic, value=value, key=key, headers=[*headers, (INTENDED_HEADER, str(due_wall).encode())]))
            sent_s = (time.monotonic_ns() - mono0) / 1e9
        finally:
            gc.enable()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return {"intended": intended, "behind_max_ms": behind * 1000, "sent_s": sent_s,
            "achieved_rate": (len(data) - 1) / sent_s if sent_s > 0 and len(data) > 1 else float("nan")}


async def pipeline_and_latency(ctx: Context, n: int, latency_s: float, delivery: str | None,
                               max_rate: float | None = None) -> dict[str, Any]:
    """Drain, then open-loop latency at shares of `max_rate` (default: this drain's own turns/s)."""
    from services.runtime.kafka_tools import produce_records

    chain = [f"bench.chain{i}" for i in range(5)]
    ns = await create_namespace(ctx, chain)
    data = turns(n, run_id=f"{ns}-drain", seed=11)
    ids = {turn_id for *_, turn_id in data}
    raw = ctx.contract.physical("turns.raw", ns)
    payload = [(k, v, h) for k, v, h, _ in data]
    await produce_records(ctx.bootstrap, raw, payload)
    repeat = max(1, math.ceil(ctx.args.bare_events / n))
    await produce_records(ctx.bootstrap, f"{ns}.{chain[0]}", payload * repeat)
    say(f"# pipeline ({delivery or 'default delivery'}): namespace {ns}: {n} turns pre-filled into turns.raw, "
        f"the same x{repeat} into {chain[0]}")
    result: dict[str, Any] = {"namespace": ns, "delivery": delivery or ctx.default_delivery}

    # Bare chain first (4 passthroughs, downstream first so each is consuming when records reach it).
    watcher = await Watcher(ctx.bootstrap, [f"{ns}.{chain[-1]}"], lambda r: (r.partition, r.offset)).start()
    try:
        procs = [ctx.passthrough(ns, f"{ns}.{chain[i]}", f"{ns}.{chain[i + 1]}", f"chain{i}") for i in (3, 2, 1, 0)]
        bare = await drain(ctx, "bare chain", procs, watcher, None, n * repeat, ctx.args.timeout, with_triton=False)
    finally:
        await watcher.stop()
    result["bare_chain"] = bare.__dict__
    say(f"#   bare 4-hop chain: {bare.events_per_s:.0f} ev/s, {bare.cpu_us_per_event:.0f} µs/ev (4 processes)")

    watcher = await Watcher(ctx.bootstrap, [ctx.contract.physical(t, ns) for t in FINAL_TOPICS],
                            lambda r: turn_id_of(r.value)).start()
    # Where the latency goes: the first CreateTime of each turn on every intermediate topic too.
    middle = [ctx.contract.physical(outputs[0], ns) for _, _, outputs in HOPS[:-1]]
    stages = await Watcher(ctx.bootstrap, middle, lambda r: (r.topic, turn_id_of(r.value))).start()
    services = [ctx.service(name, ns, delivery) for name, _, _ in reversed(HOPS)]
    try:
        t0 = time.monotonic()
        for proc in services:
            proc.start()
        n_first, t_first, cpu_first, triton_first = 0, None, None, None
        while True:
            for proc in services:
                proc.check()
            seen = watcher.seen(ids)
            if cpu_first is None and seen > 0:
                cpu_first = {p.label: p.cpu() for p in services}
                triton_first, n_first, t_first = ctx.triton_cpu(), seen, time.monotonic()
            if seen >= n:
                cpu_last = {p.label: p.cpu() for p in services}
                triton_last = ctx.triton_cpu()
                break
            if time.monotonic() - t0 > ctx.args.timeout:
                raise SuiteError(f"pipeline drain: {seen} of {n} turns out after {ctx.args.timeout:.0f} s; "
                                 f"logs in {ctx.workdir}")
            await asyncio.sleep(POLL_S)
        t_done = time.monotonic()
        window = n - n_first
        stamps = [watcher.first[i] for i in ids]
        pipe = Drain("pipeline", n, rate_from_stamps(stamps),
                     sum(cpu_last[k] - cpu_first[k] for k in cpu_last) * 1e6 / window if window else float("nan"),
                     (triton_last - triton_first) * 1e6 / window if window else None, t_done - t0,
                     t_first - t0, n_first,
                     {"cpu_by_process_us": {k: (cpu_last[k] - cpu_first[k]) * 1e6 / window for k in cpu_last}})
        result["pipeline"] = pipe.__dict__
        say(f"#   pipeline drain: {pipe.events_per_s:.1f} turns/s (first final output after {pipe.startup_s:.1f} s; "
            f"{n_first} already out then)")

        # Open-loop latency on the running pipeline.
        levels = []
        result["max_rate"] = base = max_rate or pipe.events_per_s
        for share in ctx.args.loads:
            rate = share * base
            count = max(10, round(rate * latency_s))
            tag = f"{ns}-lat{round(share * 100)}"
            batch = turns(count, run_id=tag, seed=23 + round(share * 100))
            cpu_a = {p.label: p.cpu() for p in services}
            triton_a = ctx.triton_cpu()
            sent = await send_open_loop(ctx, raw, batch, rate)
            want = set(sent["intended"])
            deadline = time.monotonic() + ctx.args.timeout
            while watcher.seen(want) < len(want):
                for proc in services:
                    proc.check()
                if time.monotonic() > deadline:
                    raise SuiteError(f"latency at {share:.0%}: {watcher.seen(want)} of {len(want)} turns out after "
                                     f"{ctx.args.timeout:.0f} s")
                await asyncio.sleep(POLL_S)
            cpu_b = {p.label: p.cpu() for p in services}
            triton_b = ctx.triton_cpu()
            # Headline: when a reader of the final topics (read_committed) got the turn, minus its intended send
            # time; this includes an exactly-once hop's wait for its transaction to commit, which the output's
            # CreateTime (stamped at send) does not.
            lat = [(watcher.received[i] - sent["intended"][i]) / 1e6 for i in want]
            summary = latency_summary(lat)
            created = latency_summary((watcher.first[i] * 1_000_000 - sent["intended"][i]) / 1e6 for i in want)
            by_stage = stage_breakdown(sent["intended"], [{i: stages.first.get((topic, i)) for i in want}
                                                          for topic in middle], watcher.first)
            level = {"share": share, "rate": rate, "events": count, "latencies_ms": sorted(lat), **summary,
                     "behind_max_ms": sent["behind_max_ms"], "achieved_rate": sent["achieved_rate"],
                     "cpu_us_per_event": sum(cpu_b[k] - cpu_a[k] for k in cpu_b) * 1e6 / count,
                     "triton_cpu_us_per_event": (triton_b - triton_a) * 1e6 / count,
                     "stages": {name: by_stage[k] for k, (name, _, _) in enumerate(HOPS)},
                     "by_create_time": created}
            levels.append(level)
            say(f"#   open loop {share:.0%} ({rate:.1f}/s, {count} turns): p50 {summary['p50']:.0f} ms, "
                f"p90 {summary['p90']:.0f}, p99 {summary['p99']:.0f}, max {summary['max']:.0f} "
                f"(generator at most {sent['behind_max_ms']:.1f} ms behind)")
            say("#     per stage p50/p99 ms: " + ", ".join(
                f"{name} {v['p50']:.0f}/{v['p99']:.0f}" for name, v in level["stages"].items()))
        result["latency"] = levels
    finally:
        for proc in services:
            proc.stop()
        await watcher.stop()
        await stages.stop()
    return result


# --- 4 + 5. model serving (the existing benches, as subprocesses) --------------------------------

def run_json_bench(ctx: Context, label: str, script: str, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = ctx.workdir / f"{label}.json"
    cmd = [sys.executable, str(HERE / script), *argv, "--json", str(out)]
    say(f"# {label}: {shlex.join(cmd)}")
    log = ctx.workdir / f"{label}.log"
    with open(log, "wb") as f:
        done = subprocess.run(cmd, env=env, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not out.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
        raise SuiteError(f"{label} failed (status {done.returncode}): {tail}")
    shown = [".venv/bin/python", str(Path(cmd[1]).relative_to(REPO)), *argv, "--json", str(out.relative_to(REPO))]
    return {"command": shlex.join(shown), **json.loads(out.read_text())}


def model_benches(ctx: Context) -> dict[str, Any]:
    env = ctx.kafka_env()
    triton_args = ["--quick"] if ctx.args.quick else ["--concurrency", "1,4,16", "--rounds", "3"]
    triton = run_json_bench(ctx, "triton_bench", "triton_bench.py", triton_args, env)
    inference = run_json_bench(ctx, "inference_bench", "inference_bench.py",
                               ["--bootstrap", ctx.bootstrap, "--events", str(ctx.args.inference_events)], env)
    return {"triton": triton, "inference": inference}


# --- report --------------------------------------------------------------------------------------

def machine_facts() -> dict[str, Any]:
    from infra.bench.triton_bench import _cpu_model

    return {"cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": _cpu_model(),
            "python": platform.python_version(), "platform": platform.platform(),
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "loadavg_start": os.getloadavg()}


def _f(value: Any, spec: str = ".0f") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def _met(flag: bool | None) -> str:
    return {True: "**yes**", False: "**no**", None: "-"}[flag]


def _sections(pipe: dict[str, Any]) -> list[dict[str, Any]]:
    return [pipe] + ([pipe["compare"]] if pipe.get("compare") else [])


def write_results(path: Path, command: str, facts: dict[str, Any], hops: list[dict[str, Any]],
                  pipe: dict[str, Any], models: dict[str, Any], plots: list[Path], notes: list[str],
                  git: str, profiles: dict[str, Any] | None = None) -> None:
    lines = ["# Benchmark suite results", "",
             f"Command: `{command}`"
             + (" (`make bench BENCH_ARGS=--quick`)." if "--quick" in command else " (what `make bench` runs)."), "",
             f"Machine: {facts['cores']} cores ({facts['cpu']}), {facts['platform']}, Python {facts['python']}; "
             f"run {facts['date_utc']}; load average {' '.join(f'{x:.2f}' for x in facts['loadavg_start'])} at the "
             f"start, {' '.join(f'{x:.2f}' for x in facts['loadavg_end'])} at the end; code {git}.", "",
             "**The machine was shared** with other engineers' work (tests, brokers, builds) during the run, and the "
             "broker, Triton, the services and this script all run on the same cores: absolute numbers are low and "
             "noisy, which is why every figure is paired with a baseline measured in the same run and read as a "
             "ratio.", "",
             "## Summary", "",
             "| measurement | value | baseline (same run) | ratio | goal | met? |",
             "|---|---:|---:|---:|---|---|"]
    for row in hops:
        hop, bare = row["hop"], row["bare"]
        triton = (f" (+ Triton {hop['triton_cpu_us_per_event']:.0f} µs)"
                  if row["service"] in TRITON_HOPS and hop["triton_cpu_us_per_event"] is not None else "")
        lines.append(f"| CPU µs/event, {row['service']} hop alone (service process){triton} | "
                     f"{_f(hop['cpu_us_per_event'])} | bare passthrough of {row['source']}: "
                     f"{_f(bare['cpu_us_per_event'])} | {_f(row['cpu_ratio'], '.1f')}x | ≤ {GOAL_HOP_RATIO:g}x "
                     f"| {_met(goal_met(row['cpu_ratio'], GOAL_HOP_RATIO, False))} |")
    for sec in _sections(pipe):
        p, b = sec["pipeline"], sec["bare_chain"]
        lines.append(f"| sustained pipeline throughput, turns/s ({sec['delivery']}; drain of {p['events']} pre-filled "
                     f"turns, 4 services) | {_f(p['events_per_s'], '.1f')} | bare 4-hop chain: "
                     f"{_f(b['events_per_s'])} | {_f(p['events_per_s'] / b['events_per_s'], '.3f')}x | (informative) "
                     f"| - |")
        for level in sec["latency"]:
            half = abs(level["share"] - 0.5) < 1e-9
            goal = f"p99 ≤ {GOAL_P99_MS:g} ms" if half else "(informative)"
            met = goal_met(level["p99"], GOAL_P99_MS, False) if half else None
            lines.append(f"| end-to-end latency ({sec['delivery']}) at {level['share']:.0%} of the {pipe['delivery']} "
                         f"drain's turns/s "
                         f"({level['rate']:.1f} turns/s, open loop), p50 / p90 / p99 / max ms | {_f(level['p50'])} / "
                         f"{_f(level['p90'])} / {_f(level['p99'])} / {_f(level['max'])} | - | - | {goal} | "
                         f"{_met(met)} |")
    inf = models.get("inference")
    if inf:
        ceilings = [c["events_per_s"] for c in inf["ceiling"]]
        stages = [st["events_per_s"] for st in inf["stage"]]
        lines.append(f"| inference stage events/s (Kafka → Triton → Kafka) | {_f(statistics.median(stages))} | "
                     f"in-process onnxruntime ceiling: {_f(statistics.median(ceilings))} | {inf['ratio']:.2f} | "
                     f"≥ {GOAL_INFERENCE:g} | {_met(goal_met(inf['ratio'], GOAL_INFERENCE, True))} |")
    tri = models.get("triton")
    if tri:
        for r in tri["summary"]:
            if r["client_batch"] == 1:
                lines.append(f"| Triton `{r['model']}` texts/s, dynamic batching ON, {r['concurrency']} concurrent "
                             f"single-text clients | {_f(r['on_items_per_s'])} | OFF: {_f(r['off_items_per_s'])} | "
                             f"{_f(r['ratio_items_per_s'], '.2f')} | (informative) | - |")
    if hops:
        lines += ["", "## Per hop", "",
                  "Each hop alone drains its input (the previous hop's output; delivery "
                  f"{hops[0].get('delivery', 'default')}); then a bare passthrough drains the same records (repeated "
                  "to at least the number shown, so its CPU spans many clock ticks) under its own consumer group. CPU "
                  "= utime+stime of the process between the first and the last output seen / events in between.", "",
                  "| hop | events/s | CPU µs/event | Triton CPU µs/event | bare events/s | bare records | "
                  "bare CPU µs/event | CPU ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in hops:
            hop, bare = row["hop"], row["bare"]
            lines.append(f"| {row['service']} ({row['source']} →) | {_f(hop['events_per_s'])} | "
                         f"{_f(hop['cpu_us_per_event'])} | {_f(hop['triton_cpu_us_per_event'])} | "
                         f"{_f(bare['events_per_s'])} | {bare['events']} | {_f(bare['cpu_us_per_event'])} | "
                         f"{_f(row['cpu_ratio'], '.1f')}x |")
    lines += ["", "## Pipeline and latency", "",
              "Drain: N turns pre-filled into turns.raw, the four services started together; turns/s = (N-1) / span "
              "of the CreateTime of each turn's first output on turns.enriched / review.requests; CPU per turn "
              "summed over the four service processes (and Triton) between the first and the last final output. "
              "The bare chain drains the same bytes (repeated) through four passthroughs and five topics.", "",
              "| delivery | run | turns/s | CPU µs/turn (processes) | Triton CPU µs/turn |", "|---|---|---:|---:|---:|"]
    for sec in _sections(pipe):
        p, b = sec["pipeline"], sec["bare_chain"]
        by_process = ", ".join(f"{k} {v:.0f}" for k, v in p["extra"]["cpu_by_process_us"].items())
        lines.append(f"| {sec['delivery']} | pipeline, {p['events']} turns | {_f(p['events_per_s'], '.1f')} | "
                     f"{_f(p['cpu_us_per_event'])} ({by_process}) | {_f(p['triton_cpu_us_per_event'])} |")
        lines.append(f"| | bare chain (4 passthroughs), {b['events']} records | {_f(b['events_per_s'])} | "
                     f"{_f(b['cpu_us_per_event'])} | - |")
    lines += ["", "Open loop on the same running pipeline (right after its drain): turn i is due at t0 + i/rate "
              f"(absolute schedule) and carries that intended time in the header `{INTENDED_HEADER}`. Latency = the "
              "wall-clock time at which this script's read_committed reader of turns.enriched / review.requests got "
              "the turn's first output − the intended send time, so a late generator or a queue counts "
              "(coordinated omission); nearest-rank percentiles. Also shown: the same from the output's CreateTime "
              "(stamped when the last service sends it, before an exactly-once transaction commits it), and per "
              "stage: intended send → first record on turns.validated → features → predictions → first final "
              "output (CreateTime differences, p50 / p99 ms).", "",
              "| delivery | load | rate turns/s | turns | p50 ms | p90 ms | p99 ms | max ms | p50 / p99 ms by final "
              "CreateTime | generator max behind ms | CPU µs/turn (services) | Triton CPU µs/turn | "
              + " | ".join(n for n, _, _ in HOPS) + " |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(HOPS)]
    for sec in _sections(pipe):
        for level in sec["latency"]:
            stages = " | ".join(f"{_f(level['stages'][n]['p50'])} / {_f(level['stages'][n]['p99'])}"
                                for n, _, _ in HOPS)
            lines.append(f"| {sec['delivery']} | {level['share']:.0%} | {level['rate']:.1f} | {level['events']} | "
                         f"{_f(level['p50'])} | {_f(level['p90'])} | {_f(level['p99'])} | {_f(level['max'])} | "
                         f"{_f(level['by_create_time']['p50'])} / {_f(level['by_create_time']['p99'])} | "
                         f"{_f(level['behind_max_ms'], '.1f')} | {_f(level['cpu_us_per_event'])} | "
                         f"{_f(level['triton_cpu_us_per_event'])} | {stages} |")
    if tri:
        lines += ["", "## Triton dynamic batching ON vs OFF", "", f"`{tri['command']}`", "", tri["markdown"]]
    if inf:
        lines += ["", "## Inference stage vs in-process onnxruntime", "", f"`{inf['command']}`", "", inf["markdown"],
                  "", inf.get("markdown_breakdown", "")]
    for service, prof in (profiles or {}).items():
        total = prof["samples"] or 1
        lines += ["", f"## py-spy profile: {service} draining its input ({prof['samples']} samples at 250 Hz, "
                  f"idle left out; raw collapsed stacks: {prof['raw']})", "",
                  "| own % | function (own time) | | inclusive % | function (inclusive) |", "|---:|---|---|---:|---|"]
        own, inclusive = prof["own"][:15], [x for x in prof["inclusive"] if not any(
            k in x[0] for k in ("run_until_complete", "run_forever", "_run_once", "<module>", "_run_code",
                                "_run_module_as_main", "execute_from_commandline", "cmd_run", "main (", "Handle._run",
                                "StreamService.run"))][:15]
        for k in range(max(len(own), len(inclusive))):
            a = own[k] if k < len(own) else ("", 0)
            b = inclusive[k] if k < len(inclusive) else ("", 0)
            lines.append(f"| {a[1] * 100 / total:.1f} | `{a[0]}` | | {b[1] * 100 / total:.1f} | `{b[0]}` |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots]
    path.write_text("\n".join(lines) + "\n")


def make_plots(directory: Path, hops: list[dict[str, Any]], pipe: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=80)
    for sec in _sections(pipe):
        for level in sec["latency"]:
            values = level["latencies_ms"]
            ys = [(i + 1) / len(values) for i in range(len(values))]
            ax.plot(values, ys, label=f"{sec['delivery']}, {level['share']:.0%} ({level['rate']:.0f}/s): "
                                      f"p99 {level['p99']:.0f} ms")
    ax.axvline(GOAL_P99_MS, color="grey", linestyle=":", linewidth=1)
    ax.axhline(0.99, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency from the intended send time, ms (log)")
    ax.set_ylabel("fraction of turns")
    ax.set_title("Open-loop latency CDF (dotted: 50 ms, p99)", fontsize=10)
    ax.legend(fontsize=6.5, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(directory / "latency_cdf.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=80)
    labels = [f"{r['service']}\nalone" for r in hops]
    svc = [r["hop"]["events_per_s"] for r in hops]
    bare = [r["bare"]["events_per_s"] for r in hops]
    for sec in _sections(pipe):
        labels.append(f"pipeline\n{sec['delivery']}")
        svc.append(sec["pipeline"]["events_per_s"])
        bare.append(sec["bare_chain"]["events_per_s"])
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], svc, width=0.4, label="Sluice")
    ax.bar([x + 0.2 for x in xs], bare, width=0.4, label="bare aiokafka passthrough (chain of 4 for pipelines)")
    ax.set_yscale("log")
    ax.set_xticks(list(xs), labels, fontsize=6.5)
    ax.set_ylabel("events/s (log)")
    ax.set_title("Drain throughput vs bare passthrough", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(directory / "throughput.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    if hops:
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=80)
        labels = [r["service"] for r in hops]
        xs = range(len(labels))
        svc = [r["hop"]["cpu_us_per_event"] for r in hops]
        tri = [r["hop"]["triton_cpu_us_per_event"] or 0.0 for r in hops]
        bare = [r["bare"]["cpu_us_per_event"] for r in hops]
        ax.bar([x - 0.2 for x in xs], svc, width=0.4, label="service process")
        ax.bar([x - 0.2 for x in xs], tri, width=0.4, bottom=svc, label="+ Triton", alpha=0.5)
        ax.bar([x + 0.2 for x in xs], bare, width=0.4, label="bare passthrough")
        ax.set_yscale("log")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("CPU µs per event (log)")
        ax.set_title("CPU per event per hop", fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(directory / "cpu_per_hop.png")
        fig.savefig(paths[-1])
        plt.close(fig)
    return paths


# --- main ----------------------------------------------------------------------------------------

async def measure_all(ctx: Context) -> tuple[list, dict]:
    from services.runtime.kafka_tools import wait_for_broker

    await wait_for_broker(ctx.bootstrap, timeout_s=120.0)
    try:
        hops = await per_hop(ctx, ctx.args.events) if "hops" in ctx.args.parts else []
        if hops and ctx.args.profile:
            ctx.profiles = await profile_hops(ctx, ctx.args.profile, ctx.args.events)
        pipe = await pipeline_and_latency(ctx, ctx.args.pipeline_events, ctx.args.latency_seconds, None)
        if ctx.args.compare_delivery and ctx.args.compare_delivery != pipe["delivery"]:
            # Same absolute rates as the default mode, so the two latency rows differ only in the delivery mode.
            pipe["compare"] = await pipeline_and_latency(ctx, ctx.args.pipeline_events, ctx.args.latency_seconds,
                                                         ctx.args.compare_delivery, pipe["max_rate"])
    finally:
        try:
            await delete_namespaces(ctx)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real failure
            say(f"# could not delete the bench namespaces: {exc!r}")
    return hops, pipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3-5 minute smoke version")
    parser.add_argument("--events", type=int, default=None, help="turns per hop drain (default 1200, quick 400)")
    parser.add_argument("--pipeline-events", type=int, default=None,
                        help="turns of the pipeline drain (default 1000, quick 300)")
    parser.add_argument("--latency-seconds", type=float, default=None,
                        help="seconds of open-loop traffic per load level (default 30, quick 12)")
    parser.add_argument("--loads", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.8],
                        help="load levels as shares of the measured maximum (default 0.5,0.8)")
    parser.add_argument("--inference-events", type=int, default=None,
                        help="events of inference_bench (default 1000, quick 320)")
    parser.add_argument("--skip-models", action="store_true", help="leave out triton_bench and inference_bench")
    parser.add_argument("--parts", default="hops,pipeline", help=argparse.SUPPRESS)  # development: leave out hops
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("SLUICE_BENCH_KAFKA_PORT", "29792")))
    parser.add_argument("--triton-http-port", type=int,
                        default=int(os.environ.get("SLUICE_BENCH_TRITON_HTTP_PORT", "28792")))
    parser.add_argument("--delivery", choices=("exactly_once", "at_least_once"), default=None,
                        help="SLUICE_DELIVERY for the services (default: the services' own default)")
    parser.add_argument("--compare-delivery", choices=("exactly_once", "at_least_once", "none"), default=None,
                        help="also run the pipeline drain and latency with this delivery mode (default: "
                             "at_least_once in the full run, none with --quick)")
    parser.add_argument("--profile", type=lambda text: [x for x in text.split(",") if x and x != "none"],
                        default=None, help="hops to drain once more under py-spy, e.g. ingestion,guardrails "
                        "(default: ingestion,guardrails in the full run, none with --quick)")
    parser.add_argument("--bare-events", type=int, default=None,
                        help="records a bare passthrough drains at least (its input repeated; default 10000, "
                             "quick 5000)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one drain may take (default 300)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--plots", type=Path, default=HERE / "plots")
    args = parser.parse_args(argv)
    quick = args.quick
    args.events = args.events or (400 if quick else 1200)
    args.pipeline_events = args.pipeline_events or (300 if quick else 1000)
    args.latency_seconds = args.latency_seconds or (12.0 if quick else 30.0)
    args.inference_events = args.inference_events or (320 if quick else 1000)
    args.bare_events = args.bare_events or (5000 if quick else 10000)
    if args.profile is None:
        args.profile = [] if quick else ["ingestion", "guardrails"]
    if args.compare_delivery is None:
        args.compare_delivery = None if quick else "at_least_once"
    elif args.compare_delivery == "none":
        args.compare_delivery = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "infra/bench/suite.py", *(sys.argv[1:] if argv is None else argv)])
    facts = machine_facts()
    started = time.monotonic()
    ctx = Context(args)
    try:
        from infra.bench.ingestion_bench import _git_state

        git = _git_state()
        ctx.up()
        hops, pipe = asyncio.run(measure_all(ctx))
        models = {} if args.skip_models else model_benches(ctx)
        facts["loadavg_end"] = os.getloadavg()
        plots = make_plots(args.plots, hops, pipe)
        notes = [f"Wall time of the whole suite: {time.monotonic() - started:.0f} s; logs and raw JSON in "
                 f"{ctx.workdir.relative_to(REPO)}.",
                 "Bare passthrough: infra/bench/ingestion_bench.py --passthrough-worker (AIOKafkaConsumer.getmany → "
                 "AIOKafkaProducer.send, acks=all, linger_ms=5, commit after each acknowledged batch, no parsing)."]
        (ctx.workdir / "suite.json").write_text(json.dumps(
            {"facts": facts, "hops": hops, "pipeline": pipe,
             "models": {k: {kk: vv for kk, vv in v.items() if kk in ("ratio", "summary", "ceiling", "stage")}
                        for k, v in models.items()}}, indent=1, default=str))
        write_results(args.output, command, facts, hops, pipe, models, plots, notes, git, ctx.profiles)
        say(f"# wrote {args.output} and {len(plots)} plots in {args.plots} ({time.monotonic() - started:.0f} s)")
        say(args.output.read_text())
        return 0
    except SuiteError as exc:
        print(f"bench suite: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench suite: interrupted", file=sys.stderr)
        return 130
    finally:
        ctx.down()


if __name__ == "__main__":
    sys.exit(main())
