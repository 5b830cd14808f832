"""Triton throughput and latency with dynamic batching ON vs OFF, at client concurrency 1..32.

Usage (from the repository root, with the project's virtual environment; needs `bash infra/triton/setup.sh`):

    .venv/bin/python infra/bench/triton_bench.py [--models embedding[,sentiment,...]] [--concurrency 1,2,4,8,16,32]
        [--rounds 3] [--seconds 3] [--warmup 0.5] [--batch 32] [--batch-concurrency 1] [--kind cpu|gpu]
        [--quick] [--json results.json] [--markdown table.md]

Two Triton servers are started with `infra/triton/triton.sh start` on free ports (env SLUICE_TRITON_*_PORT,
SLUICE_TRITON_DATA_DIR under .cache/bench/, SLUICE_TRITON_INSTANCE_KIND from --kind), both serving one
hard-linked snapshot of the assembled repository (.cache/triton/repository -> .cache/bench/triton-repository/),
so a rebuild during the run cannot change what either serves:

* ON: the repository as assembled (config.pbtxt with `dynamic_batching`);
* OFF: the same snapshot, then each benchmarked model is reloaded through the repository API
  (POST /v2/repository/models/<m>/load) with its served config minus `dynamic_batching`. A copy whose
  config.pbtxt differs from the sources cannot be used: `triton.sh start` refuses a stale repository. The
  reloaded config is read back (GET /v2/models/<m>/config) and the run stops if `dynamic_batching` is still there.

Both servers stop at the end, whatever happens (`triton.sh stop`). The client is one asyncio process
(tritonclient.grpc.aio, one channel per server): `c` workers each send one request at a time in a closed loop.
Rows "client batch 1" carry one text (or one row) per request, which is where server-side batching matters; rows
"client batch 32" carry 32 per request. Inputs come from the model's contract (contracts/models/<m>.yaml):
TYPE_STRING inputs get customer turns of infra/models/data/intent/intent.jsonl, TYPE_FP32 inputs get random
unit vectors (the shape an embedding has).

Per measurement: `--warmup` seconds unmeasured, then `--seconds` measured (twice that for batched rows).
items/s = rows answered by requests completing inside the window / window; p50/p99 = nearest-rank percentiles
of the latency of requests that both started and completed inside it; "srv batch" = rows per model execution
over the window, from Triton's statistics (inference_count / execution_count deltas), which shows whether
requests were batched at all. The run fails if an OFF server ever executes more than one client request per
execution.

This 2-core machine drifts, and client and server share it: ON and OFF alternate per concurrency level (the
order flips every level and every round), over `--rounds` rounds; the table reports medians over rounds and the
ratio ON/OFF of those medians. `--quick`: 1 round, 1.5 s windows, concurrency 1,4,16 (well under a minute of
measuring).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from infra.bench.ingestion_bench import (  # noqa: E402 - after the sys.path set-up above
    BenchError, _fmt, _git_state, _nproc, free_port, percentile)

TRITON_SH = REPO / "infra" / "triton" / "triton.sh"
DEFAULT_REPOSITORY = REPO / ".cache" / "triton" / "repository"
BENCH_DIR = REPO / ".cache" / "bench"
TEXTS_FILE = REPO / "infra" / "models" / "data" / "intent" / "intent.jsonl"
# Distinct inputs cycled through by the workers: enough that no two concurrent requests are likely identical.
POOL = 256
_NP_DTYPES = {"TYPE_FP32": "float32", "TYPE_FP64": "float64", "TYPE_INT64": "int64", "TYPE_INT32": "int32"}
_TRITON_DTYPES = {"TYPE_STRING": "BYTES", "TYPE_FP32": "FP32", "TYPE_FP64": "FP64", "TYPE_INT64": "INT64",
                  "TYPE_INT32": "INT32"}


# --- servers -------------------------------------------------------------------------------------

@dataclass
class Server:
    """One Triton started by this script through triton.sh."""

    label: str                   # "on" | "off"
    http_port: int
    grpc_port: int
    metrics_port: int
    repository: Path
    data_dir: Path
    kind: str
    started: bool = False

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_TRITON_")}
        env.update({
            "SLUICE_TRITON_HTTP_PORT": str(self.http_port), "SLUICE_TRITON_GRPC_PORT": str(self.grpc_port),
            "SLUICE_TRITON_METRICS_PORT": str(self.metrics_port), "SLUICE_TRITON_REPOSITORY": str(self.repository),
            "SLUICE_TRITON_DATA_DIR": str(self.data_dir), "SLUICE_TRITON_INSTANCE_KIND": self.kind,
        })
        return env

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> float:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # Marked before the call: a start that fails half-way may still leave a server to stop.
        self.started = True
        done = subprocess.run(["bash", str(TRITON_SH), "start"], env=self.env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"triton.sh start ({self.label}, kind {self.kind}) failed with status "
                             f"{done.returncode}: {done.stderr.strip()[-1500:]}")
        return time.monotonic() - started

    def stop(self) -> None:
        if self.started:
            subprocess.run(["bash", str(TRITON_SH), "stop"], env=self.env(), capture_output=True, text=True)
            self.started = False

    def http(self, method: str, path: str, body: dict | None = None, timeout: float = 120.0) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise BenchError(f"{self.label} server: {method} {path} -> {exc.code} "
                             f"{exc.read().decode(errors='replace')[:500]}") from None
        return json.loads(payload) if payload else None


def snapshot_repository(source: Path, target: Path) -> Path:
    """Hard-linked copy of the assembled repository (build.py never writes into files it linked)."""
    if not source.is_dir():
        raise BenchError(f"no model repository at {source}; run: bash infra/triton/setup.sh")
    resolved = source.resolve()
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(resolved, target, copy_function=link)
    return target


def disable_dynamic_batching(server: Server, model: str) -> dict[str, Any]:
    """Reload `model` on `server` with its served config minus dynamic_batching; returns the config read back."""
    config = server.http("GET", f"/v2/models/{model}/config")
    config.pop("dynamic_batching", None)
    server.http("POST", f"/v2/repository/models/{model}/load", {"parameters": {"config": json.dumps(config)}})
    served = server.http("GET", f"/v2/models/{model}/config")
    if "dynamic_batching" in served:
        raise BenchError(f"{model} on the OFF server still has dynamic_batching after the reload: {served}")
    return served


def instance_kinds(config: dict[str, Any]) -> list[str]:
    return [group.get("kind", "?") for group in config.get("instance_group", [])]


# --- inputs --------------------------------------------------------------------------------------

def load_texts(limit: int = POOL) -> list[str]:
    """Distinct customer turns (already redacted: placeholders like [CARD] included)."""
    if not TEXTS_FILE.is_file():
        raise BenchError(f"{TEXTS_FILE.relative_to(REPO)} is missing (the intent training data)")
    texts: list[str] = []
    seen: set[str] = set()
    for line in TEXTS_FILE.read_text().splitlines():
        text = json.loads(line)["text"]
        if text not in seen:
            seen.add(text)
            texts.append(text)
    if len(texts) < 8:
        raise BenchError(f"{TEXTS_FILE.relative_to(REPO)} holds only {len(texts)} distinct texts")
    # Spread over the file (it is grouped by intent) rather than the first `limit` lines.
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]


def model_requests(contract: Any, batch: int, texts: list[str], seed: int = 0) -> list[list[Any]]:
    """POOL request input lists for `contract`, `batch` rows each; serialized once, reused by every worker."""
    import numpy as np
    from tritonclient.grpc import InferInput

    rng = np.random.default_rng(seed)
    requests = []
    for i in range(POOL):
        inputs = []
        for spec in contract.inputs:
            if spec.data_type == "TYPE_STRING":
                if list(spec.dims) != [1]:
                    raise BenchError(f"{contract.name}: string input {spec.name} has dims {spec.dims}, expected [1]")
                rows = [texts[(i * batch + j) % len(texts)] for j in range(batch)]
                array = np.array([[t.encode("utf-8")] for t in rows], dtype=object)
            elif spec.data_type in _NP_DTYPES and all(d > 0 for d in spec.dims):
                array = rng.standard_normal((batch, *spec.dims)).astype(_NP_DTYPES[spec.data_type])
                if spec.data_type.startswith("TYPE_FP"):
                    array /= np.linalg.norm(array.reshape(batch, -1), axis=1).reshape(batch, *[1] * len(spec.dims))
            else:
                raise BenchError(f"{contract.name}: no input generator for {spec.name} {spec.data_type} {spec.dims}")
            tensor = InferInput(spec.name, list(array.shape), _TRITON_DTYPES[spec.data_type])
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        requests.append(inputs)
    return requests


# --- measurement ---------------------------------------------------------------------------------

@dataclass
class Measurement:
    model: str
    variant: str                 # "on" | "off"
    round: int
    client_batch: int
    concurrency: int
    items_per_s: float
    requests: int                # requests completed inside the window
    p50_ms: float
    p99_ms: float
    server_batch: float          # rows per model execution inside the window (Triton statistics)
    max_requests_per_execution: float  # client requests per execution inside the window, from the same stats
    errors: int


async def _stats(client: Any, model: str, version: str) -> tuple[int, int, int]:
    """(inference_count, execution_count, successful requests) of one model version, from Triton."""
    stats = await client.get_inference_statistics(model_name=model, model_version=version, as_json=True)
    entry = stats["model_stats"][0]
    success = int(entry.get("inference_stats", {}).get("success", {}).get("count", 0))
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0)), success


async def measure(client: Any, model: str, version: str, outputs: list[str], requests: list[list[Any]], *,
                  variant: str, rnd: int, batch: int, concurrency: int, warmup_s: float,
                  window_s: float, timeout_s: float) -> Measurement:
    from tritonclient.grpc import InferRequestedOutput
    from tritonclient.utils import InferenceServerException

    requested = [InferRequestedOutput(name) for name in outputs]
    loop = asyncio.get_running_loop()
    start_at = loop.time() + warmup_s
    end_at = start_at + window_s
    latencies: list[float] = []
    completed = 0
    errors: list[str] = []
    marks: dict[str, tuple[int, int, int]] = {}

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - loop.time()))
        marks[name] = await _stats(client, model, version)

    async def worker(index: int) -> None:
        nonlocal completed
        i = index
        while True:
            sent = loop.time()
            if sent >= end_at:
                return
            try:
                await client.infer(model, requests[i % len(requests)], model_version=version, outputs=requested,
                                   client_timeout=timeout_s)
            except InferenceServerException as exc:
                errors.append(str(exc))
                if len(errors) > 10:
                    raise BenchError(f"{model} ({variant}): more than 10 failed requests; last: {exc}") from None
                continue
            done = loop.time()
            if start_at <= done <= end_at:
                completed += 1
                if sent >= start_at:
                    latencies.append((done - sent) * 1000.0)
            i += concurrency

    await asyncio.gather(mark("start", start_at), mark("end", end_at),
                         *(worker(k) for k in range(concurrency)))
    infer0, exec0, ok0 = marks["start"]
    infer1, exec1, ok1 = marks["end"]
    executions = exec1 - exec0
    latencies.sort()
    return Measurement(
        model=model, variant=variant, round=rnd, client_batch=batch, concurrency=concurrency,
        items_per_s=completed * batch / window_s, requests=completed,
        p50_ms=percentile(latencies, 50) if latencies else float("nan"),
        p99_ms=percentile(latencies, 99) if latencies else float("nan"),
        server_batch=(infer1 - infer0) / executions if executions else float("nan"),
        max_requests_per_execution=(ok1 - ok0) / executions if executions else float("nan"),
        errors=len(errors),
    )


async def run_bench(args: argparse.Namespace, servers: dict[str, Server],
                    contracts: dict[str, Any]) -> list[Measurement]:
    from tritonclient.grpc import aio as grpc_aio

    texts = load_texts()
    clients = {label: grpc_aio.InferenceServerClient(url=s.grpc_url) for label, s in servers.items()}
    results: list[Measurement] = []
    try:
        plan: list[tuple[str, int, int]] = []   # (model, client batch, concurrency)
        for model in args.models:
            plan += [(model, 1, c) for c in args.concurrency]
            plan += [(model, args.batch, c) for c in args.batch_concurrency]
        pools = {(m, b): model_requests(contracts[m], b, texts) for m in args.models
                 for b in {1, args.batch}}
        for rnd in range(1, args.rounds + 1):
            for position, (model, batch, concurrency) in enumerate(plan):
                contract = contracts[model]
                version = str(contract.versions[-1])
                outputs = [o.name for o in contract.outputs]
                # Flip the order every level and every round, so drift does not favour either variant.
                order = ("on", "off") if (rnd + position) % 2 == 0 else ("off", "on")
                # Batched requests take 10-30x longer each: a longer window keeps their count (and the
                # items/s resolution) comparable to the one-row levels.
                window = args.seconds * (2 if batch > 1 else 1)
                for variant in order:
                    m = await measure(clients[variant], model, version, outputs, pools[(model, batch)],
                                      variant=variant, rnd=rnd, batch=batch, concurrency=concurrency,
                                      warmup_s=args.warmup, window_s=window, timeout_s=args.timeout)
                    # Some slack: the statistics snapshots at the window's edges can split one execution.
                    if variant == "off" and m.max_requests_per_execution > 1.2:
                        raise BenchError(f"{model} on the OFF server ran {m.max_requests_per_execution:.2f} "
                                         "requests per execution: dynamic batching is not off")
                    results.append(m)
                    print(f"# round {rnd} {model} batch {batch:>2} c={concurrency:>2} {variant:>3}: "
                          f"{m.items_per_s:8.1f} items/s  p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms  "
                          f"srv batch {m.server_batch:5.2f}" + (f"  errors {m.errors}" if m.errors else ""),
                          flush=True)
    finally:
        for client in clients.values():
            await client.close()
    return results


# --- report --------------------------------------------------------------------------------------

def summarize(results: list[Measurement]) -> list[dict[str, Any]]:
    rows = []
    keys = sorted({(m.model, m.client_batch, m.concurrency) for m in results},
                  key=lambda k: (k[0], k[1], k[2]))
    for model, batch, concurrency in keys:
        row: dict[str, Any] = {"model": model, "client_batch": batch, "concurrency": concurrency}
        for variant in ("on", "off"):
            ms = [m for m in results if (m.model, m.client_batch, m.concurrency, m.variant)
                  == (model, batch, concurrency, variant)]
            for name in ("items_per_s", "p50_ms", "p99_ms", "server_batch"):
                values = [getattr(m, name) for m in ms if getattr(m, name) == getattr(m, name)]
                row[f"{variant}_{name}"] = statistics.median(values) if values else float("nan")
            row[f"{variant}_rounds"] = len(ms)
        off = row["off_items_per_s"]
        row["ratio_items_per_s"] = row["on_items_per_s"] / off if off else float("nan")
        row["ratio_p50"] = row["on_p50_ms"] / row["off_p50_ms"] if row["off_p50_ms"] else float("nan")
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | client batch | concurrency | ON items/s | OFF items/s | ON/OFF items/s | ON p50 ms | OFF p50 ms "
        "| ON p99 ms | OFF p99 ms | ON srv batch | OFF srv batch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['client_batch']} | {r['concurrency']} | {_fmt(r['on_items_per_s'], '.0f')} "
            f"| {_fmt(r['off_items_per_s'], '.0f')} | {_fmt(r['ratio_items_per_s'], '.2f')} "
            f"| {_fmt(r['on_p50_ms'], '.2f')} | {_fmt(r['off_p50_ms'], '.2f')} | {_fmt(r['on_p99_ms'], '.2f')} "
            f"| {_fmt(r['off_p99_ms'], '.2f')} | {_fmt(r['on_server_batch'], '.2f')} "
            f"| {_fmt(r['off_server_batch'], '.2f')} |")
    return "\n".join(lines)


def environment(args: argparse.Namespace, servers: dict[str, Server], configs: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "nproc": _nproc(),
        "cpu": _cpu_model(),
        "gpu": _gpu_name(),
        "tritonclient": version("tritonclient"),
        "kind": args.kind,
        "git": _git_state(),
        "loadavg_start": os.getloadavg(),
        "served_configs": configs,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_name() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    return done.stdout.strip() or None


def report(env: dict[str, Any], args: argparse.Namespace, results: list[Measurement]) -> dict[str, Any]:
    rows = summarize(results)
    table = markdown(rows)
    print()
    print(f"command:   {env['command']}")
    print(f"date:      {env['date_utc']}; python {env['python']}, nproc {env['nproc']} ({env['cpu']})"
          + (f", GPU {env['gpu']}" if env["gpu"] else "") + f", instance kind {env['kind']}")
    print(f"code:      {env['git']}")
    print(f"load avg:  start {' '.join(f'{x:.2f}' for x in env['loadavg_start'])}, "
          f"end {' '.join(f'{x:.2f}' for x in env['loadavg_end'])}")
    for model, served in env["served_configs"].items():
        print(f"served:    {model}: ON dynamic_batching={served['on'].get('dynamic_batching')} "
              f"instances={served['on_kinds']}; OFF dynamic_batching=absent instances={served['off_kinds']}")
    print(f"workload:  {args.rounds} round(s) x {args.seconds:g} s windows (+{args.warmup:g} s warm-up), "
          "ON/OFF alternating per level; medians over rounds")
    print()
    print(table)
    print()
    print("items/s: rows answered in the window / window; p50/p99: per-request latency (requests wholly inside the "
          "window); srv batch: rows per model execution (Triton statistics); client and server share the machine.")
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    document = {"environment": env, "args": arguments, "summary": rows,
                "measurements": [asdict(m) for m in results], "markdown": table}
    if args.markdown:
        args.markdown.write_text(table + "\n")
        print(f"table: {args.markdown}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
        print(f"results: {args.json}")
    return document


# --- main ----------------------------------------------------------------------------------------

def _int_list(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="embedding",
                        help="comma-separated models to measure (default embedding; heads work too, e.g. sentiment)")
    parser.add_argument("--concurrency", type=_int_list, default=None,
                        help="client concurrency levels for one-row requests (default 1,2,4,8,16,32)")
    parser.add_argument("--batch", type=int, default=32, help="rows per request of the batched rows (default 32)")
    parser.add_argument("--batch-concurrency", type=_int_list, default=None,
                        help="concurrency levels of the batched rows (default 1)")
    parser.add_argument("--rounds", type=int, default=None, help="ON/OFF rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="measured window per run (default 3)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="unmeasured seconds before each window (default 0.5)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request deadline in seconds (default 30)")
    parser.add_argument("--kind", choices=("cpu", "gpu"), default=os.environ.get("SLUICE_TRITON_INSTANCE_KIND", "cpu"),
                        help="instance kind both servers use (default $SLUICE_TRITON_INSTANCE_KIND or cpu)")
    parser.add_argument("--repository", type=Path,
                        default=Path(os.environ.get("SLUICE_TRITON_REPOSITORY", DEFAULT_REPOSITORY)),
                        help="assembled repository to snapshot (default $SLUICE_TRITON_REPOSITORY or "
                             ".cache/triton/repository)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 1.5 s windows, concurrency 1,4,16 (explicit options still win)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    quick = {"rounds": 1, "seconds": 1.5, "warmup": 0.3, "concurrency": [1, 4, 16], "batch_concurrency": [1]}
    full = {"rounds": 3, "seconds": 3.0, "warmup": 0.5, "concurrency": [1, 2, 4, 8, 16, 32], "batch_concurrency": [1]}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.rounds < 1 or args.seconds <= 0 or args.warmup < 0 or args.batch < 1 or not args.models:
        parser.error("--rounds, --seconds, --batch must be positive, --warmup >= 0, --models non-empty")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from services.runtime.model_contracts import load_model_contracts

    servers: dict[str, Server] = {}
    try:
        contracts = load_model_contracts()
        unknown = [m for m in args.models if m not in contracts]
        if unknown:
            raise BenchError(f"no contract for {unknown} in contracts/models (have {sorted(contracts)})")
        snapshot = snapshot_repository(args.repository, BENCH_DIR / "triton-repository")
        ports = iter(sorted({free_port() for _ in range(12)}))
        for label in ("on", "off"):
            servers[label] = Server(label, next(ports), next(ports), next(ports), snapshot,
                                    BENCH_DIR / f"triton-{label}", args.kind)
        configs: dict[str, Any] = {}
        for label, server in servers.items():
            seconds = server.start()
            print(f"# {label} server ready in {seconds:.1f} s (http :{server.http_port}, grpc :{server.grpc_port}, "
                  f"kind {args.kind})", flush=True)
        for model in args.models:
            on = servers["on"].http("GET", f"/v2/models/{model}/config")
            if "dynamic_batching" not in on:
                raise BenchError(f"{model}: the assembled config has no dynamic_batching, so ON would equal OFF")
            off = disable_dynamic_batching(servers["off"], model)
            configs[model] = {"on": on, "off": off, "on_kinds": instance_kinds(on), "off_kinds": instance_kinds(off)}
            print(f"# {model}: OFF server reloaded without dynamic_batching (instances {instance_kinds(off)})",
                  flush=True)
        env = environment(args, servers, configs)
        results = asyncio.run(run_bench(args, servers, contracts))
        env["loadavg_end"] = os.getloadavg()
        report(env, args, results)
        return 0
    except BenchError as exc:
        print(f"triton_bench: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("triton_bench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"triton_bench: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
