"""Throughput and CPU cost (or end-to-end latency) of the ingestion service against a bare aiokafka passthrough.

Usage (from the repository root, with the project's virtual environment):

    .venv/bin/python infra/bench/ingestion_bench.py [--events 20000] [--size 1024] [--repeat 3]
        [--bootstrap 127.0.0.1:19092] [--timeout 300] [--json results.json]
    .venv/bin/python infra/bench/ingestion_bench.py --latency-rate 200 [--latency-seconds 30] [--size 1024]
        [--repeat 3] [--bootstrap 127.0.0.1:19092] [--timeout 300] [--json results.json]

Each repetition uses a fresh namespace (``bench<hex>``): the contract topics are created with
``bootstrap_topics``, plus ``<ns>.bench.passthrough-in`` / ``-out`` (same partition count as
turns.raw). N valid ~``--size``-byte raw turns are pre-loaded into ``<ns>.turns.raw`` and the very
same bytes into ``<ns>.bench.passthrough-in`` before either consumer starts, so both measure pure
consume -> process -> produce throughput from a backlog. Then, alternately:

* candidate: ``.venv/bin/sluice run ingestion`` as a subprocess (SLUICE_NAMESPACE=<ns>, ...);
* baseline: this file with ``--passthrough-worker``: AIOKafkaConsumer (manual commits, getmany) that
  forwards key/value/headers unchanged with an AIOKafkaProducer (acks=all, linger_ms=5).

The output topic's end offsets are polled every 0.2 s. "ready" is the first poll that sees an
output record; "done" is the poll that sees all N. events/s is (N - records already out at ready)
/ (t_done - t_ready) from those polls ("poll ev/s"), and also, more precisely, (N - 1) divided by the
span of the output records' CreateTime timestamps ("events/s", the headline number). CPU µs/event
is the subprocess's utime+stime (/proc/<pid>/stat) between ready and done, divided by the records
produced in that window. The candidate's /readyz is polled too, for information only (start-up time,
and whether it ever reports not-ready again while the backlog is being processed). Afterwards every
output record is read back and checked: exactly the N input events, no loss, no duplicates, no dead
letters; otherwise the script exits non-zero with one line. The namespace's topics are deleted at the
end of each repetition. If ``infra/kafka/kafka.sh status`` fails, the broker is started, and stopped again at the end.

Latency mode (``--latency-rate R``; ``--events`` is then unused): nothing is pre-loaded. For each repetition,
candidate then baseline, the consumer side is started first and must be ready (candidate: /readyz answers 200;
both: one warm-up turn per input partition, produced and seen on the output topic, then left out of every
number). Then N = R x ``--latency-seconds`` valid ~``--size``-byte turns are produced on a monotonic schedule
(record i at t0 + i/R) by an AIOKafkaProducer (acks=all, linger_ms=0). The baseline's producer runs with
linger_ms=0 here too (5 in the throughput mode), the same as the candidate's default producer_linger_ms. Once
all N are out, both topics are read back: per-event latency is the output record's CreateTime (set by the
service's producer) minus the input record's CreateTime (set by this script's producer), matched by turn_id =
raw event_id (candidate) or by key and value (baseline, which forwards them unchanged); both stamps come from
this machine's clock, in whole milliseconds. Exactly the N + warm-up events must come out, none dead-lettered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

KAFKA_SH = REPO / "infra" / "kafka" / "kafka.sh"
POM = REPO / "infra" / "kafka" / "pom.xml"
POLL_S = 0.2
STOP_TIMEOUT_S = 60.0
PASSTHROUGH_IN = "bench.passthrough-in"
PASSTHROUGH_OUT = "bench.passthrough-out"
PASSTHROUGH_LINGER_MS = 5           # the baseline's producer in the throughput mode
LATENCY_PASSTHROUGH_LINGER_MS = 0   # ... and in the latency mode: the candidate's default producer_linger_ms


class BenchError(Exception):
    """A failed run: reported as one line, exit status 1."""


# --- baseline worker (a separate process) --------------------------------------------------------

async def passthrough_worker(bootstrap: str, source: str, dest: str, group: str,
                             linger_ms: int = PASSTHROUGH_LINGER_MS) -> None:
    """Bare consume -> produce: no decoding at all, commit after each batch is acknowledged."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            futures = []
            for records in batches.values():
                for record in records:
                    futures.append(await producer.send(dest, value=record.value, key=record.key,
                                                       headers=list(record.headers)))
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


# --- broker and topics ---------------------------------------------------------------------------

def _kafka_env(bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    first = bootstrap.split(",")[0].strip()
    if ":" in first:
        env["SLUICE_KAFKA_PORT"] = first.rsplit(":", 1)[1]
    return env


def ensure_broker(bootstrap: str) -> bool:
    """Start the local broker if `kafka.sh status` fails; True if this call started it."""
    env = _kafka_env(bootstrap)
    status = subprocess.run([str(KAFKA_SH), "status"], env=env, capture_output=True, text=True)
    if status.returncode == 0:
        return False
    print(f"# broker: `kafka.sh status` said {status.stdout.strip()!r}; running `kafka.sh start`", flush=True)
    start = subprocess.run([str(KAFKA_SH), "start"], env=env)
    if start.returncode != 0:
        raise BenchError(f"`infra/kafka/kafka.sh start` failed with exit status {start.returncode}")
    # rc 3 = stopped: the start above launched it. rc 1 = someone else's broker is still starting.
    return status.returncode == 3


def stop_broker(bootstrap: str) -> None:
    subprocess.run([str(KAFKA_SH), "stop"], env=_kafka_env(bootstrap))


async def create_namespace(bootstrap: str, contract: Any, namespace: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from services.runtime.bootstrap import bootstrap_topics

    report = await bootstrap_topics(bootstrap, contract, namespace)
    if report.drift:
        raise BenchError(f"topic bootstrap of namespace {namespace} drifted: {report.drift[0].problems}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(f"{namespace}.{name}", partitions, 1) for name in (PASSTHROUGH_IN, PASSTHROUGH_OUT)])
        for name, code, *_ in response.topic_errors:
            if code:
                raise BenchError(f"creating topic {name} failed with error code {code}")
    finally:
        await admin.close()
    # Metadata propagates asynchronously; wait until every topic is describable with its leaders.
    from services.runtime.kafka_tools import topic_partitions

    names = [contract.physical(t.name, namespace) for t in contract.topics] + [
        f"{namespace}.{PASSTHROUGH_IN}", f"{namespace}.{PASSTHROUGH_OUT}"]
    deadline = time.monotonic() + 60
    while True:
        try:
            await topic_partitions(bootstrap, names)
            return
        except LookupError:
            if time.monotonic() > deadline:
                raise BenchError(f"topics of namespace {namespace} not visible after 60 s") from None
            await asyncio.sleep(POLL_S)


async def delete_namespace(bootstrap: str, namespace: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(namespace + "."))
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


# --- measurement ---------------------------------------------------------------------------------

def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process in seconds (children not included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def http_status(port: int, path: str) -> int | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 1.0)
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 else None
    except (OSError, asyncio.TimeoutError, ValueError):
        return None
    finally:
        writer.close()


@dataclass
class RunResult:
    kind: str
    rep: int
    namespace: str
    events: int
    events_per_s: float          # (N - 1) / span of output CreateTime timestamps
    poll_events_per_s: float     # (N - n_at_ready) / (t_done - t_ready), from the 0.2 s polls
    cpu_us_per_event: float      # utime+stime between ready and done / records produced in between
    startup_s: float             # process start -> first output record seen
    readyz_s: float | None       # process start -> first /readyz 200 (candidate only)
    not_ready_after_ok: int      # /readyz answers other than 200 after the first 200 (candidate only)
    n_at_ready: int
    window_s: float
    total_cpu_s: float           # whole process lifetime, start-up and shutdown included
    peak_rss_mb: float | None
    exit_code: int | None
    stop_s: float
    log: str
    log_problems: list[str] = field(default_factory=list)


def _stop(proc: subprocess.Popen) -> tuple[int | None, float]:
    started = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise BenchError(f"pid {proc.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s and was killed") from None
    return proc.returncode, time.monotonic() - started


def _log_problems(path: Path, limit: int = 8) -> list[str]:
    seen: dict[str, int] = {}
    pattern = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b")
    for line in path.read_text(errors="replace").splitlines():
        if pattern.search(line):
            # Collapse digits so repeated warnings about different offsets count as one kind.
            kind = re.sub(r"\d+", "N", line.strip())[:200]
            seen[kind] = seen.get(kind, 0) + 1
    return [f"{count}x {kind}" for kind, count in sorted(seen.items(), key=lambda kv: -kv[1])[:limit]]


async def measure(kind: str, rep: int, namespace: str, cmd: list[str], env: dict[str, str], *, bootstrap: str,
                  out_topic: str, fail_topics: list[str], expected: set[bytes], identity, n: int,
                  timeout_s: float, log_path: Path, http_port: int | None = None) -> RunResult:
    from services.runtime.kafka_tools import collect, end_offsets

    def count_of(offsets: dict, topic: str) -> int:
        return sum(v for tp, v in offsets.items() if tp.topic == topic)

    with open(log_path, "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    readyz: dict[str, Any] = {"first_ok_s": None, "not_ready_after_ok": 0}

    async def poll_readyz() -> None:
        # Its own task, so that the slower end-offset polls do not skew when readiness is seen.
        while True:
            status = await http_status(http_port, "/readyz")
            if status == 200 and readyz["first_ok_s"] is None:
                readyz["first_ok_s"] = time.monotonic() - t0
            elif status is not None and status != 200 and readyz["first_ok_s"] is not None:
                readyz["not_ready_after_ok"] += 1
            await asyncio.sleep(POLL_S)

    readyz_task = asyncio.create_task(poll_readyz()) if http_port is not None else None
    try:
        t_ready = t_done = None
        n_ready = 0
        cpu_ready = cpu_done = 0.0
        deadline = t0 + timeout_s
        while True:
            tick = time.monotonic()
            if proc.poll() is not None:
                raise BenchError(f"{kind} (rep {rep}) exited with status {proc.returncode} before delivering "
                                 f"{n} records; see {log_path}")
            offsets = await end_offsets(bootstrap, [out_topic, *fail_topics])
            now = time.monotonic()
            cpu = proc_cpu_s(proc.pid)
            count = count_of(offsets, out_topic)
            failed = {t: count_of(offsets, t) for t in fail_topics if count_of(offsets, t)}
            if failed:
                raise BenchError(f"{kind} (rep {rep}): records on {failed} (expected none); see {log_path}")
            if count > n:
                raise BenchError(f"{kind} (rep {rep}): {count} records on {out_topic}, expected exactly {n}")
            if t_ready is None and count > 0:
                t_ready, n_ready, cpu_ready = now, count, cpu
            if count == n:
                t_done, cpu_done = now, cpu
                break
            if now > deadline:
                raise BenchError(f"{kind} (rep {rep}): only {count} of {n} records on {out_topic} after "
                                 f"{timeout_s:.0f} s; see {log_path}")
            await asyncio.sleep(max(0.0, POLL_S - (time.monotonic() - tick)))
        if readyz_task is not None:
            readyz_task.cancel()
        peak_rss = proc_peak_rss_mb(proc.pid)
        exit_code, stop_s = _stop(proc)
        try:
            total_cpu = proc_cpu_s(proc.pid)
        except OSError:
            total_cpu = cpu_done
    finally:
        if readyz_task is not None:
            readyz_task.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Final check once the process is gone: nothing more arrived during shutdown, nothing dead-lettered.
    offsets = await end_offsets(bootstrap, [out_topic, *fail_topics])
    final = count_of(offsets, out_topic)
    failed = {t: count_of(offsets, t) for t in fail_topics if count_of(offsets, t)}
    if final != n or failed:
        raise BenchError(f"{kind} (rep {rep}): after shutdown {final} records on {out_topic} (expected {n})"
                         + (f" and records on {failed}" if failed else ""))
    records = await collect(bootstrap, out_topic, None, expect=n, timeout_s=60.0, settle_s=0.3)
    ids = [identity(r) for r in records]
    if len(records) != n or set(ids) != expected or len(set(ids)) != n:
        missing = len(expected - set(ids))
        raise BenchError(f"{kind} (rep {rep}): read back {len(records)} records with {len(set(ids))} distinct "
                         f"events, {missing} input events missing (expected exactly {n})")
    stamps = [r.timestamp for r in records]
    span_s = (max(stamps) - min(stamps)) / 1000.0
    produced_in_window = n - n_ready
    window_s = (t_done - t_ready) if t_ready is not None and t_done is not None else 0.0
    return RunResult(
        kind=kind, rep=rep, namespace=namespace, events=n,
        events_per_s=(n - 1) / span_s if span_s > 0 else float("nan"),
        poll_events_per_s=produced_in_window / window_s if window_s > 0 else float("nan"),
        cpu_us_per_event=(cpu_done - cpu_ready) * 1e6 / produced_in_window if produced_in_window else float("nan"),
        startup_s=(t_ready - t0) if t_ready is not None else float("nan"),
        readyz_s=readyz["first_ok_s"], not_ready_after_ok=readyz["not_ready_after_ok"], n_at_ready=n_ready,
        window_s=window_s, total_cpu_s=total_cpu,
        peak_rss_mb=peak_rss, exit_code=exit_code, stop_s=stop_s, log=str(log_path),
        log_problems=_log_problems(log_path),
    )


@dataclass
class LatencyResult:
    kind: str
    rep: int
    namespace: str
    events: int
    rate: float                  # requested events/s
    input_events_per_s: float    # (N - 1) / (last send() - first send()), monotonic clock
    behind_max_ms: float         # latest a send() started after its scheduled time
    p50_ms: float                # output CreateTime - input CreateTime, nearest-rank percentiles
    p95_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float
    mean_ms: float
    ready_s: float               # process start -> warm-up records seen on the output topic
    readyz_s: float | None       # process start -> first /readyz 200 (candidate only)
    warmup: int
    stamp_skew_ms: float         # largest |input CreateTime - wall clock read just before send()|
    drain_s: float               # last send() -> the 0.2 s poll that sees all N out
    cpu_us_per_event: float      # utime+stime from the first send() to that poll / N
    total_cpu_s: float
    peak_rss_mb: float | None
    exit_code: int | None
    stop_s: float
    log: str
    log_problems: list[str] = field(default_factory=list)


def percentile(ascending: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    return ascending[max(1, math.ceil(q / 100 * len(ascending))) - 1]


async def measure_latency(kind: str, rep: int, namespace: str, cmd: list[str], env: dict[str, str], *,
                          bootstrap: str, in_topic: str, out_topic: str, fail_topics: list[str], partitions: int,
                          payload: list[tuple[bytes, bytes, list[tuple[str, bytes]]]],
                          warmup: list[tuple[bytes, bytes, list[tuple[str, bytes]]]], in_identity, out_identity,
                          rate: float, timeout_s: float, log_path: Path,
                          http_port: int | None = None) -> LatencyResult:
    """`in_identity(key, value)` of an input record must equal `out_identity(key, value)` of its output."""
    from aiokafka import AIOKafkaProducer

    from services.runtime.kafka_tools import collect, end_offsets

    def count_of(offsets: dict, topic: str) -> int:
        return sum(v for tp, v in offsets.items() if tp.topic == topic)

    n, n_warm = len(payload), len(warmup)

    async def wait_out(expected: int, deadline: float, when: str) -> float:
        """Poll the output topic's end offsets until `expected` records are there; the time of that poll."""
        while True:
            tick = time.monotonic()
            if proc.poll() is not None:
                raise BenchError(f"{kind} (rep {rep}) exited with status {proc.returncode} {when}; see {log_path}")
            offsets = await end_offsets(bootstrap, [out_topic, *fail_topics])
            now = time.monotonic()
            count = count_of(offsets, out_topic)
            failed = {t: count_of(offsets, t) for t in fail_topics if count_of(offsets, t)}
            if failed:
                raise BenchError(f"{kind} (rep {rep}): records on {failed} (expected none); see {log_path}")
            if count > expected:
                raise BenchError(f"{kind} (rep {rep}): {count} records on {out_topic} {when}, expected exactly "
                                 f"{expected}")
            if count == expected:
                return now
            if now > deadline:
                raise BenchError(f"{kind} (rep {rep}): only {count} of {expected} records on {out_topic} "
                                 f"{timeout_s:.0f} s {when}; see {log_path}")
            await asyncio.sleep(max(0.0, POLL_S - (time.monotonic() - tick)))

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        with open(log_path, "wb") as log:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            readyz_s = None
            if http_port is not None:
                while await http_status(http_port, "/readyz") != 200:
                    if proc.poll() is not None:
                        raise BenchError(f"{kind} (rep {rep}) exited with status {proc.returncode} before "
                                         f"/readyz answered 200; see {log_path}")
                    if time.monotonic() - t0 > timeout_s:
                        raise BenchError(f"{kind} (rep {rep}): /readyz not 200 after {timeout_s:.0f} s; "
                                         f"see {log_path}")
                    await asyncio.sleep(POLL_S)
                readyz_s = time.monotonic() - t0
            # One warm-up record per input partition: the consumer has its partitions and every connection
            # (ours and the service's) is open before the first measured record.
            futures = [await producer.send(in_topic, value=value, key=key, headers=headers, partition=i % partitions)
                       for i, (key, value, headers) in enumerate(warmup)]
            await asyncio.gather(*futures)
            await wait_out(n_warm, t0 + timeout_s, "after starting, for the warm-up records")
            ready_s = time.monotonic() - t0

            period = 1.0 / rate
            sent_ms: list[float] = []
            futures = []
            behind = 0.0
            # This process's own full collections took 30+ ms: none while it paces and stamps the input.
            gc.collect()
            gc.disable()
            try:
                cpu_first = proc_cpu_s(proc.pid)
                t_first = time.monotonic()
                for i, (key, value, headers) in enumerate(payload):
                    due = t_first + i * period
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    behind = max(behind, time.monotonic() - due)
                    sent_ms.append(time.time() * 1000)
                    futures.append(await producer.send(in_topic, value=value, key=key, headers=headers))
                t_last = time.monotonic()
                await asyncio.gather(*futures)
            finally:
                gc.enable()
            t_done = await wait_out(n_warm + n, t_last + timeout_s, "after the last send")
            cpu_done = proc_cpu_s(proc.pid)
            peak_rss = proc_peak_rss_mb(proc.pid)
            exit_code, stop_s = _stop(proc)
            try:
                total_cpu = proc_cpu_s(proc.pid)
            except OSError:
                total_cpu = cpu_done
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        await producer.stop()

    # Once the process is gone: nothing more arrived during shutdown, nothing dead-lettered.
    offsets = await end_offsets(bootstrap, [out_topic, *fail_topics])
    final = count_of(offsets, out_topic)
    failed = {t: count_of(offsets, t) for t in fail_topics if count_of(offsets, t)}
    if final != n_warm + n or failed:
        raise BenchError(f"{kind} (rep {rep}): after shutdown {final} records on {out_topic} (expected "
                         f"{n_warm + n})" + (f" and records on {failed}" if failed else ""))
    measured = [in_identity(key, value) for key, value, _ in payload]
    expected = set(measured) | {in_identity(key, value) for key, value, _ in warmup}
    stamps: dict[str, dict[Any, int]] = {}
    for side, topic, identity in (("input", in_topic, in_identity), ("output", out_topic, out_identity)):
        records = await collect(bootstrap, topic, None, expect=n_warm + n, timeout_s=60.0, settle_s=0.3)
        ids = [identity(r.key, r.value) for r in records]
        if len(records) != n_warm + n or set(ids) != expected or len(set(ids)) != len(ids):
            missing = len(expected - set(ids))
            raise BenchError(f"{kind} (rep {rep}): read back {len(records)} {side} records on {topic} with "
                             f"{len(set(ids))} distinct events, {missing} events missing (expected exactly "
                             f"{n_warm + n}: {n} measured + {n_warm} warm-up)")
        stamps[side] = {i: r.timestamp for i, r in zip(ids, records)}
    latencies = sorted(stamps["output"][i] - stamps["input"][i] for i in measured)
    skew = max(abs(stamps["input"][i] - sent) for i, sent in zip(measured, sent_ms))
    return LatencyResult(
        kind=kind, rep=rep, namespace=namespace, events=n, rate=rate,
        input_events_per_s=(n - 1) / (t_last - t_first) if n > 1 and t_last > t_first else float("nan"),
        behind_max_ms=behind * 1000,
        p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95), p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1], min_ms=latencies[0], mean_ms=statistics.fmean(latencies),
        ready_s=ready_s, readyz_s=readyz_s, warmup=n_warm, stamp_skew_ms=skew, drain_s=t_done - t_last,
        cpu_us_per_event=(cpu_done - cpu_first) * 1e6 / n, total_cpu_s=total_cpu,
        peak_rss_mb=peak_rss, exit_code=exit_code, stop_s=stop_s, log=str(log_path),
        log_problems=_log_problems(log_path),
    )


# --- one repetition ------------------------------------------------------------------------------

def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(extra)
    return env


def sluice_executable() -> str:
    candidate = Path(sys.executable).parent / "sluice"
    if candidate.exists():
        return str(candidate)
    fallback = REPO / ".venv" / "bin" / "sluice"
    if fallback.exists():
        return str(fallback)
    raise BenchError("no `sluice` console script next to this python nor in .venv/bin")


@dataclass(frozen=True)
class BenchNamespace:
    """The topics one repetition uses, all under a fresh namespace."""

    name: str
    partitions: int
    raw: str
    validated: str
    deadletter: str
    passthrough_in: str
    passthrough_out: str


@contextlib.asynccontextmanager
async def bench_namespace(args: argparse.Namespace, rep: int, contract: Any):
    """Create a fresh namespace's topics for one repetition and delete them afterwards."""
    name = f"bench{secrets.token_hex(4)}"
    partitions = contract.get("turns.raw").partitions
    try:
        await create_namespace(args.bootstrap, contract, name, partitions)
        yield BenchNamespace(
            name, partitions, contract.physical("turns.raw", name), contract.physical("turns.validated", name),
            contract.physical("deadletter", name), f"{name}.{PASSTHROUGH_IN}", f"{name}.{PASSTHROUGH_OUT}")
    finally:
        try:
            deleted = await delete_namespace(args.bootstrap, name)
            print(f"# rep {rep}: deleted {len(deleted)} topics of namespace {name}", flush=True)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real failure
            print(f"# rep {rep}: could not delete the topics of {name}: {exc!r}", file=sys.stderr)


@contextlib.contextmanager
def ingestion_env(args: argparse.Namespace, ns: BenchNamespace, workdir: Path):
    """Environment for the ingestion subprocess (fresh state dir, free port); yields (env, port)."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"{ns.name}-state-", dir=workdir))
    port = free_port()
    try:
        yield _clean_env({
            "SLUICE_NAMESPACE": ns.name, "SLUICE_BOOTSTRAP_SERVERS": args.bootstrap,
            "SLUICE_INGESTION_HTTP_PORT": str(port), "SLUICE_STATE_DIR": str(state_dir),
            "SLUICE_LOG_LEVEL": "WARNING",
            # The output is counted by end offsets, which an exactly-once producer's transaction markers inflate.
            "SLUICE_DELIVERY": "at_least_once",
        }), port
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def passthrough_cmd(args: argparse.Namespace, ns: BenchNamespace, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--passthrough-worker",
            "--bootstrap", args.bootstrap, "--source", ns.passthrough_in, "--dest", ns.passthrough_out,
            "--group", f"{ns.name}.bench-passthrough", *extra]


async def repetition(args: argparse.Namespace, rep: int, contract: Any, workdir: Path) -> list[RunResult]:
    from services.runtime.kafka_tools import produce_records
    from services.runtime.sample_traffic import valid_records

    async with bench_namespace(args, rep, contract) as ns:
        records = valid_records(args.events, pad_to=args.size, legacy_share=0, run_id=ns.name)
        payload = [(r.key, r.value, r.headers) for r in records]
        started = time.monotonic()
        await produce_records(args.bootstrap, ns.raw, payload)
        await produce_records(args.bootstrap, ns.passthrough_in, payload)
        mean = sum(len(r.value) for r in records) / len(records)
        print(f"# rep {rep}: namespace {ns.name}: pre-loaded {len(records)} records (mean value {mean:.0f} B) "
              f"into {ns.raw} and {ns.passthrough_in} in {time.monotonic() - started:.1f} s", flush=True)

        event_ids = {r.event_id.encode() for r in records}
        results: list[RunResult] = []
        with ingestion_env(args, ns, workdir) as (candidate_env, port):
            results.append(await measure(
                "ingestion", rep, ns.name, [sluice_executable(), "run", "ingestion"], candidate_env,
                bootstrap=args.bootstrap, out_topic=ns.validated, fail_topics=[ns.deadletter], expected=event_ids,
                identity=lambda r: json.loads(r.value)["turn_id"].encode(), n=args.events,
                timeout_s=args.timeout, log_path=workdir / f"rep{rep}-ingestion.log", http_port=port))
        results.append(await measure(
            "passthrough", rep, ns.name, passthrough_cmd(args, ns), _clean_env({}),
            bootstrap=args.bootstrap, out_topic=ns.passthrough_out, fail_topics=[],
            expected={r.value for r in records}, identity=lambda r: r.value, n=args.events,
            timeout_s=args.timeout, log_path=workdir / f"rep{rep}-passthrough.log"))
        return results


async def latency_repetition(args: argparse.Namespace, rep: int, contract: Any, workdir: Path) -> list[LatencyResult]:
    from services.runtime.sample_traffic import valid_records

    async with bench_namespace(args, rep, contract) as ns:
        n = round(args.latency_rate * args.latency_seconds)
        records = valid_records(n, pad_to=args.size, legacy_share=0, run_id=ns.name)
        warm = valid_records(ns.partitions, pad_to=args.size, legacy_share=0, run_id=f"{ns.name}-warmup")
        payload = [(r.key, r.value, r.headers) for r in records]
        warmup = [(r.key, r.value, r.headers) for r in warm]
        mean = sum(len(r.value) for r in records) / len(records)
        print(f"# rep {rep}: namespace {ns.name}: {n} records (mean value {mean:.0f} B) at "
              f"{args.latency_rate:g}/s into {ns.raw}, then the same into {ns.passthrough_in}", flush=True)

        results: list[LatencyResult] = []
        with ingestion_env(args, ns, workdir) as (candidate_env, port):
            results.append(await measure_latency(
                "ingestion", rep, ns.name, [sluice_executable(), "run", "ingestion"], candidate_env,
                bootstrap=args.bootstrap, in_topic=ns.raw, out_topic=ns.validated, fail_topics=[ns.deadletter],
                partitions=ns.partitions, payload=payload, warmup=warmup,
                in_identity=lambda key, value: json.loads(value)["event_id"],
                out_identity=lambda key, value: json.loads(value)["turn_id"],
                rate=args.latency_rate, timeout_s=args.timeout,
                log_path=workdir / f"rep{rep}-ingestion-latency.log", http_port=port))
        results.append(await measure_latency(
            "passthrough", rep, ns.name,
            passthrough_cmd(args, ns, "--linger-ms", str(LATENCY_PASSTHROUGH_LINGER_MS)), _clean_env({}),
            bootstrap=args.bootstrap, in_topic=ns.passthrough_in, out_topic=ns.passthrough_out, fail_topics=[],
            partitions=ns.partitions, payload=payload, warmup=warmup,
            in_identity=lambda key, value: (key, value), out_identity=lambda key, value: (key, value),
            rate=args.latency_rate, timeout_s=args.timeout,
            log_path=workdir / f"rep{rep}-passthrough-latency.log"))
        return results


# --- report --------------------------------------------------------------------------------------

def _kafka_version() -> str:
    match = re.search(r"<kafka.version>(.*?)</kafka.version>", POM.read_text())
    return match.group(1) if match else "unknown"


def _nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(len(os.sched_getaffinity(0)))


def environment(args: argparse.Namespace) -> dict[str, Any]:
    import aiokafka
    import faust

    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "kafka_version": _kafka_version(),
        "python": platform.python_version(),
        "nproc": _nproc(),
        "aiokafka": aiokafka.__version__,
        "faust": faust.__version__,
        "platform": platform.platform(),
        "bootstrap": args.bootstrap,
        "loadavg_start": os.getloadavg(),
        "git": _git_state(),
    }


def _git_state() -> str:
    """HEAD, plus a digest of uncommitted changes to the code under test (services, schemas, contracts)."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
        diff = git("diff", "HEAD", "--", "services", "schemas", "contracts")
        untracked = git("ls-files", "--others", "--exclude-standard", "--", "services", "schemas", "contracts")
    except OSError:
        return "unknown"
    if not diff and not untracked:
        return f"{head} (code under test clean)"
    import hashlib

    digest = hashlib.sha256((diff + untracked).encode()).hexdigest()[:12]
    changed = sorted({line[6:] for line in diff.splitlines() if line.startswith("+++ b/")})
    return f"{head} + uncommitted changes to {', '.join(changed) or 'untracked files'} (diff sha256 {digest})"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def _print_environment(env: dict[str, Any]) -> None:
    print()
    print(f"command:   {env['command']}")
    print(f"kafka {env['kafka_version']} (infra/kafka/pom.xml), python {env['python']}, nproc {env['nproc']}, "
          f"aiokafka {env['aiokafka']}, faust-streaming {env['faust']}")
    print(f"code:      {env['git']}")
    print(f"load avg:  start {' '.join(f'{x:.2f}' for x in env['loadavg_start'])}, "
          f"end {' '.join(f'{x:.2f}' for x in env['loadavg_end'])}")


def report(env: dict[str, Any], args: argparse.Namespace, results: list[RunResult]) -> dict[str, Any]:
    _print_environment(env)
    print(f"workload:  {args.events} events x ~{args.size} B, {args.repeat} repetition(s), broker {args.bootstrap}")
    print()
    header = (f"{'rep':>3}  {'run':<11} {'events/s':>9} {'poll ev/s':>9} {'CPU us/ev':>9} {'start s':>7} "
              f"{'readyz s':>8} {'n@ready':>7} {'window s':>8} {'CPU s tot':>9} {'RSS MB':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.rep:>3}  {r.kind:<11} {_fmt(r.events_per_s, '9.0f')} {_fmt(r.poll_events_per_s, '9.0f')} "
              f"{_fmt(r.cpu_us_per_event, '9.1f')} {_fmt(r.startup_s, '7.2f')} {_fmt(r.readyz_s, '8.2f'):>8} "
              f"{r.n_at_ready:>7} {_fmt(r.window_s, '8.2f')} {_fmt(r.total_cpu_s, '9.2f')} "
              f"{_fmt(r.peak_rss_mb, '6.0f'):>6}")
    print("-" * len(header))
    medians: dict[str, dict[str, float]] = {}
    for kind in ("ingestion", "passthrough"):
        rows = [r for r in results if r.kind == kind]
        medians[kind] = {
            "events_per_s": statistics.median(r.events_per_s for r in rows),
            "poll_events_per_s": statistics.median(r.poll_events_per_s for r in rows),
            "cpu_us_per_event": statistics.median(r.cpu_us_per_event for r in rows),
            "startup_s": statistics.median(r.startup_s for r in rows),
        }
        m = medians[kind]
        print(f"{'med':>3}  {kind:<11} {_fmt(m['events_per_s'], '9.0f')} {_fmt(m['poll_events_per_s'], '9.0f')} "
              f"{_fmt(m['cpu_us_per_event'], '9.1f')} {_fmt(m['startup_s'], '7.2f')}")
    c, b = medians["ingestion"], medians["passthrough"]
    ratios = {
        "throughput": c["events_per_s"] / b["events_per_s"],
        "throughput_poll": c["poll_events_per_s"] / b["poll_events_per_s"],
        "cpu_per_event": c["cpu_us_per_event"] / b["cpu_us_per_event"],
    }
    print()
    print(f"ratio ingestion/passthrough (medians): throughput {ratios['throughput']:.3f}x "
          f"(poll-based {ratios['throughput_poll']:.3f}x), CPU per event {ratios['cpu_per_event']:.2f}x")
    print("events/s: (N-1) / span of output CreateTime stamps; poll ev/s: (N - n@ready) / (t_done - t_ready) "
          f"from {POLL_S} s end-offset polls; CPU us/ev: subprocess utime+stime between those polls / "
          "(N - n@ready); start s: process start -> first output seen; readyz s: -> first /readyz 200")
    coarse = [r for r in results if r.n_at_ready > r.events // 4]
    if coarse:
        print(f"note: {len(coarse)} run(s) had over a quarter of the events out before the first poll saw any; "
              "their poll-based numbers are coarse, use more --events")
    problems = [(r, p) for r in results for p in r.log_problems]
    problems += [(r, f"/readyz answered not-ready {r.not_ready_after_ok}x after its first 200")
                 for r in results if r.not_ready_after_ok]
    if problems:
        print()
        print("log lines at WARNING or above (digits collapsed to N):")
        for r, p in problems:
            print(f"  rep {r.rep} {r.kind}: {p}")
    print(f"logs: {Path(results[0].log).parent}")
    return {"environment": env, "args": vars(args), "results": [asdict(r) for r in results],
            "medians": medians, "ratios": ratios}


def report_latency(env: dict[str, Any], args: argparse.Namespace, results: list[LatencyResult]) -> dict[str, Any]:
    _print_environment(env)
    print(f"workload:  latency: {results[0].events} events x ~{args.size} B per run at {args.latency_rate:g}/s for "
          f"{args.latency_seconds:g} s (+ {results[0].warmup} warm-up), {args.repeat} repetition(s), "
          f"broker {args.bootstrap}")
    print(f"producers: input acks=all linger_ms=0; passthrough acks=all linger_ms={LATENCY_PASSTHROUGH_LINGER_MS}; "
          "ingestion its defaults (SLUICE_* unset but namespace, broker, port, state dir, log level)")
    print()
    header = (f"{'rep':>3}  {'run':<11} {'in ev/s':>8} {'p50 ms':>6} {'p95 ms':>6} {'p99 ms':>6} {'max ms':>6} "
              f"{'late ms':>7} {'ready s':>7} {'readyz s':>8} {'drain s':>7} {'CPU us/ev':>9} {'RSS MB':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r.rep:>3}  {r.kind:<11} {_fmt(r.input_events_per_s, '8.1f')} {_fmt(r.p50_ms, '6.0f')} "
              f"{_fmt(r.p95_ms, '6.0f')} {_fmt(r.p99_ms, '6.0f')} {_fmt(r.max_ms, '6.0f')} "
              f"{_fmt(r.behind_max_ms, '7.1f')} {_fmt(r.ready_s, '7.2f')} {_fmt(r.readyz_s, '8.2f'):>8} "
              f"{_fmt(r.drain_s, '7.2f')} {_fmt(r.cpu_us_per_event, '9.1f')} {_fmt(r.peak_rss_mb, '6.0f'):>6}")
    print("-" * len(header))
    medians: dict[str, dict[str, float]] = {}
    for kind in ("ingestion", "passthrough"):
        rows = [r for r in results if r.kind == kind]
        medians[kind] = {name: statistics.median(getattr(r, name) for r in rows)
                         for name in ("input_events_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                                      "cpu_us_per_event")}
        m = medians[kind]
        print(f"{'med':>3}  {kind:<11} {_fmt(m['input_events_per_s'], '8.1f')} {_fmt(m['p50_ms'], '6.1f')} "
              f"{_fmt(m['p95_ms'], '6.1f')} {_fmt(m['p99_ms'], '6.1f')} {_fmt(m['max_ms'], '6.1f')} "
              f"{'':>7} {'':>7} {'':>8} {'':>7} {_fmt(m['cpu_us_per_event'], '9.1f')}")
    c, b = medians["ingestion"], medians["passthrough"]

    def ratio(x: float, y: float) -> float:
        return x / y if y else float("nan")

    ratios = {"p50": ratio(c["p50_ms"], b["p50_ms"]), "p99": ratio(c["p99_ms"], b["p99_ms"])}
    print()
    print(f"ratio ingestion/passthrough (medians): p50 {_fmt(ratios['p50'], '.2f')}x, "
          f"p99 {_fmt(ratios['p99'], '.2f')}x")
    print("latency: output CreateTime - input CreateTime per event (1 ms stamps, nearest-rank percentiles); "
          "in ev/s: (N-1) / (last - first send()); late ms: latest send() after its schedule; ready s: process "
          "start -> warm-up out; readyz s: -> first /readyz 200; drain s: last send() -> all out (0.2 s polls); "
          "CPU us/ev: subprocess utime+stime from first send() to all out / N")
    slow = [r for r in results if r.input_events_per_s < 0.98 * r.rate]
    if slow:
        print(f"note: {len(slow)} run(s) produced under 98% of the requested {args.latency_rate:g} events/s; "
              "this machine could not keep the pace")
    skewed = [r for r in results if r.stamp_skew_ms > 5]
    if skewed:
        print(f"note: {len(skewed)} run(s) had input CreateTimes up to "
              f"{max(r.stamp_skew_ms for r in skewed):.0f} ms away from the wall clock read just before send()")
    problems = [(r, p) for r in results for p in r.log_problems]
    if problems:
        print()
        print("log lines at WARNING or above (digits collapsed to N):")
        for r, p in problems:
            print(f"  rep {r.rep} {r.kind}: {p}")
    print(f"logs: {Path(results[0].log).parent}")
    return {"environment": env, "args": vars(args), "results": [asdict(r) for r in results],
            "medians": medians, "ratios": ratios}


# --- main ----------------------------------------------------------------------------------------

async def run_bench(args: argparse.Namespace, workdir: Path) -> list[Any]:
    from services.runtime.kafka_tools import wait_for_broker
    from services.runtime.topics import load_contract

    await wait_for_broker(args.bootstrap, timeout_s=120.0)
    contract = load_contract(None)
    results: list[Any] = []
    for rep in range(1, args.repeat + 1):
        if args.latency_rate is not None:
            results.extend(await latency_repetition(args, rep, contract, workdir))
        else:
            results.extend(await repetition(args, rep, contract, workdir))
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per run (default 20000)")
    parser.add_argument("--size", type=int, default=1024, help="approximate raw JSON size in bytes (default 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="candidate/baseline pairs (default 3)")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one run may take (default 300)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--passthrough-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--dest", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--linger-ms", type=int, default=PASSTHROUGH_LINGER_MS, help=argparse.SUPPRESS)
    parser.add_argument("--latency-rate", type=float, default=None,
                        help="latency mode: produce this many events/s at a steady pace (instead of a backlog)")
    parser.add_argument("--latency-seconds", type=float, default=30.0,
                        help="latency mode: for this many seconds per run (default 30)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1 or args.size < 1:
        parser.error("--events, --size and --repeat must be positive")
    if args.latency_rate is not None and (args.latency_rate <= 0 or args.latency_seconds <= 0
                                          or round(args.latency_rate * args.latency_seconds) < 1):
        parser.error("--latency-rate and --latency-seconds must be positive (and give at least one event)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.passthrough_worker:
        asyncio.run(passthrough_worker(args.bootstrap, args.source, args.dest, args.group, args.linger_ms))
        return 0
    started_broker = False
    try:
        env = environment(args)
        started_broker = ensure_broker(args.bootstrap)
        workdir = Path(tempfile.mkdtemp(prefix="ingestion_bench-"))
        results = asyncio.run(run_bench(args, workdir))
        env["loadavg_end"] = os.getloadavg()
        document = (report_latency if args.latency_rate is not None else report)(env, args, results)
        if args.json:
            args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
            print(f"results: {args.json}")
        return 0
    except BenchError as exc:
        print(f"ingestion_bench: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ingestion_bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"ingestion_bench: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if started_broker:
            stop_broker(args.bootstrap)


if __name__ == "__main__":
    sys.exit(main())
