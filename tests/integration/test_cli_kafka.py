"""`sluice` against the real broker: produce a file, tail it, list and replay dead letters, consumer lag.

The CLI runs in-process (`main([...])`) with SLUICE_BOOTSTRAP_SERVERS / SLUICE_NAMESPACE pointing at the
test broker and this test's namespace; every command waits for the broker's acknowledgements before it
returns, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer

from schemas.dead_letter.v1 import DeadLetterReason
from services.runtime.cli import REPLAYED_FROM_HEADER, main
from services.runtime.codec import encode
from services.runtime.deadletter import InboundMessage, dead_letter_for
from services.runtime.kafka_tools import collect, end_offsets, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration


def turn(conversation: str, index: int, **changes) -> dict:
    return {"schema_name": "raw_turn", "schema_version": 2, "event_id": f"{conversation}-t{index}",
            "occurred_at": "2026-11-27T09:30:17Z", "conversation_id": conversation, "turn_index": index,
            "role": "customer", "text": f"I was charged twice ({index})", "started_at": "2026-11-27T09:30:12Z",
            "ended_at": "2026-11-27T09:30:17Z", "channel": "voice", "language": "en-US", "tenant_id": "acme",
            **changes}


LEGACY = {"schema_name": "raw_turn", "schema_version": 1, "event_id": "c9-t0", "occurred_at": "2026-11-27T09:30:17Z",
          "conversation_id": "c9", "turn_index": 0, "speaker": "Caller", "text": "old client here",
          "timestamp": "2026-11-27T09:30:17Z", "medium": "phone", "tenant": "acme"}


@pytest.fixture
def cli_env(kafka, namespace, monkeypatch):
    monkeypatch.setenv("SLUICE_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("SLUICE_NAMESPACE", namespace)
    return namespace


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_produce_file_with_a_bad_line_then_tail_decodes_everything(cli_env, kafka, tmp_path, capsys):
    path = tmp_path / "turns.jsonl"
    lines = [json.dumps(turn("c1", 0)), json.dumps(turn("c1", 1, role="agent")), "this is not json",
             json.dumps(LEGACY), ""]
    path.write_text("\n".join(lines) + "\n")

    code, out, err = run_cli(capsys, "produce", "--file", str(path), "--rate", "200")
    assert code == 0, err
    assert f"produced 4 records to {cli_env}.turns.raw" in out and err == ""  # not a TTY: no progress bar

    code, out, err = run_cli(capsys, "tail", "turns.raw", "--from-beginning")
    assert code == 0, err
    shown = out.splitlines()
    assert len(shown) == 4, out
    assert sum("UNDECODABLE not_json" in line for line in shown) == 1
    assert any("raw_turn/v2(from raw_turn/v1) c9#0 customer" in line for line in shown), out
    assert any(' c1 raw_turn/v2 c1#1 agent voice "I was charged twice (1)"' in line for line in shown), out

    code, out, _ = run_cli(capsys, "tail", "turns.raw", "--from-beginning", "--conversation", "c1", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert sorted(e["turn_index"] for e in events) == [0, 1] and {e["conversation_id"] for e in events} == {"c1"}

    # --follow stops at --limit (from the beginning, so the records are there already).
    code, out, _ = run_cli(capsys, "tail", "turns.raw", "--from-beginning", "--follow", "--limit", "2")
    assert code == 0 and len(out.splitlines()) == 2

    # Default: the last --last records per partition, then exit.
    code, out, _ = run_cli(capsys, "tail", "turns.raw", "--last", "0")
    assert code == 0 and out == ""


def write_dead_letter(bootstrap: str, namespace: str) -> None:
    contract, now = load_contract(), datetime.now(timezone.utc)
    message = InboundMessage(topic=f"{namespace}.turns.raw", partition=2, offset=17, timestamp=None,
                             key=b"c7", value=b"conversation_id=c7&text=hello",
                             headers=(("x-client", b"crm-3"),))
    letter = dead_letter_for(message, service="ingestion", code=DeadLetterReason.NOT_JSON,
                             reason="value is not JSON: Expecting value: line 1 column 1 (char 0)", now=now)
    encoded = encode(letter, contract.get("deadletter"), "ingestion", now)
    asyncio.run(produce_records(bootstrap, f"{namespace}.deadletter", [(encoded.key, encoded.value, encoded.headers)]))


def test_dlq_list_then_replay_with_a_fix_and_refusals(cli_env, kafka, tmp_path, capsys):
    namespace = cli_env
    write_dead_letter(kafka.bootstrap, namespace)

    code, out, err = run_cli(capsys, "dlq", "list")
    assert code == 0, err
    [line] = out.splitlines()
    assert f"source={namespace}.turns.raw[2]@17 service=ingestion reason=not_json" in line
    assert 'original="conversation_id=c7&text=hello"' in line and "1 dead letter(s)" in err
    position = line.split()[0]
    assert run_cli(capsys, "dlq", "list", "--reason", "oversize")[1] == ""
    assert run_cli(capsys, "dlq", "list", "--source-topic", "features")[1] == ""
    assert run_cli(capsys, "dlq", "list", "--source-topic", "turns.raw", "--limit", "1")[1] == out

    # The original bytes are still not JSON: refused, nothing sent.
    raw = f"{namespace}.turns.raw"
    before = asyncio.run(end_offsets(kafka.bootstrap, [raw]))
    code, out, err = run_cli(capsys, "dlq", "replay", "--offset", position, "--as-is")
    assert code == 2 and err.count("\n") == 1 and "refused" in err and "not_json" in err, err
    still_bad = tmp_path / "still_bad.json"
    still_bad.write_text(json.dumps(turn("c7", 0, turn_index="four")))
    code, out, err = run_cli(capsys, "dlq", "replay", "--offset", position, "--fix-file", str(still_bad))
    assert code == 2 and err.count("\n") == 1 and "refused" in err and "turn_index" in err, err
    assert asyncio.run(end_offsets(kafka.bootstrap, [raw])) == before

    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(turn("c7", 0)) + "\n")
    code, out, err = run_cli(capsys, "dlq", "replay", "--offset", position, "--fix-file", str(fixed))
    assert code == 0, err
    assert f"to {raw} key=c7" in out
    [record] = asyncio.run(collect(kafka.bootstrap, raw, before, expect=1, timeout_s=20, settle_s=0))
    headers = dict(record.headers)
    assert record.key == b"c7" and json.loads(record.value)["conversation_id"] == "c7"
    assert headers["x-client"] == b"crm-3"
    assert headers[REPLAYED_FROM_HEADER] == f"{namespace}.deadletter:{position}".encode()

    code, out, err = run_cli(capsys, "dlq", "replay", "--offset", "0:999999", "--as-is")
    assert code == 2 and err.count("\n") == 1 and "has no offset 999999" in err, err


def test_topics_lag_after_a_consumer_commits_part_of_a_topic(cli_env, kafka, capsys):
    namespace = cli_env
    topic = f"{namespace}.turns.validated"
    records = [(f"c{i}".encode(), b"{}", []) for i in range(30)]
    asyncio.run(produce_records(kafka.bootstrap, topic, records))
    ends = asyncio.run(end_offsets(kafka.bootstrap, [topic]))
    busiest = max(ends, key=lambda tp: ends[tp])
    commits = {tp: (1 if tp == busiest else end) for tp, end in ends.items()}
    group = f"{namespace}.features"

    async def commit() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(list(ends))
            await consumer.commit(commits)
        finally:
            await consumer.stop()

    asyncio.run(commit())
    expected = ends[busiest] - 1
    code, out, err = run_cli(capsys, "topics", "lag", "-v")
    assert code == 0, err
    assert f"group {group}  lag {expected}" in out, out
    assert any(line.strip().startswith(topic) and line.rstrip().endswith(f"lag {expected:>7}")
               for line in out.splitlines()), out
    assert f"partition {busiest.partition:<3} committed         1  end {ends[busiest]:>9}" in out, out

    code, out, _ = run_cli(capsys, "topics", "lag", "--group", "features")
    assert code == 0 and f"group {group}  lag {expected}" in out and "partition" not in out
    code, _, err = run_cli(capsys, "topics", "lag", "--group", "nobody")
    assert code == 2 and err.count("\n") == 1 and "no consumer group 'nobody'" in err


def test_unknown_topic_and_missing_topics_are_one_line(cli_env, kafka, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "tail", "turns.nope")
    assert code == 2 and err.count("\n") == 1 and "unknown topic 'turns.nope'" in err
    monkeypatch.setenv("SLUICE_NAMESPACE", "neverbootstrapped")
    code, _, err = run_cli(capsys, "tail", "deadletter")
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err and "topics bootstrap" in err, err


def test_produce_from_the_generator_then_tail_a_conversation(cli_env, capsys):
    pytest.importorskip("services.runtime.conversations")
    code, out, err = run_cli(capsys, "produce", "--generator", "--count", "12", "--seed", "3", "--run-id", "gen")
    assert code == 0 and f"produced 12 records to {cli_env}.turns.raw" in out, err
    code, out, err = run_cli(capsys, "tail", "turns.raw", "--from-beginning", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(events) == 12 and all(e["schema_name"] == "raw_turn" for e in events), err
    conversation = events[0]["conversation_id"]
    code, out, _ = run_cli(capsys, "tail", "turns.raw", "--from-beginning", "--conversation", conversation)
    assert out and all(f" {conversation} " in line for line in out.splitlines())
