"""Drift detectors: calibration cache, cheap-budget calibration check, detection, warm-up, p0 = 0,
state round-trip, ECDF transform on skewed/discrete data, cost per update (printed, not asserted)."""

from __future__ import annotations

import json
import math
import random
import time

import numpy as np
import pytest

from services.drift import detectors as D
from services.drift.detectors import (
    Detector,
    NumericDetector,
    calibrated_threshold,
    from_state,
    numeric_detector,
    rate_detector,
)


def _numeric(**kw) -> NumericDetector:
    """Detector with fixed thresholds (no cache needed) for transform tests."""
    return NumericDetector(h_mean=12.0, h_var=20.0, **kw)


# ----------------------------------------------------------------------------- cache
def test_every_default_key_exists_in_cache():
    for direction in ("both", "up", "down"):
        for budget in (1.0, 10.0, 100.0):
            d = numeric_detector(direction=direction, budget_per_1e5=budget)
            assert isinstance(d, Detector)
            assert 2.0 < d.h_mean < 20.0 and (direction == "both" or d.h_var > 2.0)
    for budget in (1.0, 10.0, 100.0):
        r = rate_detector(budget_per_1e5=budget)
        assert isinstance(r, Detector)
    # exact keys the defaults ask for
    assert calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 1 / 3, 500) > 0
    assert calibrated_threshold("ecdf_cusum_var", {"ratio": D.VAR_RATIO}, 1 / 3, 500) > 0
    assert calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 1 / 2, 500) > 0
    for p0 in (0.0005, 0.001, 0.01, 0.1, 0.5, 0.95):
        h = calibrated_threshold("bernoulli_cusum", {"ratio": 2.0, "margin_sd": D.DEFAULT_MARGIN_SD, "p0": p0}, 1.0, 500)
        assert 0 < h < 40
    for m in (200, 1000):
        numeric_detector(reference_size=m)
        rate_detector(reference_size=m)


def test_thresholds_monotone_in_budget_and_interpolated():
    hs = [calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, b, 500) for b in (1 / 3, 1.0, 10.0, 100.0)]
    assert hs == sorted(hs, reverse=True)
    mid = calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 0.7, 500)  # between cached budgets
    assert hs[1] < mid < hs[0]
    low = calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 0.1, 500)  # extrapolated (<= 10x)
    assert hs[0] < low < hs[0] + 3.0
    with pytest.raises(KeyError):
        calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 1e-4, 500)
    # reference sizes between cached ones interpolate in 1/m
    h300 = calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 1.0, 300)
    h200, h500 = (calibrated_threshold("ecdf_cusum_mean", {"k": D.MEAN_K}, 1.0, m) for m in (200, 500))
    assert min(h200, h500) <= h300 <= max(h200, h500)
    assert rate_detector(reference_size=300).to_state()["grid_h"]
    with pytest.raises(KeyError):
        calibrated_threshold("ecdf_cusum_mean", {"k": 0.25}, 1.0, 500)


# ----------------------------------------------------------------------------- calibration, cheap config
def _fa_per_1e5(make, draw, streams: int, events: int, seed: int) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(streams):
        d = make()
        upd = d.update
        for x in draw(rng, d.reference_size).tolist():  # fresh reference per stream
            upd(x)
        assert not d.warming_up
        for x in draw(rng, events).tolist():
            alarms += upd(x)
    return alarms / (streams * events) * 1e5, alarms


def test_calibration_cheap_numeric_budget_100():
    # 200 streams x 2,000 events with fresh references; union of three parts each at 100/3 -> <= 100 / 1e5
    fa, alarms = _fa_per_1e5(
        lambda: numeric_detector(budget_per_1e5=100.0), lambda r, n: r.gamma(2.0, size=n), 200, 2000, seed=1
    )
    print(f"numeric @100/1e5: {fa:.1f} FA/1e5 ({alarms} alarms in 400,000 events)")
    assert 55.0 < fa < 135.0


def test_calibration_cheap_rate_budget_100():
    fa, alarms = _fa_per_1e5(
        lambda: rate_detector(budget_per_1e5=100.0), lambda r, n: (r.random(n) < 0.1).astype(float), 200, 2000, seed=2
    )
    print(f"rate p=0.1 @100/1e5: {fa:.1f} FA/1e5 ({alarms} alarms in 400,000 events)")
    assert 55.0 < fa < 150.0


# ----------------------------------------------------------------------------- behaviour
def test_detects_2sigma_shift_quickly():
    delays = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        d = numeric_detector()
        for x in rng.standard_normal(700).tolist():
            assert not d.update(x)
        for i, x in enumerate((rng.standard_normal(200) + 2.0).tolist(), 1):
            if d.update(x):
                delays.append(i)
                # a 2 sigma shift also inflates z**2: the variance part may win the race
                assert d.alarm_part in ("mean_shift_up", "variance_increase")
                break
        else:
            delays.append(10**6)
    print("2 sigma delays:", sorted(delays))
    assert max(delays) <= 25
    assert np.median(delays) <= 12


def test_variance_increase_detected():
    rng = np.random.default_rng(7)
    d = numeric_detector()
    for x in rng.standard_normal(600).tolist():
        d.update(x)
    fired_at = next((i for i, x in enumerate((rng.standard_normal(3000) * 2.0).tolist(), 1) if d.update(x)), None)
    assert fired_at is not None and fired_at < 500


def test_never_fires_during_warmup():
    d = numeric_detector(reference_size=500)
    r = rate_detector(reference_size=500)
    for i in range(500):
        x = 1e6 if i > 250 else 0.0  # a violent change inside the reference window
        assert d.warming_up and r.warming_up
        assert d.update(x) is False
        assert r.update(1.0 if i > 250 else 0.0) is False
        assert d.statistic == 0.0 and r.statistic == 0.0
    assert not d.warming_up and not r.warming_up and d.n == 500 and r.n == 500


def test_rate_detector_with_p0_zero_reference():
    r = rate_detector()
    for _ in range(500):
        r.update(0)
    ref = r.reference_summary()
    assert ref["p0_raw"] == 0.0 and 0 < ref["p0"] < 0.002 and math.isfinite(r.threshold)
    assert not any(r.update(0) for _ in range(50_000))  # still all zero: never fires
    rng = random.Random(3)
    fired_at = next((i for i in range(1, 5000) if r.update(1 if rng.random() < 0.05 else 0)), None)
    print("p0=0 reference, rate 0.05: fired after", fired_at)
    assert fired_at is not None and fired_at < 400


def test_rate_detector_detects_increase():
    rng = np.random.default_rng(11)
    r = rate_detector()
    for x in (rng.random(500) < 0.1).tolist():
        r.update(x)
    fired = next((i for i, x in enumerate((rng.random(5000) < 0.3).tolist(), 1) if r.update(x)), None)
    assert fired is not None and fired < 300


@pytest.mark.parametrize("kind", ["numeric", "rate"])
@pytest.mark.parametrize("cut", [137, 900, 4000])
def test_state_round_trip_mid_stream(kind, cut):
    rng = np.random.default_rng(cut)
    if kind == "numeric":
        xs = np.concatenate([rng.gamma(2.0, size=2000), rng.gamma(2.0, size=3000) * 1.3 + 0.4]).tolist()
        a = numeric_detector()
    else:
        xs = (np.concatenate([rng.random(2000) < 0.1, rng.random(3000) < 0.18])).astype(float).tolist()
        a = rate_detector()
    for x in xs[:cut]:
        a.update(x)
    state = json.loads(json.dumps(a.to_state()))
    b = from_state(state)
    assert b.to_state() == a.to_state()
    assert b.name == a.name and b.warming_up == a.warming_up and b.threshold == a.threshold
    fired_a, fired_b = [], []
    for x in xs[cut:]:
        fired_a.append(a.update(x))
        fired_b.append(b.update(x))
        assert a.statistic == b.statistic
    assert fired_a == fired_b and a.to_state() == b.to_state()
    assert a.reference_summary() == b.reference_summary() and a.current_summary() == b.current_summary()


def test_ecdf_transform_skewed_discrete_is_standard_normal():
    rng = np.random.default_rng(5)
    for name, draw, std_lo in [
        ("lognormal", lambda n: rng.lognormal(0.0, 1.5, n), 0.97),
        ("poisson(3)", lambda n: rng.poisson(3.0, n).astype(float), 0.88),
        ("geometric(0.2)", lambda n: rng.geometric(0.2, n).astype(float), 0.88),
    ]:
        d = _numeric(reference_size=1000)
        for x in draw(1000).tolist():
            d.update(x)
        z = np.array([d.transform(x) for x in draw(50_000).tolist()])
        print(f"{name}: z mean {z.mean():+.3f} std {z.std():.3f} skew {((z - z.mean()) ** 3).mean() / z.std() ** 3:+.3f}")
        assert abs(z.mean()) < 0.1
        assert std_lo < z.std() < 1.03  # ties shrink the variance: conservative, never inflated
        assert abs(((z - z.mean()) ** 3).mean() / z.std() ** 3) < 0.25


def test_summaries():
    d = numeric_detector()
    rng = np.random.default_rng(9)
    for x in (rng.standard_normal(800) * 2 + 5).tolist():
        d.update(x)
    ref, cur = d.reference_summary(), d.current_summary()
    assert abs(ref["mean"] - 5) < 0.4 and abs(ref["std"] - 2) < 0.3 and ref["p05"] < ref["p50"] < ref["p95"]
    assert cur["n"] == D.RING_SIZE and abs(cur["z_mean"]) < 0.4
    assert "ECDF(ref=500)" in d.name and d.kind == "numeric" and d.threshold == 1.0


def test_cost_per_update_printed():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(200_000).tolist()
    bits = (rng.random(200_000) < 0.1).astype(float).tolist()
    for label, det, data in [("numeric", numeric_detector(), xs), ("rate", rate_detector(), bits)]:
        for x in data[:1000]:
            det.update(x)
        upd = det.update
        t = time.perf_counter()
        for x in data:
            upd(x)
        us = (time.perf_counter() - t) / len(data) * 1e6
        print(f"{label}: {us:.2f} us/update")
