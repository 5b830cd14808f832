"""The `sluice` command answers errors with one line and a non-zero status, never a traceback."""

from services.runtime.cli import main


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
