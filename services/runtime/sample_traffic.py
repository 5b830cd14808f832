"""Seedable sample traffic for the demo, tests and benchmarks: valid turns of both raw_turn versions,
every kind of malformed record with the dead-letter reason it must get, and duplicates.

(The richer conversation generator with industries, PII and drift scenarios builds on this.)
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from schemas.dead_letter.v1 import DeadLetterReason

SCHEMA_HEADER = "sluice-schema"

_CUSTOMER = [
    "hi i was charged twice for my internet bill this month",
    "my phone has no signal since yesterday can you check the network",
    "I want to cancel my subscription, it's too expensive",
    "the package was supposed to arrive on monday and it still isn't here",
    "i can't log into my account it says my password is wrong",
    "can I set up a payment plan for the outstanding balance",
    "Someone used my card for purchases I did not make",
    "I'd like to upgrade to the unlimited data plan",
]
# Customer turns carrying seeded personal data; PII_CANARIES must never appear downstream of features.
_CUSTOMER_WITH_PII = [
    ("my card number is 4539 1488 0343 6467 and it was charged twice", "4539 1488 0343 6467"),
    ("you can reach me at priya.raman@example.org if the line drops", "priya.raman@example.org"),
    ("the card is four five three nine one four eight eight oh three four three six four six seven",
     "four five three nine one four eight eight oh three four three six four six seven"),
    ("hi this is margaret o'neill calling about my bill", "margaret o'neill"),
    ("call me back on 415-555-0132 please", "415-555-0132"),
]
PII_CANARIES = tuple(value for _, value in _CUSTOMER_WITH_PII)
_AGENT = [
    "thank you for calling, how can I help you today",
    "I'm sorry about that, let me look into your account",
    "I can see the duplicate charge, I'll refund it now",
    "is there anything else I can help you with",
]
_TENANTS = ["acme-telecom", "globex-energy", "initech-bank"]


@dataclass(frozen=True)
class RawRecord:
    """A record for the raw topic; `expected` is the dead-letter reason it must get (None = valid)."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    event_id: str | None
    expected: DeadLetterReason | None = None


def _turn(rng: random.Random, run_id: str, index: int, pad_to: int | None) -> dict:
    conversation = f"{run_id}-conv-{index // 6:05d}"
    turn_index = index % 6
    role = "customer" if turn_index % 2 == 0 else "agent"
    if role == "customer" and rng.random() < 0.25:
        text = rng.choice(_CUSTOMER_WITH_PII)[0]
    else:
        text = rng.choice(_CUSTOMER if role == "customer" else _AGENT)
    start = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc) + timedelta(seconds=index * 7)
    turn = {
        "event_id": f"{run_id}-{index:07d}",
        "occurred_at": (start + timedelta(seconds=5)).isoformat(),
        "conversation_id": conversation,
        "turn_index": turn_index,
        "role": role,
        "text": text,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=5)).isoformat(),
        "channel": rng.choice(["voice", "voice", "voice", "chat", "email"]),
        "language": rng.choice(["en-US", "en-gb", "en_US", None]),
        "tenant_id": rng.choice(_TENANTS),
        "metadata": {"queue": rng.choice(["billing", "tech", "sales"])},
    }
    if pad_to:
        body = json.dumps(turn)
        if len(body) < pad_to:
            turn["metadata"]["padding"] = "x" * (pad_to - len(body) - 16)
    return turn


def _legacy(turn: dict) -> dict:
    return {
        "schema_name": "raw_turn", "schema_version": 1, "event_id": turn["event_id"],
        "occurred_at": turn["occurred_at"], "conversation_id": turn["conversation_id"],
        "turn_index": turn["turn_index"], "speaker": {"customer": "Caller", "agent": "rep"}[turn["role"]],
        "text": turn["text"], "timestamp": turn["ended_at"],
        "medium": {"voice": "phone", "chat": "chat", "email": "email"}[turn["channel"]],
        "tenant": turn["tenant_id"], "metadata": turn["metadata"],
    }


def valid_records(count: int, *, seed: int = 7, run_id: str | None = None, legacy_share: float = 0.05,
                  pad_to: int | None = None) -> list[RawRecord]:
    """`count` valid raw turns; about `legacy_share` of them in the legacy raw_turn/v1 shape."""
    rng = random.Random(seed)
    run_id = run_id or uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    records = []
    for index in range(count):
        turn = _turn(rng, run_id, index, pad_to)
        if rng.random() < legacy_share:
            body, schema = _legacy(turn), b"raw_turn/v1"
        else:
            body, schema = {"schema_name": "raw_turn", "schema_version": 2, **turn}, b"raw_turn/v2"
        records.append(RawRecord(turn["conversation_id"].encode(), json.dumps(body).encode(),
                                 [(SCHEMA_HEADER, schema)], turn["event_id"]))
    return records


def malformed_records(count: int, *, seed: int = 11, run_id: str | None = None,
                      max_message_bytes: int = 1_048_576) -> list[RawRecord]:
    """`count` bad records cycling through every malformed kind, each with the reason it must get."""
    rng = random.Random(seed)
    run_id = run_id or uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    kinds = list(_MALFORMED)
    records = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        turn = _turn(rng, f"{run_id}-bad", index, None)
        value, expected, headers = _MALFORMED[kind](turn, max_message_bytes)
        records.append(RawRecord(turn["conversation_id"].encode(), value, headers, turn["event_id"], expected))
    return records


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _v2(turn: dict, **changes) -> dict:
    return {"schema_name": "raw_turn", "schema_version": 2, **turn, **changes}


_R = DeadLetterReason
_MALFORMED = {
    "empty": lambda t, m: (b"", _R.EMPTY, []),
    "null": lambda t, m: (None, _R.EMPTY, []),
    "oversize": lambda t, m: (_json(_v2(t, text="a" * (m + 10))), _R.OVERSIZE, []),
    "not_utf8": lambda t, m: (b'{"text": "caf\xe9"}', _R.NOT_UTF8, []),
    "not_json": lambda t, m: (b"conversation_id=42&text=hello", _R.NOT_JSON, []),
    "truncated_json": lambda t, m: (_json(_v2(t))[:-7], _R.NOT_JSON, []),
    "json_array": lambda t, m: (_json([_v2(t)]), _R.SCHEMA_INVALID, []),
    "missing_field": lambda t, m: (_json({k: v for k, v in _v2(t).items() if k != "tenant_id"}), _R.SCHEMA_INVALID, []),
    "wrong_type": lambda t, m: (_json(_v2(t, turn_index="four")), _R.SCHEMA_INVALID, []),
    "bad_role": lambda t, m: (_json(_v2(t, role="supervisor")), _R.SCHEMA_INVALID, []),
    "bad_event_id": lambda t, m: (_json(_v2(t, event_id="has spaces/and slashes")), _R.SCHEMA_INVALID, []),
    "blank_text": lambda t, m: (_json(_v2(t, text=" \u200b\t\n ")), _R.SCHEMA_INVALID, []),
    "ended_before_started": lambda t, m: (_json(_v2(t, ended_at="2026-11-27T08:00:00+00:00")), _R.SCHEMA_INVALID, []),
    "bad_language": lambda t, m: (_json(_v2(t, language="english please")), _R.SCHEMA_INVALID, []),
    "unknown_version": lambda t, m: (_json(_v2(t, schema_version=9)), _R.UNKNOWN_SCHEMA, []),
    "wrong_schema": lambda t, m: (_json({**_v2(t), "schema_name": "feedback"}), _R.UNKNOWN_SCHEMA, []),
    "header_mismatch": lambda t, m: (_json(_v2(t)), _R.UNKNOWN_SCHEMA, [(SCHEMA_HEADER, b"raw_turn/v1")]),
    "legacy_bad_speaker": lambda t, m: (_json(_legacy(t) | {"speaker": "supervisor"}), _R.UPCAST_FAILED, []),
}
MALFORMED_KINDS = tuple(_MALFORMED)


def record_from_body(body: dict) -> RawRecord:
    """A valid-looking raw record for a raw_turn body (v1 or v2): keyed by conversation, schema header from the body."""
    schema = f"{body.get('schema_name', 'raw_turn')}/v{body.get('schema_version', 2)}".encode()
    key = body.get("conversation_id")
    event_id = body.get("event_id")
    return RawRecord(str(key).encode() if key is not None else None, json.dumps(body).encode(),
                     [(SCHEMA_HEADER, schema)], event_id if isinstance(event_id, str) else None)


def jsonl_lines(turns) -> Iterator[str]:
    """One raw turn JSON per line (each ending in a newline), for `sluice produce --file`.

    Takes RawRecords or anything with a `.record` RawRecord (e.g. conversations.GeneratedTurn).
    """
    for item in turns:
        record = getattr(item, "record", item)
        value = record.value or b""
        yield value.decode("utf-8", "replace").replace("\n", " ") + "\n"


def read_jsonl(path) -> list[RawRecord]:
    """Records from a JSON-lines file of raw turns; blank lines are skipped.

    A line that is not a JSON object becomes a record whose value is the original line bytes (no key, no
    headers), so it is dead-lettered downstream rather than silently dropped.
    """
    records = []
    with open(path, "rb") as handle:
        for raw in handle.read().split(b"\n"):
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line.strip():
                continue
            try:
                body = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                body = None
            if isinstance(body, dict) and isinstance(body.get("schema_version", 2), int) \
                    and isinstance(body.get("schema_name", "raw_turn"), str):
                records.append(RawRecord(*_keyed(body, line)))
            else:
                records.append(RawRecord(None, line, [], None))
    return records


def _keyed(body: dict, line: bytes) -> tuple[bytes | None, bytes, list[tuple[str, bytes]], str | None]:
    # The original bytes travel unchanged; the header names the schema the body declares.
    record = record_from_body(body)
    return record.key, line, record.headers, record.event_id
