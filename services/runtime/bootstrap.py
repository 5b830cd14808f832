"""Create or verify every contract topic on the broker, idempotently, and report drift.

Partition counts are never changed automatically: adding partitions re-maps keys and breaks
per-conversation ordering, so a partition mismatch is reported for an operator to decide.
Config drift is reported, and corrected with `fix_configs=True`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from services.runtime.topics import TopicContract


@dataclass
class TopicReport:
    topic: str
    action: str  # created | ok | drift
    problems: list[str] = field(default_factory=list)


@dataclass
class BootstrapReport:
    topics: list[TopicReport]

    @property
    def drift(self) -> list[TopicReport]:
        return [t for t in self.topics if t.action == "drift"]

    def lines(self) -> list[str]:
        out = []
        for t in self.topics:
            out.append(f"{t.action:8} {t.topic}" + (f"  ({'; '.join(t.problems)})" if t.problems else ""))
        return out


async def bootstrap_topics(
    bootstrap_servers: str,
    contract: TopicContract,
    namespace: str,
    *,
    create: bool = True,
    fix_configs: bool = False,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> BootstrapReport:
    """`security`: client options from services.runtime.kafka_security.aiokafka_security (None: PLAINTEXT)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="sluice-bootstrap",
                                request_timeout_ms=30000, **(security or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        reports: dict[str, TopicReport] = {}
        missing = [t for t in contract.topics if contract.physical(t.name, namespace) not in existing]
        if missing and create:
            response = await admin.create_topics([
                NewTopic(contract.physical(t.name, namespace), t.partitions, replication_factor,
                         topic_configs=dict(t.config))
                for t in missing
            ])
            created = set()
            for name, code, *rest in response.topic_errors:
                error = for_code(code)
                if code == 0:
                    created.add(name)
                elif error is not TopicAlreadyExistsError:  # already there (metadata lagged): verified below
                    message = rest[0] if rest else ""
                    raise RuntimeError(f"creating topic {name} failed: {error.__name__} {message}")
            await _wait_until_visible(admin, sorted(created), timeout_s)
            for t in missing:
                if contract.physical(t.name, namespace) in created:
                    reports[t.name] = TopicReport(contract.physical(t.name, namespace), "created")
        elif missing:
            for t in missing:
                reports[t.name] = TopicReport(contract.physical(t.name, namespace), "drift", ["missing"])

        present = [t for t in contract.topics if t.name not in reports]
        if present:
            names = [contract.physical(t.name, namespace) for t in present]
            described = {d["topic"]: d for d in await admin.describe_topics(names)}
            configs = await _topic_configs(admin, names)
            to_fix = []
            for t in present:
                name = contract.physical(t.name, namespace)
                problems = []
                partitions = len(described.get(name, {}).get("partitions", []))
                if partitions != t.partitions:
                    problems.append(f"partitions {partitions} on broker, {t.partitions} in contract")
                wrong = {k: v for k, v in t.config.items() if configs.get(name, {}).get(k) != v}
                for key, value in wrong.items():
                    problems.append(f"{key}={configs.get(name, {}).get(key)!r} on broker, {value!r} in contract")
                if wrong and fix_configs:
                    to_fix.append(t)
                reports[t.name] = TopicReport(name, "drift" if problems else "ok", problems)
            if to_fix:
                # AlterConfigs replaces the whole dynamic config set of a topic: send the full contract set.
                await admin.alter_configs([
                    ConfigResource(ConfigResourceType.TOPIC, contract.physical(t.name, namespace),
                                   configs=dict(t.config))
                    for t in to_fix
                ])
                for t in to_fix:
                    report = reports[t.name]
                    report.problems = [p for p in report.problems if p.startswith("partitions")]
                    report.action = "drift" if report.problems else "fixed"
        return BootstrapReport([reports[t.name] for t in contract.topics])
    finally:
        await admin.close()


async def _wait_until_visible(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float) -> None:
    """Created topics reach the broker's metadata cache a moment after the controller accepts them."""
    deadline = time.monotonic() + timeout_s
    pending = set(names)
    while pending:
        described = await admin.describe_topics(sorted(pending))
        for topic in described:
            partitions = topic.get("partitions") or []
            if not topic["error_code"] and partitions and all(p["leader"] >= 0 for p in partitions):
                pending.discard(topic["topic"])
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not visible after {timeout_s}s: {sorted(pending)}")
        await asyncio.sleep(0.1)


async def _topic_configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    result: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            error_code, _message, _type, name, entries = resource[:5]
            if error_code:
                raise RuntimeError(f"describe configs of {name} failed: {for_code(error_code).__name__}")
            result[name] = {entry[0]: entry[1] for entry in entries}
    return result
