"""The one-command demo: Kafka + Triton + every service + sample traffic, a live view, an exact accounting.

    make demo            # start what is not running, stream, verify, stop what it started
    make up / make down  # just start / stop the local stack in the background

Works on a fresh machine (`make demo` runs setup first) and when the stack is already running
(then it leaves it running). Exit status 0 only if every event is accounted for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from schemas.dead_letter.v1 import DeadLetterV1  # noqa: E402
from schemas.prediction.v1 import PredictionV1  # noqa: E402
from schemas.validated_turn.v1 import ValidatedTurnV1  # noqa: E402
from services.runtime.bootstrap import bootstrap_topics  # noqa: E402
from services.runtime.deadletter import original_key  # noqa: E402
from services.runtime.kafka_tools import collect, end_offsets, produce_records  # noqa: E402
from services.runtime.sample_traffic import PII_CANARIES, malformed_records, valid_records  # noqa: E402
from services.runtime.settings import RuntimeSettings  # noqa: E402
from services.runtime.topics import load_contract  # noqa: E402

KAFKA = REPO / "infra" / "kafka" / "kafka.sh"
TRITON = REPO / "infra" / "triton" / "triton.sh"
RUN_DIR = REPO / ".data" / "services"
# service -> HTTP port (health, readiness, metrics), in pipeline order; grows as services are added.
SERVICES = {"ingestion": 8081, "features": 8082, "inference": 8083}
# stage topic -> the service that consumes it (for the lag column of the live view)
STAGES = (("turns.validated", "ingestion"), ("features", "features"), ("predictions", "inference"))


def say(message: str) -> None:
    print(message, flush=True)


def kafka_running() -> bool:
    return subprocess.run([str(KAFKA), "status"], capture_output=True).returncode == 0


def triton_running() -> bool:
    return subprocess.run([str(TRITON), "status"], capture_output=True).returncode == 0


def http_get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def pid_file(service: str) -> Path:
    return RUN_DIR / f"{service}.pid"


def start_service(service: str, port: int, timeout_s: float = 120) -> subprocess.Popen:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log = open(RUN_DIR / f"{service}.log", "ab")
    env = {**os.environ, f"SLUICE_{service.upper()}_HTTP_PORT": str(port)}
    process = subprocess.Popen([str(REPO / ".venv" / "bin" / "sluice"), "run", service], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pid_file(service).write_text(str(process.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"demo: {service} exited with {process.returncode}; see {RUN_DIR / (service + '.log')}")
        if http_get(port, "/readyz")[0] == 200:
            return process
        time.sleep(0.2)
    raise SystemExit(f"demo: {service} not ready after {timeout_s}s; see {RUN_DIR / (service + '.log')}")


def stop_service(service: str, process: subprocess.Popen | None = None) -> None:
    path = pid_file(service)
    if process is not None:  # our own child: wait() reaps it (kill(pid, 0) would still see a zombie)
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        path.unlink(missing_ok=True)
        say(f"stopped {service}")
        return
    if not path.exists():
        return
    pid = int(path.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    say(f"stopped {service}")


def bring_up() -> tuple[list[Path], dict[str, subprocess.Popen]]:
    """Start Kafka, Triton, topics and services that are not already running; say what was started."""
    started_servers = []
    for name, script, running in (("kafka", KAFKA, kafka_running), ("triton", TRITON, triton_running)):
        if running():
            say(f"{name}: already running")
            continue
        t0 = time.monotonic()
        subprocess.run([str(script), "start"], check=True)
        started_servers.append(script)
        say(f"{name}: started, ready in {time.monotonic() - t0:.1f}s")
    settings = RuntimeSettings()
    contract = load_contract(settings.contract_path)
    namespace = settings.namespace or contract.namespace
    report = asyncio.run(bootstrap_topics(settings.bootstrap_servers, contract, namespace, fix_configs=True))
    created = [t.topic for t in report.topics if t.action == "created"]
    fixed = [t.topic for t in report.topics if t.action == "fixed"]
    say(f"topics: {len(report.topics)} in contract, {len(created)} created, {len(fixed)} configs corrected, "
        f"{len(report.drift)} drifting")
    for line in report.lines():
        if not line.startswith("ok"):
            say(f"  {line}")
    started: dict[str, subprocess.Popen] = {}
    for service, port in SERVICES.items():
        if http_get(port, "/readyz")[0] == 200:
            say(f"{service}: already running on :{port}")
            continue
        t0 = time.monotonic()
        started[service] = start_service(service, port)
        say(f"{service}: started, ready in {time.monotonic() - t0:.1f}s (log: .data/services/{service}.log)")
    return started_servers, started


def metric(port: int, name: str, **labels: str) -> float:
    _, body = http_get(port, "/metrics")
    total = 0.0
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def stream_and_verify(valid_count: int, malformed_count: int, duplicates: int) -> bool:
    settings = RuntimeSettings()
    contract = load_contract(settings.contract_path)
    namespace = settings.namespace or contract.namespace
    bootstrap = settings.bootstrap_servers
    topic = {name: contract.physical(name, namespace)
             for name in ("turns.raw", "turns.validated", "features", "predictions", "deadletter")}
    start = {name: await end_offsets(bootstrap, [physical]) for name, physical in topic.items()}
    run_id = uuid.uuid4().hex[:10]
    valid = valid_records(valid_count, seed=int(run_id[:6], 16), run_id=run_id)
    bad = malformed_records(malformed_count, seed=int(run_id[:6], 16) + 1, run_id=run_id,
                            max_message_bytes=settings.max_message_bytes)
    records = valid + bad + valid[:duplicates]
    say(f"\nproducing {len(records)} records to {topic['turns.raw']} with a plain Kafka client: {len(valid)} valid "
        f"turns (some with seeded personal data), {len(bad)} malformed (every kind), "
        f"{min(duplicates, len(valid))} duplicates (run {run_id})")
    t0 = time.monotonic()
    await produce_records(bootstrap, topic["turns.raw"], [(r.key, r.value, r.headers) for r in records])
    say(f"produced in {time.monotonic() - t0:.1f}s\n")

    async def produced(name: str) -> int:
        return sum((await end_offsets(bootstrap, [topic[name]])).values()) - sum(start[name].values())

    say(f"{'t':>5}  {'validated':>9}  {'features':>8}  {'predictions':>11}  {'dead-lettered':>13}  "
        f"{'duplicates':>10}  {'lag (validate/featurize/infer)':>30}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        counts = [await produced(name) for name in ("turns.validated", "features", "predictions", "deadletter")]
        skipped = metric(SERVICES["ingestion"], "sluice_messages_skipped_total", reason="duplicate")
        lags = [int(metric(SERVICES[service], "sluice_consumer_lag_messages")) for _, service in STAGES]
        say(f"{time.monotonic() - t0:5.1f}  {counts[0]:9d}  {counts[1]:8d}  {counts[2]:11d}  {counts[3]:13d}  "
            f"{int(skipped):10d}  {' / '.join(map(str, lags)):>30}")
        if counts[2] >= len(valid) and counts[3] >= len(bad):
            break
        await asyncio.sleep(1.0)
    elapsed = time.monotonic() - t0

    out = await collect(bootstrap, topic["predictions"], start["predictions"], expect=len(valid), timeout_s=30,
                        settle_s=1.5)
    features = await collect(bootstrap, topic["features"], start["features"], expect=len(valid), timeout_s=30,
                             settle_s=0.5)
    letters = await collect(bootstrap, topic["deadletter"], start["deadletter"], expect=len(bad), timeout_s=30,
                            settle_s=1.5)
    predictions = [PredictionV1.model_validate_json(r.value) for r in out]
    dead = [DeadLetterV1.model_validate_json(r.value) for r in letters]
    ours = [p for p in predictions if p.turn_id.startswith(run_id)]
    unique = {p.event_id for p in ours}
    ok_valid = len(ours) == len(valid) == len(unique) and {p.turn_id for p in ours} == {r.event_id for r in valid}
    # Only this run's dead letters: every sample record is keyed by a conversation id that holds the run id.
    got_reasons = Counter(d.reason_code.value for d in dead
                          if run_id in (original_key(d) or b"").decode(errors="replace"))
    want_reasons = Counter(r.expected.value for r in bad)
    ok_dlq = got_reasons == want_reasons
    downstream = [r.value.lower() for r in out + features if run_id.encode() in r.value]
    leaks = {value: sum(value.encode() in v for v in downstream) for value in PII_CANARIES}
    seeded = sum(any(value.encode() in r.value for value in PII_CANARIES) for r in valid)
    ok_pii = not any(leaks.values())

    say(f"\naccounting (raw -> prediction in {elapsed:.1f}s, {len(valid) / elapsed:.0f} turns/s)")
    say(f"  predictions       {len(ours):5d} / {len(valid)} expected, {len(unique)} unique ids"
        f"  {'OK' if ok_valid else 'MISMATCH'}")
    say(f"  dead letters      {sum(got_reasons.values()):5d} / {len(bad)} expected  {'OK' if ok_dlq else 'MISMATCH'}")
    for reason in sorted(want_reasons):
        say(f"    {reason:20} {got_reasons.get(reason, 0):4d} / {want_reasons[reason]}")
    say(f"  duplicates        {min(duplicates, len(valid))} sent twice, passed once")
    say(f"  personal data     {seeded} turns carried seeded values; found downstream of features: "
        f"{sum(leaks.values())}  {'OK' if ok_pii else 'LEAK'}")
    verdicts = Counter((o.task, o.label) for p in ours for o in p.outputs if o.deployment.value == "champion")
    for task in sorted({t for t, _ in verdicts}):
        mix = ", ".join(f"{label} {n}" for (t, label), n in verdicts.most_common() if t == task)
        say(f"  {task:10} {mix}")
    say("\na few predictions")
    for p in [p for p in ours if p.pii][:2] + [p for p in ours if not p.pii][:2]:
        labels = " ".join(f"{o.task}={o.label}({o.confidence:.2f})" for o in p.outputs
                          if o.deployment.value == "champion")
        say(f"  {p.role.value:8} {p.redacted_text[:70]!r}\n           {labels}")
    say("a few dead letters")
    for letter in dead[:3]:
        say(f"  {letter.reason_code.value:15} {letter.reason[:90]}")
    return ok_valid and ok_dlq and ok_pii


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--malformed", type=int, default=200)
    parser.add_argument("--duplicates", type=int, default=100)
    parser.add_argument("--up", action="store_true", help="only start the stack in the background")
    parser.add_argument("--down", action="store_true", help="only stop background services and Kafka")
    parser.add_argument("--keep-running", action="store_true", help="leave what the demo started running")
    args = parser.parse_args()
    if args.down:
        for service in reversed(SERVICES):
            stop_service(service)
        subprocess.run([str(TRITON), "stop"], check=False)
        subprocess.run([str(KAFKA), "stop"], check=False)
        return 0
    t0 = time.monotonic()
    started_servers, started = bring_up()
    say(f"stack up in {time.monotonic() - t0:.1f}s")
    if args.up:
        return 0
    try:
        ok = asyncio.run(stream_and_verify(args.valid, args.malformed, args.duplicates))
    finally:
        if not args.keep_running:
            for service, process in reversed(started.items()):
                stop_service(service, process)
            for script in reversed(started_servers):
                subprocess.run([str(script), "stop"], check=False)
    say(f"\ndemo {'PASSED' if ok else 'FAILED'} in {time.monotonic() - t0:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
