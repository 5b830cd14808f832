"""The `sluice` command line. Errors are one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from aiokafka.errors import KafkaConnectionError, KafkaError

SERVICES = ("ingestion", "features", "inference", "guardrails", "feedback", "drift")
REPLAYED_FROM_HEADER = "sluice-replayed-from"


class CliError(Exception):
    """An expected failure, reported as one line."""


def _runtime():
    from services.runtime.settings import RuntimeSettings
    from services.runtime.topics import load_contract

    settings = RuntimeSettings()
    contract = load_contract(settings.contract_path)
    return settings, contract, settings.namespace or contract.namespace


def _security(settings) -> dict:
    """aiokafka client options for the configured security protocol (empty for PLAINTEXT)."""
    from services.runtime.kafka_security import KafkaSecurityError, aiokafka_security

    try:
        return aiokafka_security(settings)
    except KafkaSecurityError as exc:
        raise CliError(str(exc)) from None


def _spec(contract, name: str):
    """The contract's topic by logical name (a physical name with the namespace is accepted too)."""
    names = [t.name for t in contract.topics]
    if name not in names:
        stripped = name.split(".", 1)[1] if "." in name else ""
        if stripped not in names:
            raise CliError(f"unknown topic {name!r}; topics: {', '.join(names)}")
        name = stripped
    return contract.get(name)


def _existing(coroutine):
    """Run a Kafka helper; a missing topic becomes one line with the fix."""
    try:
        return asyncio.run(coroutine)
    except LookupError as exc:
        if isinstance(exc, KeyError):
            raise
        raise CliError(f"{exc} (create topics with `sluice topics bootstrap`)" if "does not exist" in str(exc)
                       else str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    if args.service not in SERVICES:
        raise CliError(f"unknown service {args.service!r}; services: {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{args.service}.app")
    sys.argv = [f"sluice-{args.service}", "worker"]
    module.main()
    return 0


# --- topics ---------------------------------------------------------------------------------------------


def cmd_topics(args: argparse.Namespace) -> int:
    from services.runtime.bootstrap import bootstrap_topics

    settings, contract, namespace = _runtime()
    if args.action == "list":
        for topic in contract.topics:
            schema = topic.schema_id or "(internal)"
            print(f"{contract.physical(topic.name, namespace):40} {schema:22} key={topic.key:18} "
                  f"partitions={topic.partitions}")
        return 0
    if args.action == "lag":
        return _topics_lag(args, settings, namespace)
    report = asyncio.run(bootstrap_topics(
        settings.bootstrap_servers, contract, namespace,
        create=args.action == "bootstrap", fix_configs=args.fix_configs, replication_factor=args.replication_factor,
        security=_security(settings),
    ))
    for line in report.lines():
        print(line)
    if report.drift:
        print(f"topics: {len(report.drift)} topic(s) drift from contracts/topics.yaml", file=sys.stderr)
        return 1
    return 0


def lag_lines(lag: dict, verbose: bool = False) -> list[str]:
    """Lines for `topics lag`: per group, per topic committed/end/lag summed, per partition with verbose."""
    lines = []
    for group, partitions in lag.items():
        total = sum(end - committed for committed, end in partitions.values())
        lines.append(f"group {group}  lag {total}")
        by_topic: dict[str, list] = {}
        for tp, offsets in partitions.items():
            by_topic.setdefault(tp.topic, []).append((tp.partition, *offsets))
        for topic, rows in sorted(by_topic.items()):
            committed, end = sum(r[1] for r in rows), sum(r[2] for r in rows)
            lines.append(f"  {topic:40} committed {committed:>9}  end {end:>9}  lag {end - committed:>7}")
            if verbose:
                for partition, committed, end in sorted(rows):
                    lines.append(f"    partition {partition:<3} committed {committed:>9}  end {end:>9}  "
                                 f"lag {end - committed:>7}")
        if not partitions:
            lines.append("  (no committed offsets)")
    return lines


def _topics_lag(args: argparse.Namespace, settings, namespace: str) -> int:
    from services.runtime.kafka_tools import consumer_groups, group_lag

    groups = asyncio.run(consumer_groups(settings.bootstrap_servers, security=_security(settings)))
    if args.group:
        wanted = args.group if args.group in groups else f"{namespace}.{args.group}"
        if wanted not in groups:
            raise CliError(f"no consumer group {args.group!r} (groups: {', '.join(groups) or 'none'})")
        selected = [wanted]
    else:
        selected = [g for g in groups if g.startswith(f"{namespace}.")]
        if not selected:
            print(f"no consumer groups in namespace {namespace!r} (services not started yet?)")
            return 0
    lag = asyncio.run(group_lag(settings.bootstrap_servers, selected, security=_security(settings)))
    for line in lag_lines(lag, args.verbose):
        print(line)
    return 0


# --- schemas --------------------------------------------------------------------------------------------


def _version(text: str) -> int:
    digits = text[1:] if text[:1] in "vV" else text
    if not digits.isdigit():
        raise CliError(f"bad version {text!r}; expected e.g. v2")
    return int(digits)


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas import REGISTRY
    from schemas.contracts import check, json_schema
    from services.runtime.topics import parse_schema_id

    if args.action == "list":
        for name in REGISTRY.names():
            versions = ", ".join(f"v{v}" for v in REGISTRY.versions(name))
            print(f"{name:18} {versions}")
        return 0
    if args.action == "show":
        if not args.schema:
            raise CliError("schemas show needs a schema, e.g. raw_turn/v2")
        name, version = parse_schema_id(args.schema) if "/v" in args.schema else (
            args.schema, REGISTRY.versions(args.schema)[-1] if REGISTRY.versions(args.schema) else 0)
        print(json.dumps(json_schema(name, version), indent=2))
        return 0
    if args.action == "compat":
        return _schemas_compat(args)
    problems = check()
    for problem in problems:
        print(problem)
    print("contracts: OK" if not problems else f"contracts: {len(problems)} problem(s)")
    return 1 if problems else 0


def _schemas_compat(args: argparse.Namespace) -> int:
    """Backward compatibility of schema NAME from one version to another (default: previous -> latest).
    From a version to itself: the checked-in contract (contracts/schemas) against the code."""
    from schemas import REGISTRY
    from schemas.compat import breaking_changes
    from schemas.contracts import REPO_ROOT, json_schema, schema_path

    if not args.schema:
        raise CliError("schemas compat needs a schema name, e.g. raw_turn")
    name = args.schema.split("/v")[0]
    versions = REGISTRY.versions(name)
    if not versions:
        raise CliError(f"unknown schema {name!r}; schemas: {', '.join(REGISTRY.names())}")
    to = _version(args.to_version) if args.to_version else versions[-1]
    default_from = max([v for v in versions if v < to], default=to)
    source = _version(args.from_version) if args.from_version else default_from
    for version in (source, to):
        if version not in versions:
            raise CliError(f"{name} has no v{version} (versions: {', '.join(f'v{v}' for v in versions)})")
    if source > to:
        raise CliError(f"--from v{source} is newer than --to v{to}")
    new = json_schema(name, to)
    if source == to:
        path = schema_path(name, to)
        if not path.exists():
            raise CliError(f"{path.relative_to(REPO_ROOT)} is missing; run `make contracts`")
        old, what = json.loads(path.read_text(encoding="utf-8")), f"{name}/v{to} (checked-in contract -> code)"
    else:
        old, what = json_schema(name, source), f"{name}/v{source} -> v{to}"
    problems = breaking_changes(old, new)
    if source != to:  # every major version has its own schema_version constant
        problems = [p for p in problems if not p.startswith("schema_version:")]
    if not problems:
        print(f"{what}: compatible")
        return 0
    print(f"{what}: INCOMPATIBLE, {len(problems)} breaking change(s)")
    for problem in problems:
        print(f"  {problem}")
    if source != to:
        chain = all((name, v) in REGISTRY.upcasters for v in range(source, to))
        print(f"  upcaster v{source} -> v{to}: " + ("registered (consumers of v" + f"{to} can accept v{source}"
              " through it)" if chain else "MISSING (v" + f"{source} messages cannot be read as v{to})"))
    return 1


# --- produce --------------------------------------------------------------------------------------------

RawTriple = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def read_jsonl_file(path: str) -> list[RawTriple]:
    """One record per non-blank line, bytes exactly as written (bad lines too, so they are dead-lettered);
    the key is the line's conversation_id when it is a JSON object that has a string one, else null."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    records: list[RawTriple] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        key = None
        try:
            document = json.loads(line)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict) and isinstance(document.get("conversation_id"), str):
            key = document["conversation_id"].encode("utf-8")
        records.append((key, line, []))
    if not records:
        raise CliError(f"{path} has no records (one JSON turn per line)")
    return records


def progress_line(done: int, total: int, elapsed_s: float, width: int = 30) -> str:
    """`[#########.....]  512/1000  51%  98.3/s`"""
    fraction = done / total if total else 1.0
    filled = int(round(width * fraction))
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} {fraction:4.0%} {rate:7.1f}/s"


class Progress:
    """A progress bar on `stream` when it is a terminal (redrawn at most 10 times a second); else silent."""

    def __init__(self, total: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.clock = total, clock
        self.start = clock()
        self.last_draw = float("-inf")

    def update(self, done: int) -> None:
        now = self.clock()
        if self.enabled and (now - self.last_draw >= 0.1 or done >= self.total):
            self.last_draw = now
            self.stream.write("\r" + progress_line(done, self.total, now - self.start))
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def cmd_produce(args: argparse.Namespace) -> int:
    from services.runtime.kafka_tools import produce_paced

    settings, contract, namespace = _runtime()
    spec = _spec(contract, args.topic)
    topic = contract.physical(spec.name, namespace)
    if args.rate < 0:
        raise CliError("--rate must be >= 0 (0 = as fast as possible)")
    if args.file:
        records, what = read_jsonl_file(args.file), f"from {args.file}"
    elif args.generator:
        records, what = _generated(args)
    else:
        records, what = _samples(args, settings)
    progress = Progress(len(records))
    started = time.monotonic()
    try:
        sent = _existing(produce_paced(settings.bootstrap_servers, topic, records, rate=args.rate,
                                       on_sent=progress.update, security=_security(settings)))
    finally:
        progress.close()
    elapsed = time.monotonic() - started
    print(f"produced {sent} records to {topic} in {elapsed:.1f}s ({sent / elapsed if elapsed else 0:.0f}/s): {what}")
    return 0


def _generated(args: argparse.Namespace) -> tuple[list[RawTriple], str]:
    try:
        conversations = importlib.import_module("services.runtime.conversations")
    except ImportError as exc:
        raise CliError(f"the conversation generator is not available ({exc})") from None
    scenarios = tuple(getattr(conversations, "SCENARIOS", ()))
    if scenarios and args.scenario not in scenarios:
        raise CliError(f"unknown scenario {args.scenario!r}; scenarios: {', '.join(scenarios)}")
    if args.count < 1:
        raise CliError("--count must be at least 1")
    turns = conversations.generate_turns(args.count, seed=args.seed, scenario=args.scenario, run_id=args.run_id,
                                         drift_after=args.drift_after)
    records = [(t.record.key, t.record.value, list(t.record.headers)) for t in turns]
    return records, f"{len(records)} generated turns (scenario {args.scenario}, seed {args.seed})"


def _samples(args: argparse.Namespace, settings) -> tuple[list[RawTriple], str]:
    from services.runtime.sample_traffic import malformed_records, valid_records

    valid = valid_records(args.valid, seed=args.seed, run_id=args.run_id)
    bad = malformed_records(args.malformed, seed=args.seed + 1, run_id=args.run_id,
                            max_message_bytes=settings.max_message_bytes)
    records = valid + bad + valid[: args.duplicates]
    kinds = Counter(r.expected.value for r in bad if r.expected)
    mix = f" ({', '.join(f'{k}={v}' for k, v in sorted(kinds.items()))})" if kinds else ""
    what = f"{len(valid)} valid, {len(bad)} malformed{mix}, {min(args.duplicates, len(valid))} duplicates"
    return [(r.key, r.value, r.headers) for r in records], what


# --- tail -----------------------------------------------------------------------------------------------


def _clip(text: Any, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return json.dumps(text if len(text) <= width else text[: width - 1] + "…", ensure_ascii=False)


def _outputs(outputs: list, champion_only: bool = True) -> str:
    shown = [o for o in outputs if not champion_only or str(getattr(o, "deployment", "champion")) == "champion"]
    text = " ".join(f"{o.task}={o.label}({o.confidence:.2f})" for o in shown)
    shadow = len(outputs) - len(shown)
    return text + (f" +{shadow} shadow" if shadow else "")


def _turn(e) -> str:
    return f"{e.conversation_id}#{e.turn_index} {e.role}"


_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "raw_turn": lambda e: (f"{_turn(e)} {e.channel}" if hasattr(e, "role")  # v1 (never upcast): speaker, medium
                           else f"{e.conversation_id}#{e.turn_index} {e.speaker} {e.medium}") + f" {_clip(e.text)}",
    "validated_turn": lambda e: f"{_turn(e)} {e.channel} {e.language} {_clip(e.text)}",
    "features": lambda e: f"{_turn(e)} pii=[{','.join(sorted({p.pii_type for p in e.pii}))}] {_clip(e.redacted_text)}",
    "prediction": lambda e: f"{_turn(e)} {_outputs(e.outputs)} {_clip(e.redacted_text, 40)}",
    "enriched_turn": lambda e: f"{_turn(e)} verdict={e.verdict} {_outputs(e.predictions)}"
    + (f" reasons={','.join(r.code for r in e.reasons)}" if e.reasons else "") + f" {_clip(e.redacted_text, 40)}",
    "review_request": lambda e: f"{e.conversation_id} verdict={e.verdict} priority={e.priority} "
    f"reasons={','.join(r.code for r in e.reasons)} {_clip(e.redacted_text, 40)}",
    "feedback": lambda e: f"prediction={e.prediction_event_id} {e.label_source} {e.label_name}={e.label_value}"
    f" rating={e.rating} review={e.review_decision}",
    "labeled_example": lambda e: f"{e.model_name}:{e.model_version} {e.task} predicted={e.predicted_label} "
    f"true={e.true_label} ({e.confidence:.2f})",
    "online_metrics": lambda e: f"{e.model_name}:{e.model_version} {e.deployment} {e.task} accuracy={e.accuracy} "
    f"labeled={e.labeled}/{e.predictions}",
    "drift_alert": lambda e: f"{e.signal} {e.detector} statistic={e.statistic:.4g} threshold={e.threshold:.4g} "
    f"severity={e.severity}",
    "retrain_request": lambda e: f"{e.model_name}:{e.model_version} {e.task} {_clip(e.reason)}",
    "drift_observation": lambda e: f"{e.source_topic}:{e.source_event_id} "
    + " ".join(f"{k}={v:.3g}" for k, v in sorted(e.numeric.items())[:4])
    + "".join(f" {k}={v}" for k, v in sorted(e.categorical.items())[:3]),
    "feedback_join": lambda e: f"prediction={e.prediction_event_id} {e.kind} "
    + (f"{e.label.label_source} {e.label.label_name}={e.label.label_value} v{e.label.label_version}" if e.label
       else f"outputs={len(e.prediction.outputs) if e.prediction else 0}"),
    "feedback_metric_update": lambda e: f"prediction={e.prediction_event_id} from {e.source_partition}@"
    f"{e.source_offset} deltas={len(e.deltas)}",
    "dead_letter": lambda e: f"{e.reason_code} {e.service} {e.source_topic}[{e.source_partition}]@{e.source_offset} "
    f"{_clip(e.reason, 80)}",
}


def _when(timestamp_ms: int | None) -> str:
    if timestamp_ms is None or timestamp_ms < 0:
        return "-"
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _key(key: bytes | None) -> str:
    return "-" if key is None else key.decode("utf-8", "replace")


def summary_line(record, event, source_schema: str | None = None) -> str:
    """One compact line: time, partition:offset, key, schema (and what it was upcast from), salient fields."""
    schema = event.schema_id()
    if source_schema and source_schema != schema:
        schema += f"(from {source_schema})"
    try:
        detail = _SUMMARIES[event.schema_key()[0]](event)
    except (KeyError, AttributeError, TypeError, ValueError):
        detail = " ".join(f"{k}={v}" for k, v in event.model_dump(mode="json").items()
                          if isinstance(v, str | int | float) and k not in {"schema_name", "schema_version"})[:160]
    return f"{_when(record.timestamp)} {record.partition}:{record.offset} {_key(record.key)} {schema} {detail}"


def undecodable_line(record, error: Exception) -> str:
    return f"{_when(record.timestamp)} {record.partition}:{record.offset} {_key(record.key)} UNDECODABLE {error}"


def preview(value: bytes | None, width: int = 60) -> str:
    """A short, printable preview of original bytes."""
    if value is None:
        return "null"
    text = value[:width * 4].decode("utf-8", "backslashreplace")
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return json.dumps(text if len(text) <= width else text[: width - 1] + "…", ensure_ascii=False) + \
        (f" ({len(value)} bytes)" if len(value) > width else "")


def cmd_tail(args: argparse.Namespace) -> int:
    from services.runtime.kafka_tools import read_topic

    settings, contract, namespace = _runtime()
    spec = _spec(contract, args.topic)
    topic = contract.physical(spec.name, namespace)
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1")
    err = sys.stderr if args.json else sys.stdout

    async def run() -> int:
        shown = 0
        stream = read_topic(settings.bootstrap_servers, topic, from_beginning=args.from_beginning,
                            last=args.last, follow=args.follow, security=_security(settings))
        async with contextlib.aclosing(stream):
            async for record in stream:
                line = _tail_line(record, spec, settings, args)
                if line is None:
                    continue
                print(line[0], file=err if line[1] else sys.stdout, flush=True)
                shown += 1
                if args.limit is not None and shown >= args.limit:
                    break
        return shown

    _existing(run())
    return 0


def _tail_line(record, spec, settings, args) -> tuple[str, bool] | None:
    """(line, is_error_note), or None when filtered out."""
    from services.runtime.codec import DecodeError, decode_with_source

    key = _key(record.key)
    if spec.internal:
        if args.conversation and key != args.conversation:
            return None
        return (f"{_when(record.timestamp)} {record.partition}:{record.offset} {key} {preview(record.value, 120)}",
                False)
    try:
        event, source = decode_with_source(record.value, record.headers, spec, settings.max_message_bytes)
    except DecodeError as exc:
        if args.conversation and key != args.conversation:
            return None
        return undecodable_line(record, exc), True
    if args.conversation and key != args.conversation and getattr(event, "conversation_id", None) != args.conversation:
        return None
    if args.json:
        return event.model_dump_json(), False
    return summary_line(record, event, source), False


# --- dlq ------------------------------------------------------------------------------------------------


def dead_letter_line(record, letter) -> str:
    from services.runtime.deadletter import original_value

    detail = letter.reason
    if letter.field_errors:
        detail = "; ".join(f"{e.loc}: {e.msg}" for e in letter.field_errors[:3])
    return (f"{record.partition}:{record.offset} {_when(record.timestamp)} "
            f"source={letter.source_topic}[{letter.source_partition}]@{letter.source_offset} "
            f"service={letter.service} reason={letter.reason_code} detail={_clip(detail, 100)} "
            f"original={preview(original_value(letter))}")


def cmd_dlq(args: argparse.Namespace) -> int:
    settings, contract, namespace = _runtime()
    spec = contract.get("deadletter")
    topic = contract.physical("deadletter", namespace)
    if args.action == "list":
        return _dlq_list(args, settings, contract, namespace, spec, topic)
    return _dlq_replay(args, settings, contract, namespace, spec, topic)


def _dlq_list(args, settings, contract, namespace, spec, topic) -> int:
    from schemas.dead_letter.v1 import DeadLetterReason
    from services.runtime.codec import DecodeError, decode
    from services.runtime.kafka_tools import read_topic

    reasons = {r.value for r in DeadLetterReason}
    if args.reason and args.reason not in reasons:
        raise CliError(f"unknown reason {args.reason!r}; reasons: {', '.join(sorted(reasons))}")
    source = None
    if args.source_topic:
        source = contract.physical(_spec(contract, args.source_topic).name, namespace)

    async def run() -> int:
        shown = 0
        stream = read_topic(settings.bootstrap_servers, topic, from_beginning=True, security=_security(settings))
        async with contextlib.aclosing(stream):
            async for record in stream:
                try:
                    letter = decode(record.value, record.headers, spec, settings.max_publish_bytes)
                except DecodeError as exc:
                    if not (args.reason or source):
                        print(undecodable_line(record, exc))
                    continue
                if (args.reason and letter.reason_code != args.reason) or (source and letter.source_topic != source):
                    continue
                print(dead_letter_line(record, letter))
                shown += 1
                if args.limit is not None and shown >= args.limit:
                    break
        return shown

    shown = _existing(run())
    print(f"{shown} dead letter(s) on {topic}", file=sys.stderr)
    return 0


def parse_offset(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise CliError(f"bad --offset {text!r}: expected PARTITION:OFFSET as `sluice dlq list` prints it, e.g. 0:42")
    return int(partition), int(offset)


def replay_headers(original: list[tuple[str, bytes | None]], replayed_from: str) -> list[tuple[str, bytes]]:
    """The original headers (an earlier replay mark replaced) plus where this replay came from."""
    kept = [(k, v if v is not None else b"") for k, v in original if k != REPLAYED_FROM_HEADER]
    return [*kept, (REPLAYED_FROM_HEADER, replayed_from.encode("utf-8"))]


def _dlq_replay(args, settings, contract, namespace, spec, topic) -> int:
    from services.runtime.codec import DecodeError, decode
    from services.runtime.deadletter import original_key, original_value
    from services.runtime.kafka_tools import fetch_record, produce_records

    partition, offset = parse_offset(args.offset)
    record = _existing(fetch_record(settings.bootstrap_servers, topic, partition, offset,
                                    security=_security(settings)))
    try:
        letter = decode(record.value, record.headers, spec, settings.max_publish_bytes)
    except DecodeError as exc:
        raise CliError(f"{topic} {partition}:{offset} is not a dead letter ({exc})") from None
    prefix = f"{namespace}."
    logical = letter.source_topic[len(prefix):] if letter.source_topic.startswith(prefix) else letter.source_topic
    try:
        source_spec = contract.get(logical)
    except KeyError:
        raise CliError(f"dead letter's source topic {letter.source_topic} is not a topic of namespace "
                       f"{namespace!r} in the contract") from None
    if args.fix_file:
        try:
            value = Path(args.fix_file).read_bytes().strip()
        except OSError as exc:
            raise CliError(f"cannot read {args.fix_file}: {exc.strerror or exc}") from None
        if not value:
            raise CliError(f"{args.fix_file} is empty")
        what = f"corrected record from {args.fix_file}"
    else:
        if letter.original_value_truncated:
            raise CliError(f"dead letter {partition}:{offset} kept only the first bytes of the original "
                           f"({letter.original_value_size} bytes); replay it with --fix-file")
        value, what = original_value(letter), "original bytes"
    headers = replay_headers(
        [(h.key, None if h.value_b64 is None else base64.b64decode(h.value_b64)) for h in letter.original_headers],
        f"{topic}:{partition}:{offset}")
    if not source_spec.internal:
        try:
            decode(value, headers, source_spec, settings.max_message_bytes)
        except DecodeError as exc:
            raise CliError(f"refused: the record ({what}) is still invalid for {letter.source_topic} "
                           f"({source_spec.schema_id}): {exc}") from None
    asyncio.run(produce_records(settings.bootstrap_servers, letter.source_topic,
                                [(original_key(letter), value, headers)], security=_security(settings)))
    print(f"replayed dead letter {partition}:{offset} ({letter.reason_code}) to {letter.source_topic} "
          f"key={_key(original_key(letter))}: {what}")
    return 0


# --- acls ---------------------------------------------------------------------------------------------


def cmd_acls(args: argparse.Namespace) -> int:
    """The contract's ACLs per service principal: `plan` prints them, `apply` creates them (as a super user)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from services.runtime.acls import apply_acls, derive_acls

    settings, contract, namespace = _runtime()
    plan = derive_acls(contract, namespace)
    if args.action == "plan":
        for binding in plan.bindings:
            print(binding.line())
        for who, topic in plan.withheld:
            print(f"{who:18} (no READ on {topic}: it carries raw text)")
        return 0

    async def apply() -> tuple[int, list]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="sluice-acls",
                                    **_security(settings))
        await admin.start()
        try:
            return await apply_acls(admin, plan)
        finally:
            await admin.close()

    applied, extra = asyncio.run(apply())
    print(f"acls: {applied} bindings for {len(plan.principals())} principals in namespace {namespace!r}")
    for binding in extra:
        print(f"not in the contract, left in place: {binding.line()}")
    return 0


# --- parser ---------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line too."""

    def error(self, message: str):  # type: ignore[override]
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sluice", description="Sluice: streaming ML/LLM models to production.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a service until SIGTERM")
    run.add_argument("service", help=f"one of: {', '.join(SERVICES)}")
    run.set_defaults(func=cmd_run)

    topics = sub.add_parser("topics", help="list, create or verify the contract's topics; consumer lag")
    topics.add_argument("action", choices=["list", "bootstrap", "verify", "lag"])
    topics.add_argument("--fix-configs", action="store_true", help="correct topic configs that drifted")
    topics.add_argument("--replication-factor", type=int, default=1)
    topics.add_argument("--group", help="lag: one consumer group (full name, or a service name); default: all "
                                        "groups of the namespace")
    topics.add_argument("-v", "--verbose", action="store_true", help="lag: per partition too")
    topics.set_defaults(func=cmd_topics)

    schemas = sub.add_parser("schemas", help="list or show schemas; check code against contracts; compatibility")
    schemas.add_argument("action", choices=["list", "show", "check", "compat"])
    schemas.add_argument("schema", nargs="?", help="schema id for show (raw_turn/v2), schema name for compat")
    schemas.add_argument("--from", dest="from_version", help="compat: old version (default: the one before --to)")
    schemas.add_argument("--to", dest="to_version", help="compat: new version (default: the latest)")
    schemas.set_defaults(func=cmd_schemas)

    produce = sub.add_parser("produce", help="produce raw turns: from a JSONL file, the conversation generator, "
                                             "or the sample mix (valid, malformed, duplicates)")
    source = produce.add_mutually_exclusive_group()
    source.add_argument("--file", help="JSONL file, one raw turn per line, sent as-is (bad lines too)")
    source.add_argument("--generator", action="store_true", help="turns from the conversation generator")
    produce.add_argument("--topic", default="turns.raw", help="logical topic name (default turns.raw)")
    produce.add_argument("--rate", type=float, default=0.0, help="records per second; 0 = as fast as possible")
    produce.add_argument("--scenario", default="stationary", help="generator: scenario")
    produce.add_argument("--count", type=int, default=100, help="generator: number of turns")
    produce.add_argument("--drift-after", type=int, default=None, help="generator: turns before drift starts")
    produce.add_argument("--valid", type=int, default=1000, help="sample mix: valid turns")
    produce.add_argument("--malformed", type=int, default=200, help="sample mix: malformed records")
    produce.add_argument("--duplicates", type=int, default=100, help="sample mix: duplicates")
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--run-id", default=None, help="event id prefix; random by default so reruns are new")
    produce.set_defaults(func=cmd_produce)

    tail = sub.add_parser("tail", help="print a topic's events, decoded by its contract")
    tail.add_argument("topic", help="logical topic name, e.g. turns.enriched, deadletter")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--last", type=int, default=10, help="without --from-beginning: start this many records "
                                                           "before the end of each partition (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new records until Ctrl-C")
    tail.add_argument("--conversation", help="only this conversation id (or key)")
    tail.add_argument("--limit", type=int, default=None, help="stop after this many lines")
    tail.add_argument("--json", action="store_true", help="full JSON, one event per line")
    tail.set_defaults(func=cmd_tail)

    dlq = sub.add_parser("dlq", help="list or replay dead letters")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    dlq_list = dlq_sub.add_parser("list", help="dead letters with source, reason and a preview of the original")
    dlq_list.add_argument("--reason", help="only this reason code, e.g. not_json")
    dlq_list.add_argument("--source-topic", help="only dead letters from this logical topic, e.g. turns.raw")
    dlq_list.add_argument("--limit", type=int, default=None)
    dlq_list.set_defaults(func=cmd_dlq)
    replay = dlq_sub.add_parser("replay", help="republish a dead letter to its source topic (validated first)")
    replay.add_argument("--offset", required=True, help="PARTITION:OFFSET of the dead letter (from `dlq list`)")
    how = replay.add_mutually_exclusive_group(required=True)
    how.add_argument("--fix-file", help="file with the corrected record")
    how.add_argument("--as-is", action="store_true", help="the original bytes unchanged")
    replay.set_defaults(func=cmd_dlq)

    acls = sub.add_parser("acls", help="Kafka ACLs per service principal, from the contract (secure profile)")
    acls.add_argument("action", choices=["plan", "apply"], help="plan: print them; apply: create them on the "
                                                                 "broker (as a super user, e.g. admin)")
    acls.set_defaults(func=cmd_acls)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.command != "run":
        # Client libraries log connection retries; the CLI reports the outcome in one line instead.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except KafkaConnectionError as exc:
        print(f"sluice: cannot reach Kafka ({exc}); is it running? (make kafka-up)", file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `sluice tail ... | head`
        return 0
    except KafkaError as exc:
        print(f"sluice: Kafka error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, not a traceback
        text = str(exc).splitlines()[0] if str(exc) else ""
        print(f"sluice: {text if text.startswith(type(exc).__name__) else f'{type(exc).__name__}: {text}'}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
