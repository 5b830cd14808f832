"""The `sluice` command answers errors with one line and a non-zero status, never a traceback."""

import asyncio
import io
import sys
import types
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from aiokafka import TopicPartition

from schemas.dead_letter.v1 import DeadLetterReason
from schemas.examples import EXAMPLES
from services.runtime import cli, kafka_tools
from services.runtime.cli import main
from services.runtime.deadletter import InboundMessage, dead_letter_for
from services.runtime.sample_traffic import RawRecord


def test_unknown_service_is_one_line_and_status_2(capsys):
    assert main(["run", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown service 'nope'" in err and "Traceback" not in err


def test_unknown_schema_is_one_line(capsys):
    assert main(["schemas", "show", "nope/v3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown schema nope/v3" in err


def test_unreachable_kafka_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("SLUICE_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert main(["topics", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach Kafka" in err


def test_schemas_list_names_every_version(capsys):
    assert main(["schemas", "list"]) == 0
    out = capsys.readouterr().out
    assert "raw_turn           v1, v2" in out and "dead_letter        v1" in out


# --- parsing, formatting, pacing (no broker) -------------------------------------------------------------


@dataclass
class FakeRecord:
    partition: int = 1
    offset: int = 42
    timestamp: int = 1_795_000_000_000
    key: bytes | None = b"c42"
    value: bytes | None = None
    headers: tuple = ()


def test_pacing_follows_an_absolute_schedule():
    # Record i is due at start + i/rate whatever happened before: a late send is caught up, never carried.
    assert kafka_tools.pacing_delay(0, 10, start=100.0, now=100.0) == 0
    assert kafka_tools.pacing_delay(5, 10, start=100.0, now=100.2) == pytest.approx(0.3)
    assert kafka_tools.pacing_delay(5, 10, start=100.0, now=100.9) == 0  # behind: send at once
    assert kafka_tools.pacing_delay(1000, 0, start=0.0, now=0.0) == 0  # rate 0 = as fast as possible


def test_produce_paced_sleeps_only_until_each_records_slot(monkeypatch):
    sent, slept = [], []
    now = [0.0]

    class FakeProducer:
        def __init__(self, **_):
            pass

        async def start(self):
            pass

        async def stop(self):
            pass

        async def send(self, topic, value, key, headers):
            sent.append((now[0], value))
            now[0] += 0.05  # every send takes 50 ms
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    async def fake_sleep(seconds):
        slept.append(round(seconds, 6))
        now[0] += seconds

    monkeypatch.setattr(kafka_tools, "AIOKafkaProducer", FakeProducer)
    records = [(None, str(i).encode(), []) for i in range(5)]
    count = asyncio.run(kafka_tools.produce_paced("x", "t", records, rate=10, clock=lambda: now[0], sleep=fake_sleep))
    assert count == 5
    assert [round(t, 6) for t, _ in sent] == [0.0, 0.1, 0.2, 0.3, 0.4]  # no drift from the 50 ms sends
    assert slept == [0.05, 0.05, 0.05, 0.05]


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, plain = Tty(), io.StringIO()
    clock = iter([0.0, 0.5, 1.0, 1.01, 2.0]).__next__
    bar = cli.Progress(4, stream=tty, clock=clock)
    for done in (1, 2, 3, 4):
        bar.update(done)
    bar.close()
    frames = tty.getvalue().split("\r")[1:]
    assert len(frames) == 3  # 3 was drawn 10 ms after 2: skipped; the last one always drawn
    assert frames[-1].startswith("[" + "#" * 30 + "] 4/4 100%") and frames[-1].endswith("\n")
    silent = cli.Progress(4, stream=plain)
    silent.update(4)
    silent.close()
    assert plain.getvalue() == ""
    assert cli.progress_line(512, 1000, 5.0, width=10) == "[#####.....]  512/1000  51%   102.4/s"


def test_jsonl_file_is_sent_as_is_bad_lines_included(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"conversation_id": "c1", "text": "hi"}\n\nnot json\n[1, 2]\n{"conversation_id": 5}\n')
    records = cli.read_jsonl_file(str(path))
    assert [(k, v) for k, v, _ in records] == [
        (b"c1", b'{"conversation_id": "c1", "text": "hi"}'), (None, b"not json"), (None, b"[1, 2]"),
        (None, b'{"conversation_id": 5}')]


@pytest.mark.parametrize("content, message", [(None, "cannot read"), (b"\n  \n", "has no records")])
def test_bad_produce_files_are_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "in.jsonl"
    if content is not None:
        path.write_bytes(content)
    assert main(["produce", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_generator_mode_uses_the_conversations_module(monkeypatch, capsys):
    calls = {}

    @dataclass
    class GeneratedTurn:
        record: RawRecord

    def generate_turns(count, *, seed=7, scenario="stationary", run_id=None, drift_after=None):
        calls.update(count=count, seed=seed, scenario=scenario, run_id=run_id, drift_after=drift_after)
        return [GeneratedTurn(RawRecord(b"c1", b"{}", [("sluice-schema", b"raw_turn/v2")], "e1"))] * count

    fake = types.ModuleType("services.runtime.conversations")
    fake.SCENARIOS = ("stationary", "gradual_drift")
    fake.generate_turns = generate_turns
    monkeypatch.setitem(sys.modules, "services.runtime.conversations", fake)
    produced = {}

    async def fake_produce(bootstrap, topic, records, *, rate, on_sent, security=None):
        produced.update(topic=topic, records=list(records), rate=rate)
        return len(produced["records"])

    monkeypatch.setattr(kafka_tools, "produce_paced", fake_produce)
    monkeypatch.setenv("SLUICE_NAMESPACE", "unit")
    assert main(["produce", "--generator", "--scenario", "gradual_drift", "--count", "3", "--seed", "9",
                 "--drift-after", "2", "--rate", "50"]) == 0
    assert calls == {"count": 3, "seed": 9, "scenario": "gradual_drift", "run_id": None, "drift_after": 2}
    assert produced["topic"] == "unit.turns.raw" and produced["rate"] == 50
    assert produced["records"][0] == (b"c1", b"{}", [("sluice-schema", b"raw_turn/v2")])
    assert "produced 3 records to unit.turns.raw" in capsys.readouterr().out

    assert main(["produce", "--generator", "--scenario", "chaos"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scenario 'chaos'; scenarios: stationary, gradual_drift" in err


def test_sample_mode_still_sends_the_demo_mix(monkeypatch, capsys):
    produced = {}

    async def fake_produce(bootstrap, topic, records, *, rate, on_sent, security=None):
        produced["records"] = list(records)
        return len(produced["records"])

    monkeypatch.setattr(kafka_tools, "produce_paced", fake_produce)
    assert main(["produce", "--valid", "10", "--malformed", "4", "--duplicates", "2"]) == 0
    assert len(produced["records"]) == 16
    assert "10 valid, 4 malformed" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["produce", "--rate", "-1", "--file", "x"], "--rate must be >= 0"),
    (["produce", "--topic", "nope", "--valid", "1"], "unknown topic 'nope'"),
    (["produce", "--file", "a", "--generator"], "not allowed with argument"),
    (["tail", "turns.raw", "--limit", "0"], "--limit must be at least 1"),
    (["tail"], "the following arguments are required: topic"),
    (["dlq", "replay", "--offset", "3"], "one of the arguments --fix-file --as-is is required"),
    (["dlq", "replay", "--offset", "3", "--as-is"], "bad --offset '3'"),
    (["dlq", "replay", "--offset", "a:1", "--fix-file", "f"], "bad --offset 'a:1'"),
    (["dlq", "list", "--reason", "bogus"], "unknown reason 'bogus'"),
    (["dlq", "list", "--source-topic", "bogus"], "unknown topic 'bogus'"),
    (["schemas", "compat", "nope"], "unknown schema 'nope'"),
    (["schemas", "compat", "raw_turn", "--from", "v7"], "raw_turn has no v7"),
    (["schemas", "compat", "raw_turn", "--from", "two"], "bad version 'two'"),
    (["schemas", "compat", "raw_turn", "--from", "v2", "--to", "v1"], "newer than --to"),
    (["topics", "nope"], "invalid choice: 'nope'"),
])
def test_usage_errors_are_one_line_without_traceback(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err and "usage:" not in err, err


def test_help_exits_zero(capsys):
    assert main(["dlq", "replay", "--help"]) == 0
    assert "--fix-file" in capsys.readouterr().out


def test_kafka_down_is_one_line_for_the_new_commands(capsys, monkeypatch):
    monkeypatch.setenv("SLUICE_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    for argv in (["tail", "turns.raw"], ["dlq", "list"], ["topics", "lag"], ["dlq", "replay", "--offset", "0:1",
                                                                               "--as-is"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot reach Kafka" in err, (argv, err)


def test_schemas_compat(capsys):
    assert main(["schemas", "compat", "raw_turn", "--from", "v2", "--to", "v2"]) == 0
    assert capsys.readouterr().out == "raw_turn/v2 (checked-in contract -> code): compatible\n"
    assert main(["schemas", "compat", "raw_turn"]) == 1  # v1 -> v2 is a major version: breaking, upcast
    out = capsys.readouterr().out
    assert out.startswith("raw_turn/v1 -> v2: INCOMPATIBLE") and "speaker: field removed" in out
    assert "upcaster v1 -> v2: registered" in out and "schema_version" not in out


def test_tail_lines_per_schema():
    examples = {e.schema_key(): e for e in EXAMPLES}
    record = FakeRecord()
    raw = examples[("raw_turn", 2)]
    line = cli.summary_line(record, raw, "raw_turn/v1")
    assert line.startswith("2026-11-18T") and " 1:42 c42 raw_turn/v2(from raw_turn/v1) " in line
    assert f"{raw.conversation_id}#{raw.turn_index} {raw.role} {raw.channel}" in line
    examples = {name: e for (name, _), e in sorted(examples.items())}
    enriched = examples["enriched_turn"]
    line = cli.summary_line(record, enriched)
    assert f"verdict={enriched.verdict}" in line
    assert f"{enriched.predictions[0].task}={enriched.predictions[0].label}" in line
    letter = examples["dead_letter"]
    line = cli.summary_line(record, letter)
    assert f"{letter.reason_code} {letter.service} {letter.source_topic}" in line
    for example in EXAMPLES:  # every schema has its own compact line (no fallback) on one line
        assert "\n" not in cli._SUMMARIES[example.schema_key()[0]](example)
        assert cli.summary_line(record, example).count("\n") == 0


def test_dead_letter_line_and_preview():
    now = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    message = InboundMessage("sluice.turns.raw", 2, 17, None, b"c7", b"caf\xe9 " + b"x" * 100, ())
    letter = dead_letter_for(message, service="ingestion", code=DeadLetterReason.NOT_UTF8,
                             reason="value is not UTF-8", now=now)
    line = cli.dead_letter_line(FakeRecord(partition=0, offset=3), letter)
    assert line.startswith("0:3 ") and "source=sluice.turns.raw[2]@17 service=ingestion reason=not_utf8" in line
    assert 'original="caf\\\\xe9 xxx' in line and "(105 bytes)" in line
    assert cli.preview(None) == "null" and cli.preview(b'{"a": 1}') == '"{\\"a\\": 1}"'


def test_replay_headers_keep_the_originals_and_mark_the_replay():
    headers = cli.replay_headers([("x", b"1"), ("sluice-replayed-from", b"old"), ("n", None)], "ns.deadletter:0:3")
    assert headers == [("x", b"1"), ("n", b""), ("sluice-replayed-from", b"ns.deadletter:0:3")]
    assert cli.parse_offset("2:17") == (2, 17)


def test_lag_lines():
    lag = {"sluice.ingestion": {TopicPartition("sluice.turns.raw", 0): (5, 10),
                                TopicPartition("sluice.turns.raw", 1): (7, 7)}}
    lines = cli.lag_lines(lag, verbose=True)
    assert lines[0] == "group sluice.ingestion  lag 5"
    assert lines[1].split() == ["sluice.turns.raw", "committed", "12", "end", "17", "lag", "5"]
    assert lines[2].split() == ["partition", "0", "committed", "5", "end", "10", "lag", "5"]
    assert len(cli.lag_lines(lag)) == 2
