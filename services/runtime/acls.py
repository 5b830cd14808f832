"""Kafka ACLs derived from the topic contract (contracts/topics.yaml), one principal per service.

Each service principal (User:<service>) may read and describe the topics it consumes, write and describe
those it produces (its changelogs and `deadletter` included, as the contract lists them), read its
consumer group `<namespace>.<service>` and use the transactional ids `<namespace>.<service>.*` (the
exactly-once producer). External systems are one principal, User:clients, with a group prefix
`<namespace>.clients`. Everything else is denied by the broker (allow.everyone.if.no.acl.found=false);
User:admin is the super user that bootstraps topics and applies these ACLs.

Raw conversation text is readable only by ingestion and features: `turns.raw`, `turns.validated`, and
`deadletter` (a dead letter keeps the original record, raw text included, so reading dead letters is an
operator's job, done as admin with `sluice dlq`). `derive_acls` refuses a contract that would let any
other service read them, and `check_raw_text_readers` refuses any binding set that does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.runtime.topics import TopicContract

RAW_TEXT_TOPICS = frozenset({"turns.raw", "turns.validated", "deadletter"})
RAW_TEXT_READERS = frozenset({"ingestion", "features"})
CLIENTS = "clients"
# Contract producer names that are a part of a service process, not a principal of their own.
PRODUCER_PRINCIPALS = {"ingestion-http": "ingestion"}


class ResourceType(enum.IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.resource.ResourceType)."""

    TOPIC = 2
    GROUP = 3
    TRANSACTIONAL_ID = 5


class PatternType(enum.IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.acl.AclOperation)."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8


ALLOW = 3  # AclPermissionType.ALLOW
ANY = 1  # the ANY code of every filter enum
ANY_HOST = "*"


class RawTextLeak(ValueError):
    """A principal other than ingestion or features would be able to read raw text."""


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule for any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType
    operation: Operation

    def line(self) -> str:
        pattern = "" if self.pattern is PatternType.LITERAL else " (prefix)"
        return (f"{self.principal:18} {_name(self.operation):8} {_name(self.resource_type).lower():16} "
                f"{self.resource_name}{pattern}")


@dataclass
class AclPlan:
    bindings: list[AclBinding]
    # Contract consumers that get no READ because the topic carries raw text: (principal, logical topic).
    withheld: list[tuple[str, str]] = field(default_factory=list)

    def principals(self) -> list[str]:
        return sorted({b.principal for b in self.bindings})


def principal(name: str) -> str:
    return f"User:{PRODUCER_PRINCIPALS.get(name, name)}"


def _user(principal_name: str) -> str:
    return principal_name.split(":", 1)[1]


def derive_acls(contract: TopicContract, namespace: str) -> AclPlan:
    """Every binding the pipeline needs, from the contract alone."""
    bindings: set[AclBinding] = set()
    withheld: list[tuple[str, str]] = []
    services: set[str] = set()

    def topic(who: str, logical: str, *operations: Operation) -> None:
        for operation in operations:
            bindings.add(AclBinding(principal(who), ResourceType.TOPIC, contract.physical(logical, namespace),
                                    PatternType.LITERAL, operation))

    for spec in contract.topics:
        for producer in spec.producers:
            topic(producer, spec.name, Operation.WRITE, Operation.DESCRIBE)
            if producer != CLIENTS:
                services.add(PRODUCER_PRINCIPALS.get(producer, producer))
        for consumer in spec.consumers:
            user = PRODUCER_PRINCIPALS.get(consumer, consumer)
            if spec.name in RAW_TEXT_TOPICS and user not in RAW_TEXT_READERS:
                if user != CLIENTS:
                    raise RawTextLeak(f"contract lists {consumer} as a consumer of {spec.name}, which carries raw "
                                      f"text; only {', '.join(sorted(RAW_TEXT_READERS))} may read it")
                withheld.append((principal(user), spec.name))
                continue
            topic(consumer, spec.name, Operation.READ, Operation.DESCRIBE)
            if user != CLIENTS:
                services.add(user)

    for service in sorted(services):
        # faust's consumer group is the app id (services/runtime/service.py: "<namespace>.<service>").
        bindings.add(AclBinding(principal(service), ResourceType.GROUP, f"{namespace}.{service}",
                                PatternType.LITERAL, Operation.READ))
        # The exactly-once producer's transactional id is "<namespace>.<service>.<instance_id>".
        for operation in (Operation.WRITE, Operation.DESCRIBE):
            bindings.add(AclBinding(principal(service), ResourceType.TRANSACTIONAL_ID, f"{namespace}.{service}.",
                                    PatternType.PREFIXED, operation))
    bindings.add(AclBinding(principal(CLIENTS), ResourceType.GROUP, f"{namespace}.{CLIENTS}",
                            PatternType.PREFIXED, Operation.READ))
    plan = AclPlan(sorted(bindings), withheld)
    check_raw_text_readers(plan.bindings, contract, namespace)
    return plan


def check_raw_text_readers(bindings: Iterable[AclBinding], contract: TopicContract, namespace: str) -> None:
    """Raise RawTextLeak if any binding lets a principal other than ingestion or features read raw text."""
    raw = {contract.physical(name, namespace) for name in RAW_TEXT_TOPICS}
    allowed = {principal(name) for name in RAW_TEXT_READERS}
    for binding in bindings:
        if binding.resource_type is not ResourceType.TOPIC or binding.operation is not Operation.READ:
            continue
        if binding.principal in allowed:
            continue
        if binding.pattern is PatternType.LITERAL:
            exposed = binding.resource_name in raw
        else:
            exposed = any(topic.startswith(binding.resource_name) for topic in raw)
        if exposed or binding.resource_name == "*":
            raise RawTextLeak(f"{binding.principal} must not READ {binding.resource_name}: it carries raw text")


# --- applying them on a broker (as a super user) ---------------------------------------------------------


async def apply_acls(admin: Any, plan: AclPlan) -> tuple[int, list[AclBinding]]:
    """Create every binding of `plan` (creating an existing ACL is a no-op on the broker). Returns the number
    sent and the bindings the broker holds for the plan's principals that the plan does not contain."""
    from aiokafka.errors import for_code
    from aiokafka.protocol.admin import CreateAclsRequest

    for binding in plan.bindings:
        request = CreateAclsRequest(int(binding.resource_type), binding.resource_name, int(binding.pattern),
                                    binding.principal, ANY_HOST, int(binding.operation), ALLOW)
        response = await admin._send_request(request)
        for error_code, message in response.creation_responses:
            if error_code:
                raise RuntimeError(f"creating ACL {binding.line().strip()} failed: "
                                   f"{for_code(error_code).__name__} {message or ''}".strip())
    present = await describe_acls(admin, plan.principals())
    return len(plan.bindings), sorted(set(present) - set(plan.bindings))


async def describe_acls(admin: Any, principals: Sequence[str]) -> list[AclBinding]:
    """Every ACL the broker holds for `principals`; rules of a kind this module never creates keep their raw
    codes or carry their host and permission in the name, so they never match a planned binding."""
    from aiokafka.errors import for_code
    from aiokafka.protocol.admin import DescribeAclsRequest

    found = []
    for who in principals:
        request = DescribeAclsRequest(ANY, None, ANY, who, None, ANY, ANY)
        response = await admin._send_request(request)
        if response.error_code:
            raise RuntimeError(f"describing ACLs of {who} failed: {for_code(response.error_code).__name__} "
                               f"{response.error_message or ''}".strip())
        for resource_type, name, pattern, acls in response.resources:
            for acl_principal, host, operation, permission in acls:
                # A DENY or host-bound rule can never equal a planned binding: mark it so it is reported.
                shown = name if host == ANY_HOST and permission == ALLOW else \
                    f"{name} (host {host}, permission {permission})"
                found.append(AclBinding(acl_principal, _code(ResourceType, resource_type), shown,
                                        _code(PatternType, pattern), _code(Operation, operation)))
    return found


def _code(kind: type[enum.IntEnum], value: int) -> Any:
    """The enum member, or the bare code for kinds this module does not manage (reported, never created)."""
    try:
        return kind(value)
    except ValueError:
        return value


def _name(code: Any) -> str:
    return getattr(code, "name", str(code))


def service_users(plan: AclPlan) -> list[str]:
    """The SCRAM user names the plan needs (infra/kafka/kafka.sh creates them at format time)."""
    return [_user(p) for p in plan.principals()]
