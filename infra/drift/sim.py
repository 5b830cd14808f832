"""Vectorised simulation of the drift detectors across many independent streams (numpy).

Used by ``infra.drift.calibrate`` (false-alarm curves) and ``infra.drift.evaluate`` (delays).  The
arithmetic is the same as ``services/drift/detectors.py``: ECDF mid-rank -> probit table -> CUSUMs, and the
Bernoulli LLR CUSUM with the Jeffreys-prior reference rate.
"""

from __future__ import annotations

import math

import numpy as np

from services.drift import detectors as D


def probit_array(m: int) -> np.ndarray:
    return np.asarray(D.probit_table(m), dtype=np.float64)


class EcdfStreams:
    """S streams, each with its own fresh reference of m draws; maps new draws to z (continuous data)."""

    def __init__(self, rng: np.random.Generator, n_streams: int, m: int, ref: np.ndarray | None = None) -> None:
        self.rng, self.S, self.m = rng, n_streams, m
        ref = rng.standard_normal((n_streams, m)) if ref is None else ref
        ref = np.sort(ref, axis=1)
        self.offset = np.arange(n_streams, dtype=np.float64) * 1000.0
        self.flat = (ref + self.offset[:, None]).ravel()
        self.base = np.arange(n_streams, dtype=np.int64) * m
        self.table = probit_array(m)

    def z(self, x: np.ndarray) -> np.ndarray:
        """x: (T, S) raw values (|x| < 400) -> z (T, S). No ties for continuous data: j = 2 * count_less."""
        q = x + self.offset[None, :]
        c = np.searchsorted(self.flat, q.ravel()).reshape(x.shape) - self.base[None, :]
        return self.table[2 * c]


def cusum_counts(inc: np.ndarray, hgrid: np.ndarray, state: np.ndarray, counts: np.ndarray) -> None:
    """One-sided CUSUMs restarted at 0 after each alarm, for every threshold of hgrid at once.

    inc: (T, S) increments; state, counts: (H, S) updated in place."""
    hcol = hgrid[:, None] if hgrid.ndim == 1 else hgrid  # (H,) shared or (H, S) per-stream thresholds
    for t in range(inc.shape[0]):
        state += inc[t]
        np.maximum(state, 0.0, out=state)
        fired = state >= hcol
        counts += fired
        np.putmask(state, fired, 0.0)


def fa_curve(counts: np.ndarray, events_per_stream: float) -> dict:
    """Per threshold: FA per 1e5 and a 95% CI from the spread across streams (each stream has its own
    reference, so counts are over-dispersed; stream-clustered standard error) or exact Poisson if tiny."""
    S = counts.shape[1]
    rates = counts / events_per_stream * 1e5
    mean = rates.mean(axis=1)
    se = rates.std(axis=1, ddof=1) / math.sqrt(S)
    total = counts.sum(axis=1)
    # never narrower than the Poisson interval of the total count
    pois_se = np.sqrt(np.maximum(total, 1)) / (events_per_stream * S) * 1e5
    se = np.maximum(se, pois_se)
    return {"fa": mean, "lo": np.maximum(mean - 1.96 * se, 0.0), "hi": mean + 1.96 * se, "count": total}


def threshold_for_budget(hgrid: np.ndarray, curve: dict, budget: float, min_count: int = 10) -> dict | None:
    """h where the FA curve crosses the budget: log-linear interpolation between bracketing grid points."""
    fa = curve["fa"]
    if fa[0] <= budget:  # budget not binding even at the smallest threshold (e.g. budget > p0 per event)
        return {"threshold": float(hgrid[0]), "fa_per_1e5": float(fa[0]),
                "fa_ci95": [round(float(curve["lo"][0]), 4), round(float(curve["hi"][0]), 4)],
                "false_alarms_bracket": [int(curve["count"][0]), int(curve["count"][0])], "not_binding": True}
    for i in range(len(hgrid) - 1):
        if fa[i] >= budget > fa[i + 1]:
            if curve["count"][i + 1] < min_count or fa[i + 1] <= 0:
                return None
            t = (math.log(budget) - math.log(fa[i])) / (math.log(fa[i + 1]) - math.log(fa[i]))
            lerp = lambda a, b: math.exp(math.log(max(a, 1e-12)) + t * (math.log(max(b, 1e-12)) - math.log(max(a, 1e-12))))
            return {
                "threshold": float(hgrid[i] + t * (hgrid[i + 1] - hgrid[i])),
                "fa_per_1e5": budget,
                "fa_ci95": [round(lerp(curve["lo"][i], curve["lo"][i + 1]), 4), round(lerp(curve["hi"][i], curve["hi"][i + 1]), 4)],
                "false_alarms_bracket": [int(curve["count"][i]), int(curve["count"][i + 1])],
            }
    return None


def numeric_fa_curves(rng, n_streams: int, m: int, T: int, h_mean: np.ndarray, h_var: np.ndarray, block: int = 250):
    """Stationary continuous streams: FA counts of one-sided mean CUSUM (up and down pooled) and var CUSUM."""
    es = EcdfStreams(rng, n_streams, m, ref=rng.random((n_streams, m)))
    H1, H2 = len(h_mean), len(h_var)
    st_up, st_dn, st_v = (np.zeros((H1, n_streams)), np.zeros((H1, n_streams)), np.zeros((H2, n_streams)))
    c_up, c_dn, c_v = (np.zeros((H1, n_streams), np.int64), np.zeros((H1, n_streams), np.int64), np.zeros((H2, n_streams), np.int64))
    done = 0
    while done < T:
        b = min(block, T - done)
        z = es.z(rng.random((b, n_streams)))
        cusum_counts(z - D.MEAN_K, h_mean, st_up, c_up)
        cusum_counts(-z - D.MEAN_K, h_mean, st_dn, c_dn)
        cusum_counts(z * z - D.VAR_K, h_var, st_v, c_v)
        done += b
    return c_up + c_dn, c_v


def rate_setup(rng, n_streams: int, m: int, p: float, ratio: float, margin_sd: float):
    """Per-stream reference -> (p0 posterior mean, increment for 1, increment for 0)."""
    ones = rng.binomial(m, p, size=n_streams)
    a = ones + D.RATE_PRIOR
    b = m - ones + D.RATE_PRIOR
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    used = np.minimum(mean + margin_sd * sd, 0.999)
    p1 = np.minimum(ratio * used, 0.5 * (1.0 + used))
    return mean, np.log(p1 / used), np.log((1.0 - p1) / (1.0 - used))


def rate_fa_curve(rng, n_streams: int, m: int, p: float, T: int, hgrid, ratio: float, margin_sd: float, block: int = 500):
    """hgrid: (H,) thresholds, or a callable p0hat (S,) -> (H, S) per-stream thresholds."""
    p0hat, i1, i0 = rate_setup(rng, n_streams, m, p, ratio, margin_sd)
    if callable(hgrid):
        hgrid = hgrid(p0hat)
    H = len(hgrid)
    st, c = np.zeros((H, n_streams)), np.zeros((H, n_streams), np.int64)
    done = 0
    while done < T:
        b = min(block, T - done)
        bits = rng.random((b, n_streams)) < p
        cusum_counts(np.where(bits, i1[None, :], i0[None, :]), hgrid, st, c)
        done += b
    return c
