"""Property-based bad input on every consumer route of every service, through the real runtime Pipeline.

What it proves, for each of the 13 consumer routes that the six composition roots (services/<name>/app.py)
wire (enumerated from `build_service().routes`, so a new route is fuzzed without touching this file):
- no generated bad record makes an exception escape the decode/handle path (routes with a Triton
  fetcher are driven the batched way the runtime drives them: `decode` -> fetch -> `handle`);
- each one becomes exactly one publication, a dead letter, whose reason code is the precise one its
  category demands (see tests/fuzz_strategies.py), whose field_errors name the broken field for
  field-level breakage, and which carries the original value, key and headers byte for byte (with
  the size and SHA-256 of the value); nothing else is published and no state is written;
- the same Pipeline instance then processes a valid record exactly as a fresh one does (the route keeps
  flowing behind bad records);
- valid events in odd but legal shapes (unknown extra fields with hostile names, whitespace, garbage
  trace headers, no schema header) are processed exactly like the plain event.

Counts: per route, BAD_EXAMPLES (80) randomly drawn bad records plus a sweep of one record of every one
of the 53 kinds (tests/fuzz_strategies.KINDS) = 133, 1,729 in all; every category and kind runs on every
route (the counts per category and kind are printed with `-s` and recorded as the junit property
`fuzz_counts`). TOLERATED_EXAMPLES (20) odd-but-valid records per route. Generation is derandomized and
the example database is off, so every run checks the same records. About 20 s of CPU.

The regression tests at the end pin each defect the fuzzing found in the runtime's decode edge.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import importlib
import itertools
import json
import logging
from collections import Counter
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings

from schemas.dead_letter.v1 import DeadLetterReason, DeadLetterV1
from services.features.handlers import TurnModels
from services.inference.config import InferenceSettings
from services.inference.plan import load_plan
from services.runtime.codec import SCHEMA_HEADER, header_value
from services.runtime.deadletter import InboundMessage, original_key, original_value
from services.runtime.metrics import ServiceMetrics
from services.runtime.pipeline import Outcome, Pipeline, RetryPolicy
from services.runtime.settings import RuntimeSettings
from services.runtime.topics import load_contract
from tests.fuzz_strategies import CATEGORIES, DECODE_REASONS, FuzzRecord, bad_records, every_kind, examples_for, \
    sample, tolerated_records

from opentelemetry.sdk.trace import TracerProvider

R = DeadLetterReason
SERVICES = ("ingestion", "features", "inference", "guardrails", "feedback", "drift")
NAMESPACE = "fuzz"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
# Small enough that oversize records stay cheap to generate; RuntimeSettings allows down to 1 KiB.
MAX_MESSAGE_BYTES = 64 * 1024
BAD_EXAMPLES = 80
SWEEP_ROUNDS = 1  # x 53 kinds
TOLERATED_EXAMPLES = 20
CONTRACT = load_contract()
LOOP = asyncio.new_event_loop()  # a private loop: the handlers never wait on I/O here
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


def _build(name: str):
    runtime = RuntimeSettings(state_dir="/tmp/sluice-fuzz-unused", max_message_bytes=MAX_MESSAGE_BYTES)
    return importlib.import_module(f"services.{name}.app").build_service(runtime=runtime)


BUILT = {name: _build(name) for name in SERVICES}
ROUTES = [(name, route.source) for name, service in BUILT.items() for route in service.routes]


@functools.cache
def _inference_answer() -> dict:
    plan = load_plan(InferenceSettings().model_contracts_dir)
    return {b.key: ([0.7] + [0.3 / (len(b.labels) - 1)] * (len(b.labels) - 1), 1.0) for b in plan.bindings}


def _inference_answers(events):
    """What inference's Triton fetcher returns per event, for the plan in the repository's model contracts."""
    return [dict(_inference_answer()) for _ in events]


FAKE_FETCHERS = {
    "features": lambda events: [TurnModels(ner_spans=b"[]", injection_probability=0.01) for _ in events],
    "inference": _inference_answers,
}


class RouteHarness:
    """One route of a built service, driven the way services/runtime/service.py drives it."""

    def __init__(self, service_name: str, source: str):
        service = BUILT[service_name]
        self.route = next(r for r in service.routes if r.source == source)
        self.service_name = service_name
        self.topic = CONTRACT.physical(source, NAMESPACE)
        self.pipeline = Pipeline(
            service=service_name, contract=CONTRACT, namespace=NAMESPACE, source=source, handler=self.route.handler,
            metrics=ServiceMetrics(service_name), tracer=TracerProvider().get_tracer("fuzz"),
            max_message_bytes=MAX_MESSAGE_BYTES, retry=RetryPolicy(2, 0.0, 0.0), clock=lambda: NOW,
            sleep=_no_sleep,
        )
        self.fetch = FAKE_FETCHERS[service_name] if self.route.fetcher is not None else None
        self.offsets = itertools.count(1000)

    def message(self, key: bytes | None, value: bytes | None, headers, offset: int | None = None) -> InboundMessage:
        return InboundMessage(topic=self.topic, partition=0, offset=next(self.offsets) if offset is None else offset,
                              timestamp=1_795_000_000.0, key=key, value=value, headers=tuple(headers))

    def run(self, message: InboundMessage) -> Outcome:
        if self.fetch is None:
            return LOOP.run_until_complete(self.pipeline.process(message, {}))
        decoded = self.pipeline.decode(message)
        fetched = self.fetch([decoded.event])[0] if decoded.event is not None else None
        return LOOP.run_until_complete(self.pipeline.handle(decoded, {}, fetched))


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture(autouse=True)
def _quiet_dead_letter_warnings():
    """Thousands of expected dead-letter warnings would only slow the run (and bury a real failure)."""
    logger = logging.getLogger("sluice.runtime")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def fingerprint(outcome: Outcome) -> tuple:
    """What a processed record leads to, independent of trace ids and key order: publications and state keys."""
    return (outcome.dead_letter_reason,
            [(p.logical_topic, p.key, json.loads(p.value), header_value(p.headers, SCHEMA_HEADER))
             for p in outcome.publications],
            sorted(outcome.state_updates))


def only_dead_letter(outcome: Outcome, record: FuzzRecord) -> DeadLetterV1:
    assert [p.logical_topic for p in outcome.publications] == ["deadletter"], record.describe()
    assert dict(outcome.state_updates) == {} and outcome.event is None, record.describe()
    publication = outcome.publications[0]
    assert publication.topic == f"{NAMESPACE}.deadletter"
    letter = DeadLetterV1.model_validate_json(publication.value)
    assert outcome.dead_letter_reason is letter.reason_code
    return letter


def assert_precise_dead_letter(letter: DeadLetterV1, record: FuzzRecord, message: InboundMessage, service: str):
    context = f"{record.describe()}\n-> {letter.reason_code.value}: {letter.reason[:300]} {letter.field_errors[:3]}"
    assert letter.reason_code in record.expected, context
    assert letter.reason, context
    if record.field is not None and letter.reason_code is R.SCHEMA_INVALID:
        assert any(e.loc == record.field or e.loc.startswith(record.field + ".") for e in letter.field_errors), context
    assert original_value(letter) == record.value, context
    assert original_key(letter) == record.key, context
    assert letter.original_value_truncated is False
    if record.value is None:
        assert letter.original_value_size is None and letter.original_value_sha256 is None
    else:
        assert letter.original_value_size == len(record.value)
        assert letter.original_value_sha256 == hashlib.sha256(record.value).hexdigest()
    headers = [(h.key, None if h.value_b64 is None else base64.b64decode(h.value_b64)) for h in letter.original_headers]
    assert headers == list(record.headers), context
    assert (letter.service, letter.source_topic, letter.source_partition, letter.source_offset) == (
        service, message.topic, message.partition, message.offset)


@pytest.mark.parametrize(("service_name", "source"), ROUTES, ids=[f"{s}:{t}" for s, t in ROUTES])
def test_every_bad_record_is_dead_lettered_precisely_and_the_route_keeps_flowing(service_name, source,
                                                                                 record_property):
    harness = RouteHarness(service_name, source)
    valid = examples_for(CONTRACT.get(source))[0]
    valid_message = harness.message(valid.key, valid.value(), valid.headers(), offset=1)
    expected_valid = fingerprint(RouteHarness(service_name, source).run(valid_message))
    assert expected_valid[0] is None, f"the valid example of {source} is dead-lettered: {expected_valid}"
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()

    def check_one(record: FuzzRecord) -> None:
        counts[record.category] += 1
        kinds[f"{record.category}/{record.kind}"] += 1
        message = harness.message(record.key, record.value, record.headers)
        letter = only_dead_letter(harness.run(message), record)
        assert_precise_dead_letter(letter, record, message, service_name)
        # The partition keeps flowing: the next (valid) record is processed as if nothing came before it.
        assert fingerprint(harness.run(valid_message)) == expected_valid, record.describe()

    @settings(FUZZ, max_examples=BAD_EXAMPLES)
    @given(bad_records(CONTRACT.get(source), MAX_MESSAGE_BYTES))
    def check(record: FuzzRecord) -> None:
        check_one(record)

    check()
    # Random draws favour some kinds; a sweep makes sure every kind of every category ran on this route.
    for batch in sample(every_kind(CONTRACT.get(source), MAX_MESSAGE_BYTES), SWEEP_ROUNDS):
        for record in batch:
            check_one(record)
    print(f"\n{service_name}:{source}: {sum(counts.values())} bad records {dict(sorted(counts.items()))}")
    record_property("fuzz_counts", json.dumps({"categories": counts, "kinds": kinds}, sort_keys=True))
    assert set(counts) == set(CATEGORIES), f"categories never drawn: {set(CATEGORIES) - set(counts)}"


@pytest.mark.parametrize(("service_name", "source"), ROUTES, ids=[f"{s}:{t}" for s, t in ROUTES])
def test_valid_events_in_odd_shapes_are_processed_like_the_plain_event(service_name, source):
    harness = RouteHarness(service_name, source)
    plain: dict[str, tuple] = {}

    @settings(FUZZ, max_examples=TOLERATED_EXAMPLES)
    @given(tolerated_records(CONTRACT.get(source)))
    def check(drawn) -> None:
        record, example = drawn
        if example.schema_id not in plain:
            message = harness.message(example.key, example.value(), example.headers(), offset=1)
            plain[example.schema_id] = fingerprint(RouteHarness(service_name, source).run(message))
        outcome = harness.run(harness.message(record.key, record.value, record.headers, offset=1))
        assert outcome.dead_letter_reason not in DECODE_REASONS, record.describe()
        assert fingerprint(outcome) == plain[example.schema_id], record.describe()

    check()


# --- regressions: each defect the fuzzing found at the decode edge, pinned with one plain example ----------

def _raw(value: bytes, headers=((SCHEMA_HEADER, b"raw_turn/v2"),)) -> tuple[RouteHarness, InboundMessage]:
    harness = RouteHarness("ingestion", "turns.raw")
    return harness, harness.message(b"k", value, headers)


def _raw_turn_text() -> str:
    return examples_for(CONTRACT.get("turns.raw"))[0].value().decode()


def _dead_letter_of(value: bytes, headers=((SCHEMA_HEADER, b"raw_turn/v2"),)) -> DeadLetterV1:
    harness, message = _raw(value, headers)
    outcome = harness.run(message)
    assert [p.logical_topic for p in outcome.publications] == ["deadletter"]
    letter = DeadLetterV1.model_validate_json(outcome.publications[0].value)
    assert original_value(letter) == value
    return letter


def test_regression_an_integer_over_4300_digits_is_not_json_not_a_crash():
    # int() refuses more than 4300 digits with a plain ValueError, which escaped the decode edge.
    text = _raw_turn_text().replace('"turn_index": 4', '"turn_index": ' + "9" * 5000)
    letter = _dead_letter_of(text.encode())
    assert letter.reason_code is R.NOT_JSON and "digits" in letter.reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-2e308"])
def test_regression_nan_infinity_and_float_overflow_are_not_json(literal):
    # Python's json reads these as nan/inf; a float field without bounds took them and the output
    # carried null, so the NEXT service dead-lettered it as schema_invalid.
    document = json.loads(_raw_turn_text())
    text = json.dumps({**document, "metadata": {"asr_confidence": "__MARK__"}}).replace('"__MARK__"', literal)
    assert json.loads(text)  # the standard library accepts it
    letter = _dead_letter_of(text.encode())
    assert letter.reason_code is R.NOT_JSON, letter.reason


def test_regression_duplicate_keys_are_not_json():
    # Last-wins parsing accepted it; a first-wins reader (or a filter in front) sees a different event.
    text = _raw_turn_text()
    letter = _dead_letter_of(('{"event_id": "attacker-chosen", ' + text[1:]).encode())
    assert letter.reason_code is R.NOT_JSON and "event_id" in letter.reason


@pytest.mark.parametrize("where", ["schema_name", "event_id", "text", "metadata_key"])
def test_regression_an_unpaired_surrogate_escape_is_not_json_not_a_crash(where):
    # "\\ud800" decodes to a str that cannot be encoded as UTF-8: in schema_name it went into the dead
    # letter's reason and encoding the dead letter raised (the service would crash-loop on it).
    document = json.loads(_raw_turn_text())
    if where == "metadata_key":
        text = json.dumps({**document, "metadata": {"__MARK__": 1}})
    else:
        text = json.dumps({**document, where: "__MARK__"})
    value = text.replace("__MARK__", "\\ud800", 1).encode()
    letter = _dead_letter_of(value, headers=())
    assert letter.reason_code is R.NOT_JSON, letter.reason


def test_a_paired_surrogate_escape_is_a_character_and_stays_valid():
    document = json.loads(_raw_turn_text())
    value = json.dumps({**document, "text": "hello \U0001f600"}).encode()  # ensure_ascii: "\\ud83d\\ude00"
    assert b"\\ud83d\\ude00" in value
    harness, message = _raw(value)
    outcome = harness.run(message)
    assert outcome.dead_letter_reason is None
    assert "\U0001f600" in json.loads(outcome.publications[0].value)["text"]


def test_regression_conflicting_schema_headers_are_an_unknown_schema():
    # The first header won, so the record was decoded by one reader's idea of its schema.
    for headers in ([(SCHEMA_HEADER, b"raw_turn/v2"), (SCHEMA_HEADER, b"raw_turn/v1")],
                    [(SCHEMA_HEADER, b"raw_turn/v2"), (SCHEMA_HEADER, b"features/v1")]):
        letter = _dead_letter_of(_raw_turn_text().encode(), headers=headers)
        assert letter.reason_code is R.UNKNOWN_SCHEMA, letter.reason


def test_repeated_identical_schema_headers_are_fine():
    harness, message = _raw(_raw_turn_text().encode(), ((SCHEMA_HEADER, b"raw_turn/v2"),) * 2)
    assert harness.run(message).dead_letter_reason is None


async def test_regression_a_dead_letter_never_fails_on_text_that_is_not_unicode():
    # The dead-letter writer is the last line: a reason that cannot be encoded made it raise, so the
    # record crashed the service (exit 70, then the same record again) instead of being dead-lettered.
    def handler(event, state, context):
        raise ValueError("bad \ud800 value")

    pipeline = Pipeline(service="fuzz", contract=CONTRACT, namespace=NAMESPACE, source="turns.raw", handler=handler,
                        metrics=ServiceMetrics("fuzz"), tracer=TracerProvider().get_tracer("fuzz"),
                        max_message_bytes=MAX_MESSAGE_BYTES, clock=lambda: NOW, sleep=_no_sleep)
    example = examples_for(CONTRACT.get("turns.raw"))[0]
    message = InboundMessage(topic="fuzz.turns.raw", partition=0, offset=1, timestamp=None, key=b"k",
                             value=example.value(), headers=(("x-\ud800", b"v"),))
    outcome = await pipeline.process(message, {})
    letter = DeadLetterV1.model_validate_json(outcome.publications[0].value)
    assert letter.reason_code is R.HANDLER_ERROR
    assert "bad \\ud800 value" in letter.reason
    assert letter.original_headers[0].key == "x-\\ud800"
    assert original_value(letter) == example.value()
