"""The `sluice` command line. Errors are one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections import Counter

from aiokafka.errors import KafkaConnectionError

SERVICES = ("ingestion", "features", "inference")


class CliError(Exception):
    """An expected failure, reported as one line."""


def _runtime():
    from services.runtime.settings import RuntimeSettings
    from services.runtime.topics import load_contract

    settings = RuntimeSettings()
    contract = load_contract(settings.contract_path)
    return settings, contract, settings.namespace or contract.namespace


def cmd_run(args: argparse.Namespace) -> int:
    if args.service not in SERVICES:
        raise CliError(f"unknown service {args.service!r}; services: {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{args.service}.app")
    sys.argv = [f"sluice-{args.service}", "worker"]
    module.main()
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from services.runtime.bootstrap import bootstrap_topics

    settings, contract, namespace = _runtime()
    if args.action == "list":
        for topic in contract.topics:
            schema = topic.schema_id or "(internal)"
            print(f"{contract.physical(topic.name, namespace):40} {schema:22} key={topic.key:18} "
                  f"partitions={topic.partitions}")
        return 0
    report = asyncio.run(bootstrap_topics(
        settings.bootstrap_servers, contract, namespace,
        create=args.action == "bootstrap", fix_configs=args.fix_configs, replication_factor=args.replication_factor,
    ))
    for line in report.lines():
        print(line)
    if report.drift:
        print(f"topics: {len(report.drift)} topic(s) drift from contracts/topics.yaml", file=sys.stderr)
        return 1
    return 0


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
    problems = check()
    for problem in problems:
        print(problem)
    print("contracts: OK" if not problems else f"contracts: {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_produce(args: argparse.Namespace) -> int:
    from services.runtime.kafka_tools import produce_records
    from services.runtime.sample_traffic import malformed_records, valid_records

    settings, contract, namespace = _runtime()
    topic = contract.physical("turns.raw", namespace)
    valid = valid_records(args.valid, seed=args.seed, run_id=args.run_id)
    bad = malformed_records(args.malformed, seed=args.seed + 1, run_id=args.run_id,
                            max_message_bytes=settings.max_message_bytes)
    records = valid + bad + valid[: args.duplicates]
    sent = asyncio.run(produce_records(settings.bootstrap_servers, topic,
                                       [(r.key, r.value, r.headers) for r in records]))
    kinds = Counter(r.expected.value for r in bad if r.expected)
    print(f"produced {sent} records to {topic}: {len(valid)} valid, {len(bad)} malformed "
          f"({', '.join(f'{k}={v}' for k, v in sorted(kinds.items()))}), {min(args.duplicates, len(valid))} duplicates")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description="Sluice: streaming ML/LLM models to production.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a service until SIGTERM")
    run.add_argument("service", help=f"one of: {', '.join(SERVICES)}")
    run.set_defaults(func=cmd_run)

    topics = sub.add_parser("topics", help="list, create or verify the contract's topics")
    topics.add_argument("action", choices=["list", "bootstrap", "verify"])
    topics.add_argument("--fix-configs", action="store_true", help="correct topic configs that drifted")
    topics.add_argument("--replication-factor", type=int, default=1)
    topics.set_defaults(func=cmd_topics)

    schemas = sub.add_parser("schemas", help="list or show schemas; check code against contracts")
    schemas.add_argument("action", choices=["list", "show", "check"])
    schemas.add_argument("schema", nargs="?", help="schema id for show, e.g. raw_turn/v2")
    schemas.set_defaults(func=cmd_schemas)

    produce = sub.add_parser("produce", help="produce sample raw turns (valid, malformed, duplicates)")
    produce.add_argument("--valid", type=int, default=1000)
    produce.add_argument("--malformed", type=int, default=200)
    produce.add_argument("--duplicates", type=int, default=100)
    produce.add_argument("--seed", type=int, default=7)
    produce.add_argument("--run-id", default=None, help="event id prefix; random by default so reruns are new")
    produce.set_defaults(func=cmd_produce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, not a traceback
        text = str(exc)
        print(f"sluice: {text if text.startswith(type(exc).__name__) else f'{type(exc).__name__}: {text}'}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
