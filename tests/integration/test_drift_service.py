"""The drift service on the real broker: detector state survives a restart (graceful and kill -9).

Observations go straight onto drift.observations: stationary values until the detectors have their reference
and some more, then the service is stopped and started again (restoring its state from the changelog), then a
shifted stream. The alert must come at exactly the observation an uninterrupted bank raises it on — nothing
forgotten and nothing counted twice."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from schemas.drift_alert.v1 import DriftAlertV1
from schemas.drift_observation.v1 import DriftObservationV1
from services.drift.app import bank_settings
from services.drift.bank import DetectorBank
from services.drift.config import DriftSettings
from services.runtime.codec import encode
from services.runtime.kafka_tools import collect, group_lag, produce_records
from services.runtime.topics import load_contract

pytestmark = pytest.mark.integration
CONTRACT = load_contract()
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
ENV = {"SLUICE_DRIFT_WINDOW": "5", "SLUICE_DRIFT_REFERENCE_WINDOWS": "100", "SLUICE_DRIFT_COOLDOWN_S": "0"}
BEFORE, AFTER = 700, 400


def observations() -> list[DriftObservationV1]:
    rng = random.Random(3)
    out = []
    for i in range(BEFORE + AFTER):
        words = rng.gauss(12.0 if i < BEFORE else 17.0, 3.0)
        out.append(DriftObservationV1(event_id=f"obs-{i}", occurred_at=T0 + timedelta(seconds=i),
                                      source_topic="predictions", source_event_id=f"p{i}",
                                      numeric={"numeric.word_count": round(words, 3)}))
    return out


def expected_alerts(stream: list[DriftObservationV1]) -> list[tuple[str, int]]:
    config = DriftSettings(**{k.removeprefix("SLUICE_DRIFT_").lower(): v for k, v in ENV.items()})
    bank = DetectorBank(bank_settings(config))
    return [(f.signal, f.window_events) for offset, o in enumerate(stream) for f in bank.observe(o, offset)]


async def wait_until_consumed(kafka, namespace: str, topic: str, drift) -> None:
    import asyncio

    group = f"{namespace}.drift"
    for _ in range(600):
        lag = await group_lag(kafka.bootstrap, [group])
        offsets = [(c, e) for tp, (c, e) in lag.get(group, {}).items() if tp.topic == topic]
        if offsets and all(c >= e for c, e in offsets):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"drift did not consume {topic}: {drift.log_tail()}")


@pytest.mark.parametrize("stop", ["sigterm", "kill"])
async def test_detector_state_survives_a_restart(kafka, namespace, service_factory, stop):
    topic = CONTRACT.physical("drift.observations", namespace)
    spec = CONTRACT.get("drift.observations")
    stream = observations()
    records = [(e.key, e.value, e.headers) for e in (encode(o, spec, "test", T0) for o in stream)]
    drift = service_factory("drift", **ENV).start()
    await produce_records(kafka.bootstrap, topic, records[:BEFORE])
    await wait_until_consumed(kafka, namespace, topic, drift)
    if stop == "sigterm":
        assert drift.stop() == 0
    elif stop == "kill":
        drift.kill()
    if stop != "none":
        drift.start()
    await produce_records(kafka.bootstrap, topic, records[BEFORE:])
    await wait_until_consumed(kafka, namespace, topic, drift)
    alerts = [DriftAlertV1.model_validate_json(r.value) for r in await collect(
        kafka.bootstrap, CONTRACT.physical("drift.alerts", namespace), None, expect=1, timeout_s=30, settle_s=1.0)]
    want = expected_alerts(stream)
    assert want and want[0][1] > BEFORE, want
    # a crash may republish an alert with the same id; never a different one
    distinct = {a.event_id: (a.signal, a.window_events) for a in alerts}
    assert len(distinct) == len({(a.signal, a.window_events) for a in alerts})
    assert sorted(distinct.values()) == sorted(want), drift.log_tail()
