"""Pure helpers of the benchmark suite (infra/bench/suite.py): percentiles, the open-loop schedule, CPU accounting."""

from __future__ import annotations

import math

import pytest

from infra.bench.suite import (
    goal_met, intended_send_ns, latency_summary, parse_proc_stat_cpu, percentile, rate_from_stamps, stage_breakdown,
    turn_id_of)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    # Nearest rank never interpolates: p90 of 1..10 is the 9th value.
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 11)), 91) == 10


def test_latency_summary():
    summary = latency_summary([5.0, 1.0, 3.0, 2.0, 4.0])
    assert summary["p50"] == 3.0 and summary["p99"] == 5.0 and summary["max"] == 5.0
    assert summary["mean"] == 3.0 and summary["n"] == 5
    assert math.isnan(latency_summary([])["p50"])


def test_open_loop_schedule_is_absolute():
    start = 1_000_000_000
    assert intended_send_ns(0, 50.0, start) == start
    assert intended_send_ns(1, 50.0, start) == start + 20_000_000
    # Record i is due at start + i/rate, whatever happened before: no accumulated drift.
    assert intended_send_ns(10_000, 3.0, start) == start + round(10_000 * 1e9 / 3.0)
    with pytest.raises(ValueError):
        intended_send_ns(1, 0.0, start)


def test_proc_stat_parse_handles_spaces_and_parens_in_the_command():
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    line = "4242 (python -m (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 123 0 0\n"
    assert parse_proc_stat_cpu(line, 100) == pytest.approx(3.0)
    assert parse_proc_stat_cpu(line, 1000) == pytest.approx(0.3)


def test_proc_stat_parse_of_this_process():
    with open("/proc/self/stat") as f:
        assert parse_proc_stat_cpu(f.read(), 100) >= 0.0


def test_rate_from_stamps():
    assert rate_from_stamps([1000, 1500, 2000]) == pytest.approx(2.0)
    assert math.isnan(rate_from_stamps([1000]))
    assert math.isnan(rate_from_stamps([1000, 1000]))


def test_goal_met():
    assert goal_met(1.5, 2.0, higher_is_better=False) is True
    assert goal_met(2.5, 2.0, higher_is_better=False) is False
    assert goal_met(0.96, 0.95, higher_is_better=True) is True
    assert goal_met(float("nan"), 0.95, higher_is_better=True) is None


def test_turn_id_of():
    assert turn_id_of(b'{"event_id": "e1", "turn_id": "run-0000001", "x": 1}') == "run-0000001"
    assert turn_id_of(b'{"turn_id":"a"}') == "a"
    assert turn_id_of(b'{"event_id": "e1"}') is None
    assert turn_id_of(None) is None


def test_stage_breakdown():
    intended = {"a": 1_000_000_000, "b": 2_000_000_000, "lost": 3_000_000_000}
    validated = {"a": 1010, "b": 2020, "lost": 3010}
    features = {"a": 1050, "b": 2100, "lost": None}
    final = {"a": 1060, "b": 2130}
    first, second, last = stage_breakdown(intended, [validated, features], final)
    assert first["n"] == 2 and first["max"] == 20 and first["p50"] == 10
    assert second["p50"] == 40 and second["max"] == 80
    assert last["p50"] == 10 and last["max"] == 30
