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
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiokafka import AIOKafkaConsumer  # noqa: E402

from schemas.dead_letter.v1 import DeadLetterV1  # noqa: E402
from schemas.enriched_turn.v1 import EnrichedTurnV1  # noqa: E402
from schemas.feedback.v1 import FeedbackV1  # noqa: E402
from schemas.online_metrics.v1 import OnlineMetricsV1  # noqa: E402
from schemas.review_request.v1 import ReviewRequestV1  # noqa: E402
from services.runtime.accounting import account  # noqa: E402
from services.runtime.codec import encode  # noqa: E402
from services.runtime.bootstrap import bootstrap_topics  # noqa: E402
from services.runtime.deadletter import original_key  # noqa: E402
from services.runtime.conversations import SCENARIOS, generate_turns  # noqa: E402
from services.runtime.kafka_tools import collect, end_offsets, group_lag, produce_records  # noqa: E402
from services.runtime.sample_traffic import malformed_records  # noqa: E402
from services.runtime.settings import RuntimeSettings  # noqa: E402
from services.runtime.topics import load_contract  # noqa: E402

KAFKA = REPO / "infra" / "kafka" / "kafka.sh"
TRITON = REPO / "infra" / "triton" / "triton.sh"
RUN_DIR = REPO / ".data" / "services"
# service -> HTTP port (health, readiness, metrics), in pipeline order; grows as services are added.
SERVICES = {"ingestion": 8081, "features": 8082, "inference": 8083, "guardrails": 8084, "feedback": 8085,
            "drift": 8086}


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


class LiveView:
    """Consumes the output topics while the demo runs: verdict counts, the latest enriched turns, per-stage
    throughput (from topic end offsets) and lag (from the services' committed offsets)."""

    STAGE_OUTPUTS = {"ingestion": "turns.validated", "features": "features", "inference": "predictions",
                     "guardrails": "turns.enriched", "drift": "drift.observations"}

    def __init__(self, bootstrap: str, topic: dict[str, str], namespace: str, run_id: str, interactive: bool):
        self.bootstrap, self.topic, self.namespace, self.run_id = bootstrap, topic, namespace, run_id
        self.interactive = interactive
        self.enriched: dict[str, EnrichedTurnV1] = {}
        self.reviews: dict[str, ReviewRequestV1] = {}
        self.enriched_records: list = []
        self.review_records: list = []
        self.latest: list[EnrichedTurnV1] = []
        self.previous: dict[str, int] = {}
        self.drawn_lines = 0

    async def follow(self, start: dict, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed")
        await consumer.start()
        try:
            partitions = list(start["turns.enriched"]) + list(start["review.requests"])
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, (start["turns.enriched"] | start["review.requests"])[tp])
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    for record in records:
                        if self.run_id.encode() not in record.value:
                            continue
                        if tp.topic == self.topic["turns.enriched"]:
                            event = EnrichedTurnV1.model_validate_json(record.value)
                            self.enriched_records.append(record)
                            self.enriched.setdefault(event.turn_id, event)
                            self.latest = [*self.latest[-3:], event]
                        else:
                            event = ReviewRequestV1.model_validate_json(record.value)
                            self.review_records.append(record)
                            self.reviews.setdefault(event.turn_id, event)
        finally:
            await consumer.stop()

    def settled(self, turn_ids: set[str]) -> set[str]:
        """Turns whose outcome is complete: enriched pass/redact, blocked, or flagged on both topics."""
        done = set()
        for turn_id in turn_ids:
            enriched, review = self.enriched.get(turn_id), self.reviews.get(turn_id)
            if (enriched and enriched.verdict.value in ("pass", "redact")) or \
                    (review and review.verdict.value == "block") or (enriched and review):
                done.add(turn_id)
        return done

    async def draw(self, elapsed: float, start: dict, dead: int, done: int, total: int) -> None:
        ends = {name: sum((await end_offsets(self.bootstrap, [self.topic[name]])).values()) - sum(start[name].values())
                for name in self.STAGE_OUTPUTS.values()}
        groups = {service: f"{self.namespace}.{service}" for service in self.STAGE_OUTPUTS}
        lag = await group_lag(self.bootstrap, groups.values())
        lines = [f"t={elapsed:5.1f}s  turns accounted {done}/{total}  dead letters {dead}",
                 f"  {'stage':11} {'out':>6} {'per s':>7} {'lag':>6}"]
        for service, output in self.STAGE_OUTPUTS.items():
            rate = ends[output] - self.previous.get(output, 0)
            self.previous[output] = ends[output]
            backlog = sum(end - committed for committed, end in lag.get(groups[service], {}).values())
            lines.append(f"  {service:11} {ends[output]:6d} {rate:7d} {backlog:6d}")
        verdicts = Counter(e.verdict.value for e in self.enriched.values())
        verdicts["block"] = sum(r.verdict.value == "block" for r in self.reviews.values())
        lines.append("  verdicts    " + "  ".join(f"{v} {verdicts.get(v, 0)}" for v in ("pass", "redact", "flag", "block"))
                     + f"   review requests {len(self.reviews)}")
        lines.append("  latest enriched turns:")
        for event in self.latest[-3:]:
            labels = " ".join(f"{o.task}={o.label}" for o in event.predictions)
            lines.append(f"    [{event.verdict.value:6}] {event.role.value:8} {event.redacted_text[:58]!r:62} {labels}")
        lines += [""] * (4 - min(3, len(self.latest)) - 1)
        if self.interactive:
            if self.drawn_lines:
                sys.stdout.write(f"\x1b[{self.drawn_lines}F\x1b[J")
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            self.drawn_lines = len(lines)
        else:
            say(lines[0] + " | " + " | ".join(line.strip() for line in lines[2:6]) + " | " + lines[6].strip())


async def stream_and_verify(turn_count: int, malformed_count: int, duplicates: int, seed: int | None,
                            scenario: str, timeout_s: float) -> bool:
    settings = RuntimeSettings()
    contract = load_contract(settings.contract_path)
    namespace = settings.namespace or contract.namespace
    bootstrap = settings.bootstrap_servers
    topic = {name: contract.physical(name, namespace)
             for name in ("turns.raw", "turns.validated", "features", "predictions", "turns.enriched",
                          "review.requests", "deadletter", "drift.observations", "feedback", "examples.labeled",
                          "metrics.online", "drift.alerts")}
    start = {name: await end_offsets(bootstrap, [physical]) for name, physical in topic.items()}
    run_id = uuid.uuid4().hex[:10]
    seed = int(run_id[:6], 16) if seed is None else seed
    # More personal data, abuse and injection attempts than real traffic, so that every guardrail shows.
    turns = generate_turns(turn_count, seed=seed, run_id=run_id, scenario=scenario, pii_share=0.25,
                           toxic_share=0.06, injection_share=0.15)
    valid = [t.record for t in turns]
    bad = malformed_records(malformed_count, seed=seed + 1, run_id=run_id, max_message_bytes=settings.max_message_bytes)
    records = valid + bad + valid[:duplicates]
    truth = Counter()
    for t in turns:
        truth["personal data"] += bool(t.truth.pii_values)
        truth["toxic"] += t.truth.toxic
        truth["injection attempts"] += t.truth.injection
    say(f"\nproducing {len(records)} records to {topic['turns.raw']} with a plain Kafka client (run {run_id}): "
        f"{len(valid)} turns of generated conversations ({scenario}, seed {seed}; "
        + ", ".join(f"{k} {v}" for k, v in truth.items())
        + f"), {len(bad)} malformed (every kind), {min(duplicates, len(valid))} duplicates")
    t0 = time.monotonic()
    await produce_records(bootstrap, topic["turns.raw"], [(r.key, r.value, r.headers) for r in records])
    say(f"produced in {time.monotonic() - t0:.1f}s\n")

    view = LiveView(bootstrap, topic, namespace, run_id, interactive=sys.stdout.isatty())
    stop = asyncio.Event()
    follower = asyncio.create_task(view.follow(start, stop))
    turn_ids = {r.event_id for r in valid}

    async def dead_count() -> int:
        return sum((await end_offsets(bootstrap, [topic["deadletter"]])).values()) - sum(start["deadletter"].values())

    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if follower.done():
                follower.result()
            done = len(view.settled(turn_ids))
            dead = await dead_count()
            await view.draw(time.monotonic() - t0, start, dead, done, len(valid))
            if done >= len(valid) and dead >= len(bad):
                break
        elapsed = time.monotonic() - t0
        await asyncio.sleep(2.0)  # late duplicates, if any, would show in the accounting
    finally:
        stop.set()
        await follower

    result = account(turn_ids, [EnrichedTurnV1.model_validate_json(r.value) for r in view.enriched_records],
                     [ReviewRequestV1.model_validate_json(r.value) for r in view.review_records])
    letters = await collect(bootstrap, topic["deadletter"], start["deadletter"], expect=len(bad), timeout_s=30,
                            settle_s=1.0)
    dead = [DeadLetterV1.model_validate_json(r.value) for r in letters]
    got_reasons = Counter(d.reason_code.value for d in dead
                          if run_id in (original_key(d) or b"").decode(errors="replace"))
    want_reasons = Counter(r.expected.value for r in bad)
    ok_dlq = got_reasons == want_reasons

    canaries = {value.lower().encode() for t in turns for value in t.truth.pii_values if len(value) >= 6}
    downstream = [r for name in ("features", "predictions") for r in await collect(
        bootstrap, topic[name], start[name], expect=len(valid), timeout_s=30, settle_s=0.5)]
    downstream += view.enriched_records + view.review_records
    leaks = Counter(value for r in downstream if run_id.encode() in r.value
                    for value in canaries if value in r.value.lower())
    ok_pii = not leaks
    blocked = {turn_id for turn_id, outcome in result.outcomes.items() if outcome == "blocked"}
    ok_blocked = not blocked & {e.turn_id for e in view.enriched.values()}
    injections = {t.record.event_id for t in turns if t.truth.injection}

    say(f"\naccounting (raw -> enriched / review in {elapsed:.1f}s, {len(valid) / elapsed:.0f} turns/s)")
    say(f"  every turn exactly once  {result.summary()}  {'OK' if result.ok else 'MISMATCH'}")
    for line in (result.lost[:3] + result.problems[:3]):
        say(f"    {line}")
    say(f"  dead letters      {sum(got_reasons.values()):5d} / {len(bad)} expected  {'OK' if ok_dlq else 'MISMATCH'}")
    say(f"  duplicates        {min(duplicates, len(valid))} sent twice, passed once")
    say(f"  personal data     {len(canaries)} seeded values; found downstream of features: {sum(leaks.values())}  "
        f"{'OK' if ok_pii else 'LEAK'}")
    say(f"  blocked turns on the enriched topic: {len(blocked & set(view.enriched))}  {'OK' if ok_blocked else 'LEAK'}")
    say(f"  injection attempts blocked: {len(blocked & injections)}/{len(injections)}")
    say("  verdicts   " + ", ".join(f"{k} {v}" for k, v in result.verdicts.most_common()))
    fired = {e.turn_id: {r.code for r in e.reasons} for e in view.enriched.values()}
    for r in view.reviews.values():
        fired.setdefault(r.turn_id, set()).update(reason.code for reason in r.reasons)
    for name, is_true, codes in (
            ("toxicity", lambda t: t.truth.toxic, {"toxicity_above_flag_threshold", "toxicity_above_block_threshold"}),
            ("injection", lambda t: t.truth.injection, {"prompt_injection"})):
        hits = [(is_true(t), bool(fired.get(t.record.event_id, set()) & codes)) for t in turns]
        tp = sum(a and b for a, b in hits)
        say(f"  {name} check vs the generator's truth: caught {tp}/{sum(a for a, _ in hits)}, "
            f"false alarms {sum(b and not a for a, b in hits)}/{sum(not a for a, _ in hits)}")
    say("  reasons    " + ", ".join(f"{k} {v}" for k, v in result.reasons.most_common(8)))
    labels = Counter((o.task, o.label) for e in view.enriched.values() for o in e.predictions)
    for task in sorted({t for t, _ in labels}):
        say(f"  {task:10} " + ", ".join(f"{label} {n}" for (t, label), n in labels.most_common() if t == task)[:110])
    say("a few enriched turns")
    sample = [e for e in view.enriched.values() if e.verdict.value == "redact"][:2] + \
        [e for e in view.enriched.values() if e.verdict.value == "pass"][:2]
    for e in sample:
        labels_line = " ".join(f"{o.task}={o.label}({o.confidence:.2f})" for o in e.predictions)
        say(f"  [{e.verdict.value}] {e.role.value:8} {e.redacted_text[:80]!r}\n           {labels_line}")
    say("a few review requests")
    for r in list(view.reviews.values())[:3]:
        say(f"  [{r.verdict.value}/{r.priority}] {r.redacted_text[:70]!r} <- "
            + ", ".join(reason.code for reason in r.reasons))
    await feedback_loop(bootstrap, topic, start, turns, view)
    return result.ok and ok_dlq and ok_pii and ok_blocked


async def feedback_loop(bootstrap: str, topic: dict[str, str], start: dict, turns, view: "LiveView") -> None:
    """Reviewers label the intent of the turns sent for review (the generator's truth plays the reviewer);
    the feedback service joins each label to its prediction and scores champion and shadow challenger."""
    truth = {t.record.event_id: t.truth.intent for t in turns}
    reviewed = [r for r in view.reviews.values() if r.turn_id in truth][:150]
    if not reviewed:
        return
    spec = load_contract(RuntimeSettings().contract_path).get("feedback")
    now = datetime.now(timezone.utc)
    labels = [encode(FeedbackV1(event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-label:{r.prediction_event_id}")),
                                occurred_at=now, prediction_event_id=r.prediction_event_id, turn_id=r.turn_id,
                                label_source="human_review", label_name="intent", label_value=truth[r.turn_id],
                                review_decision="approve"), spec, "demo", now) for r in reviewed]
    await produce_records(bootstrap, topic["feedback"], [(e.key, e.value, e.headers) for e in labels])
    examples = await collect(bootstrap, topic["examples.labeled"], start["examples.labeled"],
                             expect=len(labels), timeout_s=60, settle_s=2.0)
    metrics = [OnlineMetricsV1.model_validate_json(r.value) for r in await collect(
        bootstrap, topic["metrics.online"], start["metrics.online"], expect=1, timeout_s=30, settle_s=2.0)]
    latest: dict[tuple, OnlineMetricsV1] = {}
    for m in metrics:
        if m.task == "intent":
            latest[(m.model_name, m.model_version, m.deployment.value)] = m
    say(f"\nfeedback: {len(labels)} reviewer labels for intent -> {len(examples)} labeled examples "
        f"(champion and shadow challenger each)")
    for (model, version, deployment), m in sorted(latest.items()):
        say(f"  {model} v{version} ({deployment}): accuracy {m.accuracy if m.accuracy is None else round(m.accuracy, 3)}"
            f" on {m.labeled} labeled of {m.predictions} predictions in its bucket (on reviewed turns, the hard ones)")
    alerts = await collect(bootstrap, topic["drift.alerts"], start["drift.alerts"], expect=0, timeout_s=3,
                           settle_s=1.0)
    say(f"drift: {len(alerts)} alert(s) during the run (detectors warm up on the first 1,000 turns)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=1000, help="generated conversation turns to stream")
    parser.add_argument("--scenario", default="stationary", choices=SCENARIOS, help="generator scenario")
    parser.add_argument("--seed", type=int, default=None, help="generator seed (random by default)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every turn's outcome")
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
        ok = asyncio.run(stream_and_verify(args.turns, args.malformed, args.duplicates, args.seed, args.scenario,
                                           args.timeout))
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
