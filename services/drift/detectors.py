"""Online drift detectors calibrated to an explicit false-alarm budget.

Pure Python + numpy-free hot path (the only I/O is reading ``calibration.json`` next to this file).

Two detector families:

* :func:`numeric_detector` -- for any real-valued per-event signal (feature value, confidence, embedding
  distance ...).  The first ``reference_size`` values form the reference window (``warming_up``; the detector
  never fires then).  Afterwards each value ``x`` is mapped through the reference's empirical CDF using
  mid-ranks (ties count one half) and the normal quantile, ``z = probit((midrank(x) + 0.5) / (m + 1))``.
  For any continuous stationary distribution the rank of a new value among the reference is uniform on
  ``0..m`` whatever the distribution, so ``z`` is a quantised N(0,1) and one calibration fits all continuous
  signals *exactly* (including reference-estimation error).  Discrete signals (ties) give a ``z`` with a
  smaller variance (e.g. 0.94 for Poisson(3)): false alarms then stay *below* the budget.
  On ``z`` run one-sided CUSUMs for a mean shift up and/or down (``k = 0.5``, tuned to a 1 sigma shift) and
  a CUSUM of the Gaussian likelihood ratio for a variance increase (x2): ``S = max(0, S + z^2 - 2 ln2)``.
  The false-alarm budget is split equally among the parts (union bound).  ``statistic`` is the largest
  part statistic relative to its own threshold, so ``threshold`` is 1.0.
* :func:`rate_detector` -- Bernoulli rate increase (error rate, a class's share, a verdict's share).  The
  reference gives ``p0 = (ones + 0.5) / (m + 1)`` (Jeffreys prior, so an all-zero reference is handled);
  the CUSUM uses a conservative ``p0' = p0 + margin_sd * sd(p0)`` and tests ``p0' -> p1 = min(ratio * p0',
  (1 + p0') / 2)`` with per-event log-likelihood ratios.  Its threshold comes from a calibrated grid of
  ``p0`` values, interpolated in log ``p0``.

Thresholds are computed once by ``python -m infra.drift.calibrate``: simulation of many independent
streams, each with a FRESH reference window, so the estimation error of the reference is included in the
false-alarm rate (false alarms per 100,000 post-warm-up stationary events).  See ``calibration.json``
(simulated event counts and 95% confidence intervals of each estimate are stored there).

Cost: ~1-2 us per ``update`` (two ``bisect`` calls on the sorted reference, a table lookup in a precomputed
probit table, three CUSUM additions).
"""

from __future__ import annotations

import json
import math
import os
from bisect import bisect_left, bisect_right
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Detector",
    "NumericDetector",
    "RateDetector",
    "numeric_detector",
    "rate_detector",
    "from_state",
    "calibrated_threshold",
    "probit_table",
    "MEAN_K",
    "VAR_RATIO",
    "VAR_K",
    "RATE_PRIOR",
    "DEFAULT_MARGIN_SD",
    "CALIBRATION_PATH",
]

STATE_VERSION = 1
MEAN_K = 0.5  # CUSUM reference value in z units: optimal for a 1 sigma mean shift
VAR_RATIO = 2.0  # variance-increase CUSUM is the likelihood ratio for variance x2
VAR_K = math.log(VAR_RATIO) / (1.0 - 1.0 / VAR_RATIO)  # LLR / (0.5 (1 - 1/v)): 2 ln 2 for x2
RATE_PRIOR = 0.5  # Jeffreys Beta(0.5, 0.5) prior on the reference rate
DEFAULT_MARGIN_SD = 1.0  # rate detector: p0 used by the CUSUM = estimate + 1 posterior sd
RING_SIZE = 200  # recent observations kept for current_summary()
MAX_EXTRAPOLATION = 10.0  # budgets up to 10x beyond the simulated ones are extrapolated (log-linear)

CALIBRATION_PATH = Path(os.environ.get("SLUICE_DRIFT_CALIBRATION", Path(__file__).with_name("calibration.json")))


@runtime_checkable
class Detector(Protocol):
    kind: str
    name: str
    threshold: float
    statistic: float
    n: int
    warming_up: bool

    def update(self, x: float) -> bool: ...

    def reference_summary(self) -> dict[str, float]: ...

    def current_summary(self) -> dict[str, float]: ...

    def to_state(self) -> dict: ...


# --------------------------------------------------------------------------------------------- calibration
_CAL_CACHE: dict[str, Any] | None = None


def _calibration() -> dict[str, Any]:
    global _CAL_CACHE
    if _CAL_CACHE is None:
        with open(CALIBRATION_PATH, encoding="utf-8") as fh:
            _CAL_CACHE = json.load(fh)
    return _CAL_CACHE


def _params_match(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            if not math.isclose(float(va), float(vb), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif va != vb:
            return False
    return True


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear interpolation, clamped at the ends (xs ascending)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect_right(xs, x) - 1
    t = (x - xs[i]) / (xs[i + 1] - xs[i])
    return ys[i] + t * (ys[i + 1] - ys[i])


def _lookup(kind: str, params: dict, budget_per_1e5: float, reference_size: int) -> list[dict]:
    """Cache entries of one (kind, params, reference_size), sorted by budget; exact or bracketing budgets."""
    entries = [
        e
        for e in _calibration()["entries"]
        if e["kind"] == kind and e["reference_size"] == reference_size and _params_match(e["params"], params)
    ]
    if not entries:
        raise KeyError(
            f"no calibration for kind={kind!r} params={params} reference_size={reference_size}; "
            "run `python -m infra.drift.calibrate` with this configuration"
        )
    entries.sort(key=lambda e: e["budget_per_1e5"])
    for e in entries:
        if math.isclose(e["budget_per_1e5"], budget_per_1e5, rel_tol=1e-6):
            return [e]
    lo = [e for e in entries if e["budget_per_1e5"] < budget_per_1e5]
    hi = [e for e in entries if e["budget_per_1e5"] > budget_per_1e5]
    if lo and hi:
        return [lo[-1], hi[0]]
    # Outside the simulated budgets: thresholds are ~linear in log(budget) (ln ARL0 ~ theta * h), so
    # extrapolate from the two nearest budgets, at most a factor MAX_EXTRAPOLATION beyond them.
    have = [e["budget_per_1e5"] for e in entries]
    if len(entries) >= 2 and have[0] / MAX_EXTRAPOLATION <= budget_per_1e5 <= have[-1] * MAX_EXTRAPOLATION:
        return entries[:2] if not lo else entries[-2:]
    raise KeyError(f"budget {budget_per_1e5}/1e5 outside the calibrated budgets {have} for kind={kind!r}")


def _budget_interp(budget: float, pair: list[dict], value) -> float:
    """Thresholds are ~linear in log(budget): interpolate between two bracketing budgets."""
    if len(pair) == 1:
        return value(pair[0])
    a, b = pair
    t = (math.log(budget) - math.log(a["budget_per_1e5"])) / (
        math.log(b["budget_per_1e5"]) - math.log(a["budget_per_1e5"])
    )
    return value(a) + t * (value(b) - value(a))


def _rate_grid(params: dict, budget_per_1e5: float, reference_size: int) -> tuple[list[float], list[float]]:
    """(log p0 grid, thresholds) of the Bernoulli CUSUM for one budget."""
    pair = _lookup("bernoulli_cusum", params, budget_per_1e5, reference_size)
    grid0 = pair[0]["grid"]
    logp = [math.log(g["p0"]) for g in grid0]
    hs = []
    for i in range(len(grid0)):
        hs.append(_budget_interp(budget_per_1e5, pair, lambda e, i=i: e["grid"][i]["threshold"]))
    return logp, hs


def _sizes(kind: str) -> list[int]:
    return sorted({e["reference_size"] for e in _calibration()["entries"] if e["kind"] == kind})


def _by_size(kind: str, reference_size: int, compute):
    """compute(m) at a cached reference size; between two cached sizes interpolate linearly in 1/m."""
    sizes = _sizes(kind)
    if reference_size in sizes or not sizes or not sizes[0] < reference_size < sizes[-1]:
        return compute(reference_size)
    i = bisect_right(sizes, reference_size)
    a, b = sizes[i - 1], sizes[i]
    t = (1.0 / reference_size - 1.0 / a) / (1.0 / b - 1.0 / a)
    va, vb = compute(a), compute(b)
    if isinstance(va, tuple):  # rate grids: same p0 grid at every size
        return va[0], [x + t * (y - x) for x, y in zip(va[1], vb[1])]
    return va + t * (vb - va)


def calibrated_threshold(kind: str, params: dict, budget_per_1e5: float, reference_size: int) -> float:
    """Threshold from the checked-in calibration cache.

    ``kind``: ``"ecdf_cusum_mean"`` (params ``{"k": 0.5}``; one one-sided part), ``"ecdf_cusum_var"``
    (params ``{"ratio": 2.0}``) or ``"bernoulli_cusum"`` (params ``{"ratio", "margin_sd", "p0"}``: the grid
    of p0 values is interpolated in log p0).  ``budget_per_1e5`` is the budget of THIS part; a budget
    between two cached budgets is interpolated in log budget, up to 10x outside them extrapolated, further
    out a KeyError is raised.  A reference size between two cached sizes is interpolated in 1/m.
    """
    if kind == "bernoulli_cusum":
        p = dict(params)
        p0 = float(p.pop("p0"))
        logp, hs = _by_size(kind, reference_size, lambda m: _rate_grid(p, budget_per_1e5, m))
        return _interp(math.log(max(p0, 1e-12)), logp, hs)
    return _by_size(
        kind, reference_size,
        lambda m: _budget_interp(budget_per_1e5, _lookup(kind, params, budget_per_1e5, m), lambda e: e["threshold"]),
    )


# --------------------------------------------------------------------------------------------- helpers
@lru_cache(maxsize=32)
def probit_table(reference_size: int) -> tuple[float, ...]:
    """z for every doubled mid-rank j = bisect_left + bisect_right in 0..2m: probit((j/2 + 0.5)/(m + 1))."""
    m = reference_size
    inv = NormalDist().inv_cdf
    return tuple(inv((j / 2.0 + 0.5) / (m + 1)) for j in range(2 * m + 1))


def _moments(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var)


def _quantile(sorted_values: list[float], q: float) -> float:
    n = len(sorted_values)
    pos = q * (n - 1)
    i = int(pos)
    if i >= n - 1:
        return sorted_values[-1]
    return sorted_values[i] + (pos - i) * (sorted_values[i + 1] - sorted_values[i])


class _Ring:
    """Fixed-size ring buffer of recent raw observations (for current_summary)."""

    __slots__ = ("buf", "pos", "size")

    def __init__(self, size: int, buf: list[float] | None = None, pos: int = 0) -> None:
        self.size = size
        self.buf = list(buf) if buf else []
        self.pos = pos

    def add(self, x: float) -> None:
        if len(self.buf) < self.size:
            self.buf.append(x)
        else:
            self.buf[self.pos] = x
            self.pos = (self.pos + 1) % self.size


# --------------------------------------------------------------------------------------------- numeric
class NumericDetector:
    """ECDF -> probit transform, then CUSUM(s) for mean shift (up/down) and variance increase."""

    kind = "numeric"  # parts: mean_shift_up, mean_shift_down, variance_increase (see ``alarm_part``)

    def __init__(
        self,
        *,
        direction: str = "both",
        budget_per_1e5: float = 1.0,
        reference_size: int = 500,
        variance: bool = True,
        h_mean: float | None = None,
        h_var: float | None = None,
    ) -> None:
        if direction not in ("up", "down", "both"):
            raise ValueError("direction must be 'up', 'down' or 'both'")
        if reference_size < 20:
            raise ValueError("reference_size must be >= 20")
        self.direction = direction
        self.variance = bool(variance)
        self.budget_per_1e5 = float(budget_per_1e5)
        self.reference_size = int(reference_size)
        n_parts = (2 if direction == "both" else 1) + (1 if self.variance else 0)
        part_budget = self.budget_per_1e5 / n_parts
        if h_mean is None:
            h_mean = calibrated_threshold("ecdf_cusum_mean", {"k": MEAN_K}, part_budget, self.reference_size)
        if h_var is None and self.variance:
            h_var = calibrated_threshold("ecdf_cusum_var", {"ratio": VAR_RATIO}, part_budget, self.reference_size)
        self.h_mean = float(h_mean)
        self.h_var = float(h_var) if self.variance else math.inf
        self._up = direction in ("up", "both")
        self._down = direction in ("down", "both")
        self.threshold = 1.0
        self.n = 0
        self.alarms = 0
        self.alarm_part: str | None = None  # which part fired last
        self.s_up = 0.0
        self.s_down = 0.0
        self.s_var = 0.0
        self._reference: list[float] = []  # arrival order while warming up, sorted afterwards
        self._ref_summary: dict[str, float] = {}
        self._table = probit_table(self.reference_size)
        self._ring = _Ring(RING_SIZE)
        self.warming_up = True

    # -- identity
    @property
    def name(self) -> str:
        dirs = {"both": "±", "up": "+", "down": "-"}[self.direction]
        s = f"ECDF(ref={self.reference_size})+CUSUM{dirs}(k={MEAN_K:g},h={self.h_mean:.2f})"
        if self.variance:
            s += f"+CUSUMvar(x{VAR_RATIO:g},h={self.h_var:.2f})"
        return s + f"@{self.budget_per_1e5:g}FA/1e5"

    @property
    def statistic(self) -> float:
        s = max(self.s_up, self.s_down) / self.h_mean
        if self.variance:
            s = max(s, self.s_var / self.h_var)
        return s

    # -- hot path
    def update(self, x: float) -> bool:
        x = float(x)
        if x != x or x in (math.inf, -math.inf):
            return False  # non-finite values are ignored
        self.n += 1
        self._ring.add(x)
        if self.warming_up:
            self._reference.append(x)
            if len(self._reference) >= self.reference_size:
                self._finish_warmup()
            return False
        ref = self._reference
        z = self._table[bisect_left(ref, x) + bisect_right(ref, x)]
        part = None
        if self._up:
            s = self.s_up + z - MEAN_K
            self.s_up = s if s > 0.0 else 0.0
            if s >= self.h_mean:
                part = "mean_shift_up"
        if self._down:
            s = self.s_down - z - MEAN_K
            self.s_down = s if s > 0.0 else 0.0
            if s >= self.h_mean:
                part = part or "mean_shift_down"
        if self.variance:
            s = self.s_var + z * z - VAR_K
            self.s_var = s if s > 0.0 else 0.0
            if s >= self.h_var and part is None:
                part = "variance_increase"
        if part is None:
            return False
        self.alarm_part = part
        self.alarms += 1
        # What an alert reports: the raw CUSUM of the part that fired and that part's threshold.
        self.fired_value, self.fired_threshold = {
            "mean_shift_up": (self.s_up, self.h_mean), "mean_shift_down": (self.s_down, self.h_mean),
        }.get(part, (self.s_var, self.h_var))
        self.s_up = self.s_down = self.s_var = 0.0
        return True

    def transform(self, x: float) -> float:
        """The z value of ``x`` (after warm-up)."""
        ref = self._reference
        return self._table[bisect_left(ref, x) + bisect_right(ref, x)]

    def _finish_warmup(self) -> None:
        raw = self._reference
        mean, std = _moments(raw)
        self._reference = sorted(raw)
        r = self._reference
        self._ref_summary = {
            "n": float(len(r)),
            "mean": mean,
            "std": std,
            "min": r[0],
            "p05": _quantile(r, 0.05),
            "p50": _quantile(r, 0.5),
            "p95": _quantile(r, 0.95),
            "max": r[-1],
        }
        self.warming_up = False

    # -- summaries and state
    def reference_summary(self) -> dict[str, float]:
        return dict(self._ref_summary)

    def current_summary(self) -> dict[str, float]:
        buf = self._ring.buf
        mean, std = _moments(buf)
        out = {"n": float(len(buf)), "mean": mean, "std": std}
        if not self.warming_up and buf:
            zs = [self.transform(v) for v in buf]
            out["z_mean"], out["z_std"] = _moments(zs)
        return out

    def to_state(self) -> dict:
        return {
            "type": "numeric",
            "version": STATE_VERSION,
            "direction": self.direction,
            "variance": self.variance,
            "budget_per_1e5": self.budget_per_1e5,
            "reference_size": self.reference_size,
            "h_mean": self.h_mean,
            "h_var": self.h_var if self.variance else None,
            "n": self.n,
            "alarms": self.alarms,
            "alarm_part": self.alarm_part,
            "s_up": self.s_up,
            "s_down": self.s_down,
            "s_var": self.s_var,
            "warming_up": self.warming_up,
            "reference": list(self._reference),
            "ref_summary": dict(self._ref_summary),
            "ring": list(self._ring.buf),
            "ring_pos": self._ring.pos,
        }

    @classmethod
    def _from_state(cls, st: dict) -> "NumericDetector":
        d = cls(
            direction=st["direction"],
            budget_per_1e5=st["budget_per_1e5"],
            reference_size=st["reference_size"],
            variance=st["variance"],
            h_mean=st["h_mean"],
            h_var=st["h_var"],
        )
        d.n = int(st["n"])
        d.alarms = int(st["alarms"])
        d.alarm_part = st["alarm_part"]
        d.s_up, d.s_down, d.s_var = float(st["s_up"]), float(st["s_down"]), float(st["s_var"])
        d.warming_up = bool(st["warming_up"])
        d._reference = [float(v) for v in st["reference"]]
        d._ref_summary = {k: float(v) for k, v in st["ref_summary"].items()}
        d._ring = _Ring(RING_SIZE, [float(v) for v in st["ring"]], int(st["ring_pos"]))
        return d


# --------------------------------------------------------------------------------------------- rate
def rate_alternative(p0: float, ratio: float) -> float:
    return min(ratio * p0, 0.5 * (1.0 + p0))


def rate_reference_p0(ones: int, m: int, margin_sd: float) -> tuple[float, float]:
    """(posterior-mean p0, conservative p0 used by the CUSUM) from a reference of m events with ``ones``."""
    a = ones + RATE_PRIOR
    b = m - ones + RATE_PRIOR
    mean = a / (a + b)
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    return mean, min(mean + margin_sd * sd, 0.999)


class RateDetector:
    """Bernoulli rate-increase CUSUM with p0 estimated from a reference window."""

    kind = "rate_increase"

    def __init__(
        self,
        *,
        budget_per_1e5: float = 1.0,
        reference_size: int = 500,
        ratio: float = 2.0,
        margin_sd: float = DEFAULT_MARGIN_SD,
        grid: tuple[list[float], list[float]] | None = None,
    ) -> None:
        if ratio <= 1.0:
            raise ValueError("ratio must be > 1")
        self.budget_per_1e5 = float(budget_per_1e5)
        self.reference_size = int(reference_size)
        self.ratio = float(ratio)
        self.margin_sd = float(margin_sd)
        if grid is None:
            params = {"ratio": self.ratio, "margin_sd": self.margin_sd}
            grid = _by_size(
                "bernoulli_cusum", self.reference_size, lambda m: _rate_grid(params, self.budget_per_1e5, m)
            )
        self._grid_logp, self._grid_h = [float(v) for v in grid[0]], [float(v) for v in grid[1]]
        self.n = 0
        self.alarms = 0
        self.statistic = 0.0
        self.threshold = math.inf
        self.p0 = math.nan  # posterior mean of the reference rate
        self.p0_used = math.nan  # conservative p0 in the CUSUM
        self.p1 = math.nan
        self._inc1 = 0.0
        self._inc0 = 0.0
        self._ref_ones = 0
        self._ref_n = 0
        self._ring = _Ring(RING_SIZE)
        self.warming_up = True

    @property
    def name(self) -> str:
        if self.warming_up:
            return f"BernoulliCUSUM(ratio={self.ratio:g},ref={self.reference_size})@{self.budget_per_1e5:g}FA/1e5"
        return (
            f"BernoulliCUSUM(p0={self.p0_used:.4g}->p1={self.p1:.4g},h={self.threshold:.2f},"
            f"ref={self.reference_size})@{self.budget_per_1e5:g}FA/1e5"
        )

    def update(self, x: float) -> bool:
        bit = 1 if x >= 0.5 else 0
        self.n += 1
        self._ring.add(float(bit))
        if self.warming_up:
            self._ref_ones += bit
            self._ref_n += 1
            if self._ref_n >= self.reference_size:
                self._finish_warmup()
            return False
        s = self.statistic + (self._inc1 if bit else self._inc0)
        if s >= self.threshold:
            self.fired_value, self.fired_threshold = s, self.threshold
            self.statistic = 0.0
            self.alarms += 1
            return True
        self.statistic = s if s > 0.0 else 0.0
        return False

    def _finish_warmup(self) -> None:
        self.p0, self.p0_used = rate_reference_p0(self._ref_ones, self._ref_n, self.margin_sd)
        self.p1 = rate_alternative(self.p0_used, self.ratio)
        self._inc1 = math.log(self.p1 / self.p0_used)
        self._inc0 = math.log((1.0 - self.p1) / (1.0 - self.p0_used))
        self.threshold = _interp(math.log(self.p0), self._grid_logp, self._grid_h)
        self.warming_up = False

    def reference_summary(self) -> dict[str, float]:
        out = {"n": float(self._ref_n), "ones": float(self._ref_ones)}
        if not self.warming_up:
            out.update(p0=self.p0, p0_raw=self._ref_ones / self._ref_n, p0_used=self.p0_used, p1=self.p1)
        return out

    def current_summary(self) -> dict[str, float]:
        buf = self._ring.buf
        return {"n": float(len(buf)), "rate": (sum(buf) / len(buf)) if buf else math.nan}

    def to_state(self) -> dict:
        return {
            "type": "rate",
            "version": STATE_VERSION,
            "budget_per_1e5": self.budget_per_1e5,
            "reference_size": self.reference_size,
            "ratio": self.ratio,
            "margin_sd": self.margin_sd,
            "grid_logp": list(self._grid_logp),
            "grid_h": list(self._grid_h),
            "n": self.n,
            "alarms": self.alarms,
            "statistic": self.statistic,
            "warming_up": self.warming_up,
            "ref_ones": self._ref_ones,
            "ref_n": self._ref_n,
            "ring": list(self._ring.buf),
            "ring_pos": self._ring.pos,
        }

    @classmethod
    def _from_state(cls, st: dict) -> "RateDetector":
        d = cls(
            budget_per_1e5=st["budget_per_1e5"],
            reference_size=st["reference_size"],
            ratio=st["ratio"],
            margin_sd=st["margin_sd"],
            grid=(st["grid_logp"], st["grid_h"]),
        )
        d.n = int(st["n"])
        d.alarms = int(st["alarms"])
        d._ref_ones = int(st["ref_ones"])
        d._ref_n = int(st["ref_n"])
        d._ring = _Ring(RING_SIZE, [float(v) for v in st["ring"]], int(st["ring_pos"]))
        if not st["warming_up"]:
            d._finish_warmup()  # deterministic from the reference counts and the stored grid
        d.statistic = float(st["statistic"])
        return d


# --------------------------------------------------------------------------------------------- factories
def numeric_detector(*, direction: str = "both", budget_per_1e5: float = 1.0, reference_size: int = 500) -> Detector:
    return NumericDetector(direction=direction, budget_per_1e5=budget_per_1e5, reference_size=reference_size)


def rate_detector(*, budget_per_1e5: float = 1.0, reference_size: int = 500, ratio: float = 2.0) -> Detector:
    return RateDetector(budget_per_1e5=budget_per_1e5, reference_size=reference_size, ratio=ratio)


def from_state(state: dict) -> Detector:
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported detector state version {state.get('version')!r}")
    if state["type"] == "numeric":
        return NumericDetector._from_state(state)
    if state["type"] == "rate":
        return RateDetector._from_state(state)
    raise ValueError(f"unknown detector type {state['type']!r}")
