"""Drift end to end on real Kafka and the real Triton server: generated conversations through ingestion,
features, inference, guardrails and drift.

- channel_shift: after DRIFT_AFTER stationary turns, most conversations move from voice to chat (punctuation,
  digits written as digits); the drift service must raise an alert on a numeric feature within MAX_DELAY
  turns of the change, and nothing before the change. (Offline, the same detectors on the same generator,
  seeds 17-26: first alert 159-749 turns after the change in 9 of 10 runs, none within 1,000 turns in one;
  `python -m infra.drift.traffic_check` reproduces the false-alarm side.)
- stationary: the same number of turns from the unchanged distribution raises no alert at all.

Detectors here use a reference of 100 windows of 5 turns (the default is 200) so that the test fits CI; per-turn
signals are armed after 500 turns, while conversation-level ones (class mix, confidence, embedding: sampled once
per conversation) need about eight times as many turns and stay in warm-up here. The README gives offline
delays for every scenario at the defaults (python -m infra.drift.traffic_check).
"""

from __future__ import annotations

import asyncio

import pytest

from schemas.drift_alert.v1 import DriftAlertV1
from schemas.drift_observation.v1 import DriftObservationV1
from services.runtime.conversations import generate_turns
from services.runtime.kafka_tools import collect, group_lag, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
DRIFT_AFTER = 600
TURNS = 2200
MAX_DELAY = 1500
BURN_IN = 60
DRIFT_ENV = {"SLUICE_DRIFT_WINDOW": "5", "SLUICE_DRIFT_REFERENCE_WINDOWS": "100", "SLUICE_DRIFT_COOLDOWN_S": "0"}


async def run_scenario(kafka, triton, namespace, service_factory, scenario: str):
    physical = lambda logical: CONTRACT.physical(logical, namespace)  # noqa: E731
    env = {"SLUICE_FEATURES_TRITON_URL": triton.grpc_url, "SLUICE_INFERENCE_TRITON_URL": triton.grpc_url}
    for name in ("ingestion", "features", "inference", "guardrails"):
        service_factory(name, **env).start()
    drift = service_factory("drift", **DRIFT_ENV).start()
    # The generator starts with every conversation at its first turn; skip that start-up transient.
    turns = generate_turns(BURN_IN + TURNS, seed=17, run_id=namespace, scenario=scenario,
                           drift_after=BURN_IN + DRIFT_AFTER)[BURN_IN:]
    await produce_records(kafka.bootstrap, physical("turns.raw"), [(t.record.key, t.record.value, t.record.headers)
                                                                    for t in turns])
    # every turn yields one observation from its prediction and one from its verdict
    observations = await collect(kafka.bootstrap, physical("drift.observations"), None, expect=2 * TURNS,
                                 timeout_s=600, settle_s=3.0)
    assert len(observations) >= 2 * TURNS, drift.log_tail()
    # the detectors have seen every observation once the drift group has committed up to the end
    group = f"{namespace}.drift"
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        lag = await group_lag(kafka.bootstrap, [group])
        done = [(committed, end) for tp, (committed, end) in lag.get(group, {}).items()
                if tp.topic == physical("drift.observations")]
        if done and all(committed >= end for committed, end in done):
            break
        assert asyncio.get_running_loop().time() < deadline, f"drift did not catch up: {done}\n{drift.log_tail()}"
        await asyncio.sleep(0.5)
    alerts = [DriftAlertV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, physical("drift.alerts"), None, expect=0, timeout_s=10, settle_s=1.0)]
    observed = [DriftObservationV1.model_validate_json(r.value) for r in observations]
    numeric = [o.numeric for o in observed if o.source_topic == "predictions"]
    for name in ("numeric.question_marks", "numeric.digit_ratio", "numeric.word_count"):
        before = [n[name] for n in numeric[:DRIFT_AFTER] if name in n]
        after = [n[name] for n in numeric[DRIFT_AFTER:] if name in n]
        print(f"{scenario} {name}: mean before {sum(before) / max(1, len(before)):.4f} (n={len(before)}), "
              f"after {sum(after) / max(1, len(after)):.4f} (n={len(after)})")
    return alerts


async def test_channel_shift_raises_a_feature_alert_soon_after_the_change_and_not_before(
        kafka, triton, namespace, service_factory):
    alerts = await run_scenario(kafka, triton, namespace, service_factory, "channel_shift")
    # a numeric-feature detector sees every prediction: its event count says how many turns had been predicted
    numeric = [a for a in alerts if a.signal_kind == "numeric"]
    assert numeric, sorted((a.signal, a.window_events) for a in alerts)
    early = [(a.signal, a.window_events) for a in alerts if a.window_events <= DRIFT_AFTER]
    assert not early, f"alerts before the change: {early}"
    first = min(numeric, key=lambda a: a.window_events)
    delay = first.window_events - DRIFT_AFTER
    assert delay <= MAX_DELAY, f"{first.signal} fired {delay} turns after the change"
    assert all(a.threshold > 0 and a.detector and a.reference_summary and a.current_summary for a in alerts)
    print(f"\nchannel_shift: first alert {first.signal} {delay} turns after the change; all alerts: "
          f"{sorted((a.signal, a.window_events) for a in alerts)}")

async def test_stationary_traffic_raises_no_alert(kafka, triton, namespace, service_factory):
    alerts = await run_scenario(kafka, triton, namespace, service_factory, "stationary")
    assert not alerts, [(a.signal, a.detector, a.statistic) for a in alerts]
