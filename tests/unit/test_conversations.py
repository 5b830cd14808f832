"""services.runtime.conversations: the synthetic call-centre traffic generator (and the JSON-lines helpers)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from itertools import islice

import pytest

from schemas.raw_turn.v2 import RawTurnV2
from services.ingestion.handlers import IngestionRules, make_raw_turn_handler
from services.runtime.codec import SCHEMA_HEADER, DecodeError, decode, header_value
from services.runtime.conversations import (
    INTENTS,
    SCENARIOS,
    TENANTS,
    GeneratedTurn,
    TurnTruth,
    generate_turns,
    iban_valid,
    iter_turns,
    luhn_valid,
    texts,
)
from services.runtime.handler import HandlerContext
from services.runtime.sample_traffic import jsonl_lines, read_jsonl, valid_records
from services.runtime.topics import DEFAULT_CONTRACT, load_contract

RAW = load_contract(DEFAULT_CONTRACT).get("turns.raw")
MAX_BYTES = 1_048_576
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

# Shared samples (generated once per module: generation is ~0.1 ms per turn).
N = 10_000
STATIONARY = generate_turns(N, seed=21)
DRIFT_N, DRIFT_AT = 8_000, 4_000


def _text(turn: GeneratedTurn) -> str:
    return json.loads(turn.record.value)["text"]


def test_same_seed_same_bytes_and_different_seed_different_traffic():
    first = generate_turns(600, seed=3, scenario="noisy_transcripts", legacy_share=0.1)
    again = generate_turns(600, seed=3, scenario="noisy_transcripts", legacy_share=0.1)
    assert [(t.record, t.truth) for t in first] == [(t.record, t.truth) for t in again]
    other = generate_turns(600, seed=4, scenario="noisy_transcripts", legacy_share=0.1)
    assert texts(first) != texts(other)


def test_run_id_prefixes_ids_and_generate_is_a_prefix_of_the_stream():
    turns = generate_turns(200, seed=5, run_id="demo42", drift_after=100, scenario="channel_shift")
    for turn in turns:
        body = json.loads(turn.record.value)
        assert turn.record.event_id == body["event_id"] and body["event_id"].startswith("demo42-")
        assert body["conversation_id"].startswith("demo42-conv-")
        assert turn.record.key == body["conversation_id"].encode()
    assert len({t.record.event_id for t in turns}) == 200
    stream = list(islice(iter_turns(seed=5, run_id="demo42", drift_after=100, scenario="channel_shift"), 200))
    assert [t.record for t in stream] == [t.record for t in turns]
    # Without a run id, the prefix is derived from the seed (reproducible, like sample_traffic).
    assert generate_turns(5, seed=9)[0].record.event_id == generate_turns(5, seed=9)[0].record.event_id
    assert generate_turns(5, seed=9)[0].record.event_id != generate_turns(5, seed=10)[0].record.event_id


def test_every_record_decodes_as_raw_turn_v2_and_ingestion_accepts_it():
    turns = generate_turns(3_000, seed=8, legacy_share=0.2, scenario="noisy_transcripts", drift_after=1_000)
    handler = make_raw_turn_handler(IngestionRules())
    context = HandlerContext(service="ingestion", now=NOW, source_topic="turns.raw", partition=0, offset=0)
    schemas = Counter()
    for turn in turns:
        schemas[header_value(turn.record.headers, SCHEMA_HEADER)] += 1
        event = decode(turn.record.value, turn.record.headers, RAW, MAX_BYTES)
        assert isinstance(event, RawTurnV2)
        assert event.event_id == turn.record.event_id
        assert event.role.value == turn.truth.role and event.channel.value == turn.truth.channel
        assert event.tenant_id == TENANTS[turn.truth.industry]
        assert event.started_at <= event.ended_at
        assert [o.topic for o in handler(event, {}, context).outputs] == ["turns.validated"]
    assert 0.15 < schemas[b"raw_turn/v1"] / len(turns) < 0.25
    assert set(schemas) == {b"raw_turn/v1", b"raw_turn/v2"}


def test_conversations_are_ordered_well_formed_and_interleaved():
    by_conversation = defaultdict(list)
    order = []
    for turn in STATIONARY:
        body = json.loads(turn.record.value)
        by_conversation[body["conversation_id"]].append((body, turn.truth))
        order.append(body["conversation_id"])
    assert len(set(order[:20])) > 2  # several conversations in flight at once
    lengths = []
    for conv, items in list(by_conversation.items())[:-20]:  # the last few are cut off by `count`
        assert [b["turn_index"] for b, _ in items] == list(range(len(items)))
        ends = [datetime.fromisoformat(b["ended_at"]) for b, _ in items]
        starts = [datetime.fromisoformat(b["started_at"]) for b, _ in items]
        assert ends == sorted(ends) and all(s >= e for s, e in zip(starts[1:], ends[:-1]))
        assert len({t.industry for _, t in items}) == 1 and len({b["channel"] for b, _ in items}) == 1
        assert len({b["tenant_id"] for b, _ in items}) == 1
        lengths.append(len(items))
    assert min(lengths) >= 4 and max(lengths) <= 12 and len(set(lengths)) >= 8


def test_labels_roles_industries_and_styles_cover_the_space():
    truths = [t.truth for t in STATIONARY]
    assert {t.intent for t in truths} == set(INTENTS)
    assert {t.industry for t in truths} == set(TENANTS)
    assert {t.role for t in truths} == {"customer", "agent", "bot"}
    assert {(t.channel, t.style) for t in truths} == {("voice", "voice"), ("chat", "chat")}
    assert {t.sentiment for t in truths} == {"negative", "neutral", "positive"}
    assert all(t.sentiment != "negative" for t in truths if t.role != "customer")  # polite agents, neutral bots
    assert all(t.sentiment == "negative" and t.role == "customer" for t in truths if t.toxic)
    assert all(t.role == "customer" and t.channel == "chat" for t in truths if t.injection)
    assert not any(t.drifted for t in truths)


def test_voice_and_chat_styles_differ():
    voice = [_text(t) for t in STATIONARY if t.truth.style == "voice" and t.truth.role == "customer"]
    chat = [_text(t) for t in STATIONARY if t.truth.style == "chat" and t.truth.role != "bot"]
    assert all(v == v.lower() and not re.search(r"[.,?!\d]", v.replace("[inaudible]", "")) for v in voice)
    fillers = sum(bool(re.search(r"\b(um|uh)\b", v)) for v in voice) / len(voice)
    assert fillers > 0.15
    assert sum(any(c.isupper() for c in c_) for c_ in chat) / len(chat) > 0.6
    assert sum(bool(re.search(r"[.?!]", c)) for c in chat) / len(chat) > 0.6
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", c) for c in chat)  # emoji occasionally


def test_every_pii_value_appears_in_its_text_and_numbers_are_valid():
    kinds = Counter()
    for turn in STATIONARY:
        text = _text(turn)
        for value in turn.truth.pii_values:
            assert value in text
            assert turn.truth.role == "customer"
            if turn.truth.style == "voice":
                assert value == value.lower() and not re.search(r"\d", value)  # read aloud
            digits = re.sub(r"[ -]", "", value)
            if re.fullmatch(r"\d{15,16}", digits):
                assert luhn_valid(digits)
                kinds["card"] += 1
            elif re.fullmatch(r"[A-Z]{2}\d\d[A-Z0-9 ]{10,}", value):
                assert iban_valid(value)
                kinds["iban"] += 1
            elif "@" in value:
                kinds["email"] += 1
            elif re.fullmatch(r"\d{3}-\d{2}-\d{4}", value):
                assert not value.startswith(("000", "666", "9"))
                kinds["ssn"] += 1
            elif " at " in value and " dot " in value:
                kinds["spoken_email"] += 1
    assert set(kinds) == {"card", "iban", "email", "ssn", "spoken_email"}


def _shares(turns):
    customers = [t.truth for t in turns if t.truth.role == "customer"]
    chat_customers = [t for t in customers if t.channel == "chat"]
    return (sum(t.toxic for t in customers) / len(customers),
            sum(t.injection for t in chat_customers) / len(chat_customers),
            sum(bool(t.pii_values) for t in customers) / len(customers))


def test_default_shares_within_tolerance():
    toxic, injection, pii = _shares(STATIONARY)
    assert toxic == pytest.approx(0.04, abs=0.012)
    assert injection == pytest.approx(0.03, abs=0.012)
    assert pii == pytest.approx(0.15, abs=0.025)


def test_custom_and_zero_shares():
    toxic, injection, pii = _shares(generate_turns(6_000, seed=2, toxic_share=0.2, injection_share=0.1, pii_share=0.3))
    assert toxic == pytest.approx(0.2, abs=0.03)
    assert injection == pytest.approx(0.1, abs=0.03)
    assert pii == pytest.approx(0.3, abs=0.035)
    assert _shares(generate_turns(2_000, seed=2, toxic_share=0, injection_share=0, pii_share=0)) == (0, 0, 0)


def test_benign_lookalikes_appear_in_normal_turns():
    normal = [_text(t).lower() for t in STATIONARY if not t.truth.injection]
    assert sum("instructions" in t or "admin" in t or "system" in t for t in normal) > 30


# ---------------------------------------------------------------- drift

_INTENT_LABELS = [i for i in INTENTS if i not in ("greeting", "closing")]


def _intent_mix(turns):
    counts = Counter(t.truth.intent for t in turns if t.truth.role == "customer" and t.truth.intent in _INTENT_LABELS)
    total = sum(counts.values())
    return {i: counts[i] / total for i in _INTENT_LABELS}


def _tvd(a, b):
    return 0.5 * sum(abs(a[k] - b[k]) for k in a)


def _negative_share(turns):
    customers = [t.truth for t in turns if t.truth.role == "customer"]
    return sum(t.sentiment == "negative" for t in customers) / len(customers)


def _chat_share(turns):
    return sum(t.truth.channel == "chat" for t in turns) / len(turns)


def _tokens(turns):
    return [w for t in turns for w in re.findall(r"[a-z']+", _text(t).lower())]


def _oov(reference, turns):
    vocab = set(_tokens(reference))
    words = _tokens(turns)
    return sum(w not in vocab for w in words) / len(words)


def _asr_noise(turns):
    voice = [_text(t) for t in turns if t.truth.style == "voice"]
    return sum("[inaudible]" in v or bool(re.search(r"\b\w{1,2}- ", v)) for v in voice) / len(voice)


def _statistics(turns):
    """Each scenario's statistic: before (turns 3000-4000) and after (7000-8000) the drift point at 4000."""
    before, after, reference = turns[3_000:DRIFT_AT], turns[7_000:], turns[:3_000]
    return {
        "intent_mix_shift": _tvd(_intent_mix(turns[:DRIFT_AT]), _intent_mix(turns[5_000:])),
        "sentiment_shift": _negative_share(turns[5_000:]) - _negative_share(turns[:DRIFT_AT]),
        "new_vocabulary": _oov(reference, after) - _oov(reference, before),
        "channel_shift": abs(_chat_share(turns[5_000:]) - _chat_share(turns[:DRIFT_AT])),
        "noisy_transcripts": _asr_noise(turns[5_000:]) - _asr_noise(turns[:DRIFT_AT]),
    }


# A change of at least this much in the scenario's own statistic; stationary stays under _NOISE for all (intent mix
# is sampled per conversation, so its stationary TVD between two 4,000-turn windows is ~0.07-0.13).
_CHANGED = {"intent_mix_shift": 0.3, "sentiment_shift": 0.25, "new_vocabulary": 0.015, "channel_shift": 0.35,
            "noisy_transcripts": 0.5}
_NOISE = {"intent_mix_shift": 0.18, "sentiment_shift": 0.05, "new_vocabulary": 0.006, "channel_shift": 0.06,
          "noisy_transcripts": 0.03}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "stationary"])
def test_each_drift_scenario_changes_its_statistic_after_the_drift_point(scenario):
    turns = generate_turns(DRIFT_N, seed=13, scenario=scenario)  # drift_after defaults to half
    assert [t.truth.drifted for t in turns] == [i >= DRIFT_AT for i in range(DRIFT_N)]
    stats = _statistics(turns)
    assert stats[scenario] > _CHANGED[scenario], stats
    if scenario == "intent_mix_shift":
        after = _intent_mix(turns[5_000:])
        assert after["fraud_report"] + after["cancel_service"] > 0.5
    if scenario == "new_vocabulary":
        assert any("fibremax" in t.replace(" ", "").lower() or "zentropay" in t.replace(" ", "").lower()
                   for t in texts(turns[DRIFT_AT:]))
        assert not any("recall" in t.lower() for t in texts(turns[:DRIFT_AT]))


def test_stationary_changes_no_statistic():
    turns = generate_turns(DRIFT_N, seed=13, scenario="stationary")
    stats = _statistics(turns)
    for name, value in stats.items():
        assert abs(value) < _NOISE[name], (name, stats)
    assert not any(t.truth.drifted for t in turns)


def test_iter_turns_drifts_after_1000_by_default_and_rejects_bad_arguments():
    turns = list(islice(iter_turns(seed=1, scenario="channel_shift"), 1_200))
    assert not turns[999].truth.drifted and turns[1_000].truth.drifted
    with pytest.raises(ValueError):
        generate_turns(10, scenario="weekend_spike")
    with pytest.raises(ValueError):
        generate_turns(10, pii_share=1.5)


# ---------------------------------------------------------------- variety and speed

def test_thousands_of_distinct_texts():
    distinct = len(set(texts(STATIONARY[:5_000])))
    assert distinct >= 3_000, distinct
    customer = {_text(t) for t in STATIONARY[:5_000] if t.truth.role == "customer"}
    assert len(customer) >= 1_800


def test_generation_speed_is_reported():
    began = time.perf_counter()
    generate_turns(10_000, seed=99, scenario="noisy_transcripts", legacy_share=0.05)
    print(f"generated 10,000 turns in {time.perf_counter() - began:.2f} s")


# ---------------------------------------------------------------- JSON lines

def test_jsonl_round_trip_keeps_records_and_bad_lines_become_dead_letter_records(tmp_path):
    turns = generate_turns(50, seed=4, legacy_share=0.3)
    lines = list(jsonl_lines(turns))
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    path = tmp_path / "turns.jsonl"
    bad = [b"not json at all\n", b'{"text": "caf\xe9"}\n', b"[1, 2]\n", b"\n"]
    path.write_bytes("".join(lines[:25]).encode() + b"".join(bad) + "".join(lines[25:]).encode())
    records = read_jsonl(path)
    good = [r for r in records if r.headers]
    assert [(r.key, r.value, r.headers, r.event_id) for r in good] == \
           [(t.record.key, t.record.value, t.record.headers, t.record.event_id) for t in turns]
    rejects = [r for r in records if not r.headers]
    assert [r.value for r in rejects] == [b"not json at all", b'{"text": "caf\xe9"}', b"[1, 2]"]
    for record in rejects:
        with pytest.raises(DecodeError):
            decode(record.value, record.headers, RAW, MAX_BYTES)
    assert list(jsonl_lines(valid_records(3))) == [r.value.decode() + "\n" for r in valid_records(3)]


def test_truth_is_frozen():
    with pytest.raises(AttributeError):
        STATIONARY[0].truth.intent = "closing"  # type: ignore[misc]
    assert isinstance(STATIONARY[0].truth, TurnTruth)
