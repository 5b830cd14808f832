"""Inference stage (Kafka -> Triton -> Kafka) events/s against the in-process onnxruntime ceiling, same models.

Usage (from the repository root, with the project's virtual environment; needs `bash infra/triton/setup.sh`):

    .venv/bin/python infra/bench/inference_bench.py [--events 1000] [--bootstrap 127.0.0.1:19092]
        [--timeout 300] [--profile] [--json results.json] [--markdown table.md]

Work per event, identical on both sides: the features event's redacted_text and context_text are embedded
(`embedding`), deduplicated per batch of up to 32 events as the service does (services/inference/app.py:
sorted distinct texts, chunks of the model's max_batch_size), then every binding of the inference plan
(services/inference/plan.py, read from contracts/models: each champion AND each shadow challenger) runs its head
on the rows of its events.

* ceiling: in this process, no Kafka, no Triton: infra/models/minilm.py's Embedder and infra/models/head_runner.py's
  OnnxHead on the very files Triton serves (a hard-linked snapshot of .cache/triton/repository), with the same
  onnxruntime settings as the served model.py files, batches of 32 events in topic order. events/s = N / wall
  time; CPU = this process's utime+stime.
* stage: a fresh namespace (ingestion_bench's bench_namespace: contract topics via bootstrap_topics); N features
  events (FeaturesV1 from the intent data's customer turns with their context, encoded by
  services.runtime.codec.encode) are pre-loaded into <ns>.features, then `sluice run inference` starts as a
  subprocess (SLUICE_NAMESPACE, SLUICE_INFERENCE_TRITON_URL, SLUICE_INFERENCE_HTTP_PORT) against a Triton started
  here with triton.sh on free ports. Measured with ingestion_bench.measure: events/s = (N - 1) / span of the
  predictions' CreateTime stamps; CPU µs/event of the service between the first and the last output poll;
  afterwards every prediction is read back (exactly one per features event, none dead-lettered) and the run fails
  otherwise. Triton's CPU (server + its python-backend stub processes) is read from /proc over the whole stage
  run (its idle start-up share included, so slightly high) and divided by N.

On a machine others use too, give the run a broker of its own (kafka.sh reads SLUICE_KAFKA_DATA_DIR; the port
comes from --bootstrap), so nobody stops it mid-run:

    SLUICE_KAFKA_DATA_DIR=.cache/bench/kafka .venv/bin/python infra/bench/inference_bench.py \
        --bootstrap 127.0.0.1:19392

Order: ceiling, stage, ceiling (this 2-core machine drifts); the ratio is stage / median(ceiling). Kafka is
started if `infra/kafka/kafka.sh status` fails and stopped again at the end; Triton is always this script's own
and always stopped.

`--profile` adds one more stage run (not in the table) with py-spy attached to the service (py-spy is installed
into a scratch venv .cache/bench/py-spy-venv on first use, not a project dependency) and prints the functions
with the most samples, own time and inclusive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from infra.bench.ingestion_bench import (  # noqa: E402 - after the sys.path set-up above
    BenchError, RunResult, _clean_env, _fmt, _git_state, _nproc, bench_namespace, ensure_broker, free_port, measure,
    proc_cpu_s, sluice_executable, stop_broker)
from infra.bench.triton_bench import (  # noqa: E402
    BENCH_DIR, DEFAULT_REPOSITORY, TEXTS_FILE, Server, _cpu_model, snapshot_repository)

BATCH = 32                      # the service's default (and largest) batch_max_size
PYSPY_VENV = BENCH_DIR / "py-spy-venv"


# --- workload ------------------------------------------------------------------------------------

def features_events(n: int, run_id: str) -> list[Any]:
    """N FeaturesV1 events from the intent data: each a customer turn with the turns before it as context."""
    from schemas.features.v1 import FeaturesV1

    if not TEXTS_FILE.is_file():
        raise BenchError(f"{TEXTS_FILE.relative_to(REPO)} is missing (the intent data the events are built from)")
    rows = [json.loads(line) for line in TEXTS_FILE.read_text().splitlines() if line.strip()]
    if not rows:
        raise BenchError(f"{TEXTS_FILE.relative_to(REPO)} is empty")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = []
    for i in range(n):
        row = rows[i % len(rows)]
        context = row.get("context") or []
        # Same format as the features stage: "<role>: <redacted text>" per earlier turn, oldest first.
        context_text = "\n".join(f"{turn['role']}: {turn['text']}" for turn in context[-3:])
        at = start + timedelta(seconds=i)
        events.append(FeaturesV1(
            event_id=f"{run_id}-features-{i}", occurred_at=at, turn_id=f"{run_id}-turn-{i}",
            # Many conversations: the keys spread over every partition, as real traffic does.
            conversation_id=f"{run_id}-conv-{i % max(1, n // 4)}", turn_index=len(context),
            role=row.get("role", "customer"), channel="chat", language="en", tenant_id="acme-telecom",
            started_at=at, ended_at=at, redacted_text=row["text"], context_text=context_text,
        ))
    return events


# --- ceiling -------------------------------------------------------------------------------------

class Ceiling:
    """The inference plan run in-process with onnxruntime on the served model files."""

    def __init__(self, repository: Path, plan: Any):
        from infra.models.head_runner import OnnxHead
        from infra.models.minilm import Embedder

        self.plan = plan
        self.via: dict[str, tuple[Any, tuple[str, ...], int, str]] = {}
        for model, fields in plan.via_models.items():
            contract = plan.contracts[model]
            if model != "embedding":
                raise BenchError(f"the ceiling knows how to run `embedding` as a via model, not {model!r}")
            version_dir = repository / model / str(contract.versions[-1])
            self.via[model] = (Embedder(version_dir, max_length=_max_length(repository / model)), fields,
                               contract.max_batch_size or 64, f"{model}/{contract.versions[-1]}")
        self.heads: dict[tuple[str, str], Any] = {}
        for binding in plan.bindings:
            if any(source.via is None for source in binding.inputs):
                raise BenchError(f"{binding.model}: the ceiling only runs heads fed by via models")
            path = repository / binding.model / binding.version / "model.onnx"
            if not path.is_file():
                raise BenchError(f"{path} is missing: is {binding.model} v{binding.version} assembled?")
            self.heads[(binding.model, binding.version)] = OnnxHead(path)

    def run_batch(self, events: list[Any], clock: dict[str, float] | None = None) -> dict[str, Any]:
        """Answers per binding key for one batch; `clock` accumulates wall seconds per model."""
        import numpy as np

        clock = {} if clock is None else clock
        via = {}
        for model, (embedder, fields, limit, name) in self.via.items():
            started = time.perf_counter()
            texts = sorted({getattr(event, f) for event in events for f in fields})
            row = {text: i for i, text in enumerate(texts)}
            vectors = np.concatenate([embedder.embed(texts[s:s + limit]) for s in range(0, len(texts), limit)])
            via[model] = (row, vectors)
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - started
        answers = {}
        for binding in self.plan.bindings:
            started = time.perf_counter()
            inputs = {}
            for source in binding.inputs:
                row, vectors = via[source.via]
                inputs[source.tensor] = vectors[[row[getattr(event, source.field)] for event in events]]
            answers[binding.key] = self.heads[(binding.model, binding.version)](inputs)
            name = f"{binding.model}/{binding.version}"
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - started
        return answers

    def measure(self, events: list[Any], rep: int) -> dict[str, Any]:
        self.run_batch(events[:BATCH])   # warm-up: onnxruntime allocates its arenas on the first runs
        clock: dict[str, float] = {}
        cpu0, t0 = time.process_time(), time.perf_counter()
        rows = 0
        for start in range(0, len(events), BATCH):
            answers = self.run_batch(events[start:start + BATCH], clock)
            rows += len(next(iter(answers.values())))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if rows != len(events):
            raise BenchError(f"ceiling produced {rows} rows for {len(events)} events")
        return {"kind": "ceiling", "rep": rep, "events": len(events), "events_per_s": len(events) / wall,
                "wall_s": wall, "cpu_us_per_event": cpu * 1e6 / len(events),
                "wall_us_per_event_by_model": {m: v * 1e6 / len(events) for m, v in clock.items()}}


def _max_length(model_dir: Path) -> int:
    """The served config's max_length parameter (what model.py passes to the Embedder), default 256."""
    match = re.search(r'key:\s*"max_length".*?string_value:\s*"(\d+)"', (model_dir / "config.pbtxt").read_text(),
                      re.S)
    return int(match.group(1)) if match else 256


# --- Triton CPU ----------------------------------------------------------------------------------

def triton_processes(root: int) -> dict[int, str]:
    """Triton's server process and its python-backend stubs (its children), pid -> label ("embedding/1" for the
    stub serving that model version, "tritonserver" for the server)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    labels = {root: "tritonserver"}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in labels:
                try:
                    argv = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
                except OSError:
                    continue
                model_py = next((a for a in argv if a.endswith("/model.py")), None)
                labels[child] = "/".join(Path(model_py).parts[-3:-1]) if model_py else Path(argv[0]).name
                frontier.append(child)
    return labels


def tree_cpu(root: int) -> dict[str, float]:
    """utime+stime per Triton process (label -> seconds); the stubs are live children, so /proc sees them."""
    usage: dict[str, float] = {}
    for pid, label in triton_processes(root).items():
        try:
            usage[label] = usage.get(label, 0.0) + proc_cpu_s(pid)
        except OSError:
            continue   # exited in between
    return usage


def triton_pid(server: Server) -> int:
    try:
        return int((server.data_dir / "triton.pid").read_text().strip())
    except (OSError, ValueError):
        raise BenchError(f"no pid file in {server.data_dir}: did triton.sh start it?") from None


# --- stage ---------------------------------------------------------------------------------------

async def stage_run(args: argparse.Namespace, rep: int, contract: Any, events: list[Any], server: Server,
                    workdir: Path, profile_dir: Path | None = None) -> tuple[RunResult, dict[str, float]]:
    """One stage run; also Triton's CPU µs per event by process (label -> µs)."""
    from services.runtime.codec import encode
    from services.runtime.kafka_tools import produce_records

    async with bench_namespace(args, rep, contract) as ns:
        features_topic = contract.physical("features", ns.name)
        predictions = contract.physical("predictions", ns.name)
        spec = contract.get("features")
        now = datetime.now(timezone.utc)
        payload = []
        for event in events:
            message = encode(event.model_copy(update={"event_id": f"{ns.name}-{event.event_id}"}), spec,
                             "features", now)
            payload.append((message.key, message.value, message.headers))
        started = time.monotonic()
        await produce_records(args.bootstrap, features_topic, payload)
        print(f"# stage rep {rep}: namespace {ns.name}: pre-loaded {len(payload)} features events into "
              f"{features_topic} in {time.monotonic() - started:.1f} s", flush=True)
        state_dir = Path(tempfile.mkdtemp(prefix=f"{ns.name}-state-", dir=workdir))
        port = free_port()
        env = _clean_env({
            "SLUICE_NAMESPACE": ns.name, "SLUICE_BOOTSTRAP_SERVERS": args.bootstrap,
            "SLUICE_INFERENCE_TRITON_URL": server.grpc_url, "SLUICE_INFERENCE_HTTP_PORT": str(port),
            "SLUICE_STATE_DIR": str(state_dir), "SLUICE_LOG_LEVEL": "WARNING",
            # ingestion_bench.measure counts output records by end offsets, which an exactly-once producer's
            # transaction markers would inflate.
            "SLUICE_DELIVERY": args.delivery,
        })
        expected = {f"{ns.name}-{e.event_id}".encode() for e in events}
        pid = triton_pid(server)
        spies = []
        if profile_dir is not None:
            spies.append(asyncio.create_task(profile_service(ns.name, profile_dir / "service.txt")))
            stubs = [p for p, label in triton_processes(pid).items() if label.startswith("embedding/")]
            if stubs:
                # The stub outlives the run: sample it for about as long as the ceiling needs for N events.
                spies.append(asyncio.create_task(profile_pid(stubs[0], profile_dir / "embedding-stub.txt",
                                                             duration_s=max(5, len(events) // 40))))
        cpu0 = tree_cpu(pid)
        stats0 = server.http("GET", "/v2/models/stats")
        try:
            result = await measure(
                "inference" if profile_dir is None else "inference+py-spy", rep, ns.name,
                [sluice_executable(), "run", "inference"], env, bootstrap=args.bootstrap, out_topic=predictions,
                fail_topics=[ns.deadletter], expected=expected,
                identity=lambda r: json.loads(r.value)["features_event_id"].encode(), n=len(events),
                timeout_s=args.timeout, log_path=workdir / f"rep{rep}-inference.log", http_port=port)
        finally:
            cpu1 = tree_cpu(pid)
            for spy in spies:
                await spy
        per_event = {label: (cpu1[label] - cpu0.get(label, 0.0)) * 1e6 / len(events) for label in cpu1}
        result.triton_stats = stats_delta(stats0, server.http("GET", "/v2/models/stats"))
        return result, per_event


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per model version over a run, from Triton's statistics: requests, executions, rows, and the seconds spent
    queued (summed over requests) and computing (summed over executions: the instance's busy time)."""
    def index(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f"{m['name']}/{m['version']}": m for m in stats.get("model_stats", [])}

    old, new = index(before), index(after)
    delta = {}
    for key, entry in new.items():
        prior = old.get(key, {})

        def diff(*path: str) -> float:
            a, b = entry, prior
            for part in path:
                a, b = a.get(part, {}), b.get(part, {})
            return float(a or 0) - float(b or 0)

        requests = diff("inference_stats", "success", "count")
        if requests <= 0:
            continue
        delta[key] = {
            "requests": requests, "executions": diff("execution_count"), "rows": diff("inference_count"),
            "queue_s": diff("inference_stats", "queue", "ns") / 1e9,
            "compute_s": sum(diff("inference_stats", phase, "ns") for phase in
                             ("compute_input", "compute_infer", "compute_output")) / 1e9,
        }
    return delta


# --- profiling -----------------------------------------------------------------------------------

def py_spy() -> Path:
    exe = PYSPY_VENV / "bin" / "py-spy"
    if not exe.exists():
        print(f"# installing py-spy into {PYSPY_VENV} (scratch, not a project dependency)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PYSPY_VENV)], check=True)
        subprocess.run([str(PYSPY_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return exe


def _find_service(namespace: str) -> int | None:
    """Pid of the `sluice run inference` process serving `namespace` (its environment names it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"inference" in cmdline and f"SLUICE_NAMESPACE={namespace}".encode() in environ:
            return int(entry)
    return None


async def profile_pid(pid: int, output: Path, duration_s: int | None = None) -> None:
    """py-spy record of `pid` until it exits (or for duration_s); idle samples are left out (py-spy's default)."""
    exe = py_spy()
    argv = [str(exe), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking",
            "--output", str(output)]
    if duration_s is not None:
        argv += ["--duration", str(duration_s)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, stderr = await proc.communicate()
    if not output.exists():
        print(f"# py-spy on pid {pid} wrote nothing ({proc.returncode}): {stderr.decode(errors='replace')[-300:]}",
              file=sys.stderr)


async def profile_service(namespace: str, output: Path) -> None:
    deadline = time.monotonic() + 60
    while (pid := _find_service(namespace)) is None:
        if time.monotonic() > deadline:
            raise BenchError("py-spy: the inference service never appeared")
        await asyncio.sleep(0.05)
    await profile_pid(pid, output)


def summarize_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Own and inclusive sample counts per function from py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r"\s*\((?:[^()]*/)?([^/()]+):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {"samples": total, "own": own.most_common(top), "inclusive": inclusive.most_common(top)}


# --- report --------------------------------------------------------------------------------------

def report(env: dict[str, Any], args: argparse.Namespace, ceilings: list[dict[str, Any]],
           stages: list[tuple[RunResult, dict[str, float]]], profiles: dict[str, Any]) -> dict[str, Any]:
    ceiling_eps = statistics.median(c["events_per_s"] for c in ceilings)
    ceiling_cpu = statistics.median(c["cpu_us_per_event"] for c in ceilings)
    stage_eps = statistics.median(r.events_per_s for r, _ in stages)
    stage_cpu = statistics.median(r.cpu_us_per_event for r, _ in stages)
    triton_cpu = statistics.median(sum(t.values()) for _, t in stages)
    ratio = stage_eps / ceiling_eps
    lines = [
        "| run | events/s | CPU µs/event (process) | CPU µs/event (Triton) | notes |",
        "|---|---:|---:|---:|---|",
    ]
    order = ([("ceiling", c) for c in ceilings[:1]] + [("stage", s) for s in stages]
             + [("ceiling", c) for c in ceilings[1:]])
    for kind, item in order:
        if kind == "ceiling":
            lines.append(f"| ceiling (in-process, rep {item['rep']}) | {item['events_per_s']:.0f} "
                         f"| {item['cpu_us_per_event']:.0f} | - | {item['wall_s']:.1f} s wall |")
        else:
            r, t = item
            lines.append(f"| stage (`sluice run inference` + Triton, rep {r.rep}) | {r.events_per_s:.0f} "
                         f"| {r.cpu_us_per_event:.0f} | {sum(t.values()):.0f} | poll-based "
                         f"{_fmt(r.poll_events_per_s, '.0f')} ev/s, start {r.startup_s:.1f} s |")
    lines.append(f"| **stage / ceiling (medians)** | **{ratio:.2f}** | {stage_cpu / ceiling_cpu:.2f}x "
                 f"| {(stage_cpu + triton_cpu) / ceiling_cpu:.2f}x (service + Triton) | |")
    # Where the time goes, per model: the ceiling's wall time per model vs Triton's CPU per process.
    ceiling_by_model = {m: statistics.median(c["wall_us_per_event_by_model"].get(m, 0.0) for c in ceilings)
                        for m in ceilings[0]["wall_us_per_event_by_model"]}
    triton_labels = sorted({label for _, t in stages for label in t}, key=lambda x: (x != "tritonserver", x))
    triton_by_label = {label: statistics.median(t.get(label, 0.0) for _, t in stages) for label in triton_labels}
    breakdown = ["| model (version) | ceiling wall µs/event | Triton CPU µs/event (its process) |", "|---|---:|---:|"]
    for label in [*triton_labels, *(m for m in ceiling_by_model if m not in triton_by_label)]:
        breakdown.append(f"| {label} | {_fmt(ceiling_by_model.get(label), '.0f')} "
                         f"| {_fmt(triton_by_label.get(label), '.0f')} |")
    # Triton's own view of the (first) stage run: is the embedding instance busy all the time?
    first = stages[0][0]
    span_s = (first.events - 1) / first.events_per_s
    stats = getattr(first, "triton_stats", {})
    breakdown += ["", "| Triton, stage rep 1 | requests | rows/execution | queue ms/request | compute ms/execution "
                  "| busy % of the stage's span |", "|---|---:|---:|---:|---:|---:|"]
    for key, st in sorted(stats.items()):
        executions = st["executions"] or float("nan")
        breakdown.append(f"| {key} | {st['requests']:.0f} | {st['rows'] / executions:.1f} "
                         f"| {st['queue_s'] * 1e3 / st['requests']:.2f} | {st['compute_s'] * 1e3 / executions:.2f} "
                         f"| {st['compute_s'] * 100 / span_s:.0f} |")
    table = "\n".join(lines)
    table_breakdown = "\n".join(breakdown)
    print()
    print(f"command:   {env['command']}")
    print(f"date:      {env['date_utc']}; python {env['python']}, nproc {env['nproc']} ({env['cpu']})")
    print(f"code:      {env['git']}")
    print(f"load avg:  start {' '.join(f'{x:.2f}' for x in env['loadavg_start'])}, "
          f"end {' '.join(f'{x:.2f}' for x in env['loadavg_end'])}")
    print(f"plan:      {', '.join(env['bindings'])}; via {env['via']}")
    print(f"workload:  {args.events} features events, batches of {BATCH}; distinct texts per event "
          f"{env['texts_per_event']:.2f} (after per-batch dedup)")
    print()
    print(table)
    print()
    print(table_breakdown)
    print()
    print("events/s: ceiling = N / wall time; stage = (N - 1) / span of the predictions' CreateTime stamps. CPU: "
          "utime+stime of the process (ceiling: this process; stage: the service between first and last output "
          "poll) and of Triton with its stubs (whole stage run) per event.")
    for r, _ in stages:
        for problem in r.log_problems:
            print(f"log ({r.kind} rep {r.rep}): {problem}")
    for name, profile in profiles.items():
        print()
        print(f"py-spy profile of {name} ({profile['samples']} samples at 200 Hz of non-idle time; % of those; "
              f"raw: {profile['raw']}):")
        print("  own samples:")
        for frame, count in profile["own"][:12]:
            print(f"    {count * 100 / profile['samples']:5.1f}%  {frame}")
        print("  inclusive:")
        for frame, count in profile["inclusive"][:20]:
            print(f"    {count * 100 / profile['samples']:5.1f}%  {frame}")
    document = {"environment": env, "ceiling": ceilings,
                "stage": [dict(asdict(r), triton_cpu_us_per_event=t, triton_stats=getattr(r, "triton_stats", None))
                          for r, t in stages],
                "ratio": ratio, "profiles": profiles, "markdown": table, "markdown_breakdown": table_breakdown}
    if args.markdown:
        args.markdown.write_text(table + "\n\n" + table_breakdown + "\n")
        print(f"table: {args.markdown}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
        print(f"results: {args.json}")
    return document


# --- main ----------------------------------------------------------------------------------------

async def run_bench(args: argparse.Namespace, server: Server, snapshot: Path, workdir: Path):
    from services.inference.plan import load_plan
    from services.runtime.topics import load_contract

    contract = load_contract(None)
    plan = load_plan()
    events = features_events(args.events, f"b{os.getpid()}")
    ceiling = Ceiling(snapshot, plan)
    distinct = sum(len({getattr(e, f) for e in events[s:s + BATCH] for fs in plan.via_models.values() for f in fs})
                   for s in range(0, len(events), BATCH))
    info = {"bindings": [b.key for b in plan.bindings], "via": dict(plan.via_models),
            "texts_per_event": distinct / len(events)}
    ceilings, stages = [], []
    ceilings.append(ceiling.measure(events, 1))
    print(f"# ceiling 1: {ceilings[-1]['events_per_s']:.0f} events/s", flush=True)
    stages.append(await stage_run(args, 1, contract, events, server, workdir))
    print(f"# stage 1: {stages[-1][0].events_per_s:.0f} events/s", flush=True)
    ceilings.append(ceiling.measure(events, 2))
    print(f"# ceiling 2: {ceilings[-1]['events_per_s']:.0f} events/s", flush=True)
    profiles: dict[str, Any] = {}
    if args.profile:
        profile_dir = workdir / "py-spy"
        profile_dir.mkdir()
        profiled, _ = await stage_run(args, 9, contract, events, server, workdir, profile_dir=profile_dir)
        print(f"# profiled stage run: {profiled.events_per_s:.0f} events/s (py-spy attached; not in the table)",
              flush=True)
        for name, path in (("the inference service", profile_dir / "service.txt"),
                           ("Triton's embedding stub", profile_dir / "embedding-stub.txt")):
            if path.exists():
                profiles[name] = summarize_profile(path)
                profiles[name]["raw"] = str(path)
    return info, ceilings, stages, profiles


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="features events per run (default 1000)")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one stage run may take (default 300)")
    parser.add_argument("--kind", choices=("cpu", "gpu"), default=os.environ.get("SLUICE_TRITON_INSTANCE_KIND", "cpu"),
                        help="Triton instance kind (default $SLUICE_TRITON_INSTANCE_KIND or cpu); the ceiling "
                             "stays on the CPU")
    parser.add_argument("--repository", type=Path,
                        default=Path(os.environ.get("SLUICE_TRITON_REPOSITORY", DEFAULT_REPOSITORY)),
                        help="assembled repository to snapshot (default $SLUICE_TRITON_REPOSITORY or "
                             ".cache/triton/repository)")
    parser.add_argument("--profile", action="store_true", help="one extra stage run under py-spy, summarized")
    parser.add_argument("--delivery", choices=("at_least_once",), default="at_least_once",
                        help="SLUICE_DELIVERY of the stage (only at_least_once: the record count reads end offsets, "
                             "which transaction markers would inflate)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    if args.events < BATCH:
        parser.error(f"--events must be at least {BATCH}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_broker = False
    server: Server | None = None
    try:
        env = {"command": shlex.join([sys.executable, *sys.argv]),
               "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
               "nproc": _nproc(), "cpu": _cpu_model(), "git": _git_state(), "loadavg_start": os.getloadavg()}
        snapshot = snapshot_repository(args.repository, BENCH_DIR / "inference-repository")
        ports = iter(sorted({free_port() for _ in range(6)}))
        server = Server("stage", next(ports), next(ports), next(ports), snapshot, BENCH_DIR / "triton-stage",
                        args.kind)
        # Triton first: its start checks the snapshot against the sources, best done right after taking it.
        print(f"# Triton ready in {server.start():.1f} s (grpc :{server.grpc_port}, kind {args.kind})", flush=True)
        started_broker = ensure_broker(args.bootstrap)
        workdir = Path(tempfile.mkdtemp(prefix="inference_bench-"))
        info, ceilings, stages, profiles = asyncio.run(run_bench(args, server, snapshot, workdir))
        env.update(info)
        env["loadavg_end"] = os.getloadavg()
        report(env, args, ceilings, stages, profiles)
        return 0
    except BenchError as exc:
        print(f"inference_bench: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("inference_bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"inference_bench: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        if started_broker:
            stop_broker(args.bootstrap)


if __name__ == "__main__":
    sys.exit(main())
