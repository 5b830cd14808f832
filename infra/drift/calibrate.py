"""Calibrate the drift detectors' thresholds to false-alarm budgets by simulation; writes
``services/drift/calibration.json`` (checked in, read by ``services/drift/detectors.py`` at start-up).

    python -m infra.drift.calibrate            # full run (~3-5 min on 2 cores)
    python -m infra.drift.calibrate --quick    # smoke run into a temporary file

Method.  False alarms are counted per 100,000 post-warm-up STATIONARY events, averaged over many
independent streams that each draw a FRESH reference window (so the reference-estimation error, which
raises false alarms, is inside the estimate; a detector keeps its reference after an alarm, so a stream
with an unlucky reference keeps producing alarms and is weighted accordingly).  Every threshold of a grid
is simulated at once (one CUSUM state per threshold, restarted after each of its alarms); the threshold
for a budget is the log-linear interpolation of the FA curve between the two bracketing grid points.
The 95% CI of each estimate uses the stream-clustered standard error (never below the Poisson one).

* Numeric parts (``ecdf_cusum_mean`` one-sided, up and down pooled by symmetry; ``ecdf_cusum_var``): the
  ECDF mid-rank transform makes ``z`` distribution-free for continuous data, so uniform streams calibrate
  every continuous distribution exactly; discrete data are conservative.
* ``bernoulli_cusum``: per p0 of a log-spaced grid (true rate = p0, reference drawn at p0), two passes:
  pass 1 finds one threshold per p0; pass 2 simulates the run-time lookup (threshold interpolated at the
  ESTIMATED p0 of each stream) with offsets and stores the corrected threshold.

Full run: numeric 8,000 streams x 5,000 events per reference size (x2 for the pooled mean parts);
rate 2 passes x 5,000 streams x 3,000 events per p0 and reference size; ~5 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from infra.drift import sim
from services.drift import detectors as D

OUT = Path(D.__file__).with_name("calibration.json")
# Per-PART budgets: totals 1, 10, 100 per 1e5 split among 1, 2 or 3 parts; plus a few in between so that
# any budget in [1/3, 100] interpolates in log budget.
PART_BUDGETS = [1 / 3, 1 / 2, 1.0, 2.0, 10 / 3, 5.0, 10.0, 100 / 3, 50.0, 100.0]
RATE_BUDGETS = [1 / 3, 1 / 2, 1.0, 2.0, 5.0, 10.0, 100 / 3, 50.0, 100.0]
P0_GRID = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
H_MEAN = np.arange(2.0, 30.01, 0.5)
H_VAR = np.arange(4.0, 150.01, 3.0)
H_RATE = np.concatenate([np.arange(0.2, 1.0, 0.2), np.arange(1.0, 30.01, 0.5)])


def _entries(kind, params, m, hgrid, counts, events_per_stream, budgets, streams, note):
    curve = sim.fa_curve(counts, events_per_stream)
    out = []
    for b in budgets:
        r = sim.threshold_for_budget(hgrid, curve, b)
        if r is None:
            print(f"  ! {kind} {params} m={m}: budget {b:.3g} not resolved (too few alarms); skipped")
            continue
        out.append(
            {
                "kind": kind,
                "params": params,
                "budget_per_1e5": b,
                "reference_size": m,
                **r,
                "simulated_events": int(events_per_stream * streams),
                "streams": streams,
                "note": note,
            }
        )
    return out


def calibrate_numeric(rng, m, streams, events):
    t0 = time.time()
    c_mean, c_var = sim.numeric_fa_curves(rng, streams, m, events, H_MEAN, H_VAR)
    out = _entries("ecdf_cusum_mean", {"k": D.MEAN_K}, m, H_MEAN, c_mean, 2 * events, PART_BUDGETS, streams,
                   "one-sided; up and down pooled (2 x events per stream)")
    out += _entries("ecdf_cusum_var", {"ratio": D.VAR_RATIO}, m, H_VAR, c_var, events, PART_BUDGETS, streams, "")
    print(f"numeric m={m}: {streams} streams x {events} events in {time.time() - t0:.1f}s")
    return out


RATE_DELTAS = np.arange(-2.0, 3.01, 0.5)


def calibrate_rate(rng, m, streams, events, ratio, margin_sd):
    """Two passes.  Pass 1: per grid p0 (= true rate), one threshold for all streams -> H0_b(p0).  At run
    time the threshold is looked up at the ESTIMATED p0 (interpolated in log p0), which gives streams with
    an underestimated p0 (the ones prone to false alarms) a lower threshold; pass 2 therefore simulates
    exactly that lookup, h_j = H0_b(p0hat_j) + delta, for a grid of offsets, and stores H0_b(p0) + delta_b(p0)."""
    t0 = time.time()
    logp = np.log(P0_GRID)
    pass1: dict[float, list] = {b: [] for b in RATE_BUDGETS}
    for p in P0_GRID:
        curve = sim.fa_curve(sim.rate_fa_curve(rng, streams, m, p, events, H_RATE, ratio, margin_sd), events)
        for b in RATE_BUDGETS:
            r = sim.threshold_for_budget(H_RATE, curve, b)
            pass1[b].append(None if r is None else r["threshold"])
    budgets = [b for b in RATE_BUDGETS if all(h is not None for h in pass1[b])]
    for b in set(RATE_BUDGETS) - set(budgets):
        print(f"  ! bernoulli m={m} margin={margin_sd}: budget {b:.3g} unresolved at some p0; skipped")
    nd = len(RATE_DELTAS)
    per_budget: dict[float, list] = {b: [] for b in budgets}

    def hmat(p0hat):
        rows = [np.interp(np.log(p0hat), logp, pass1[b]) + d for b in budgets for d in RATE_DELTAS]
        return np.maximum(np.array(rows), 0.05)

    for p in P0_GRID:
        c = sim.rate_fa_curve(rng, streams, m, p, events, hmat, ratio, margin_sd)
        for i, b in enumerate(budgets):
            h0 = float(np.interp(math.log(p), logp, pass1[b]))
            curve = sim.fa_curve(c[i * nd:(i + 1) * nd], events)
            r = sim.threshold_for_budget(RATE_DELTAS, curve, b)
            if r is None:  # offset grid does not bracket: keep pass 1 (reported)
                print(f"  ! bernoulli m={m} p0={p} budget {b:.3g}: offset unresolved, pass-1 threshold kept")
                r = {"threshold": 0.0, "fa_per_1e5": None, "fa_ci95": None, "false_alarms_bracket": None}
            delta = r.pop("threshold")
            per_budget[b].append({"p0": p, "threshold": max(h0 + delta, 0.05), "pass1_threshold": h0,
                                  "offset": delta, **r})
    out = []
    for b, grid in per_budget.items():
        out.append(
            {
                "kind": "bernoulli_cusum",
                "params": {"ratio": ratio, "margin_sd": margin_sd},
                "budget_per_1e5": b,
                "reference_size": m,
                "grid": grid,
                "simulated_events_per_p0": 2 * streams * events,
                "streams": streams,
                "note": "pass 2 (threshold looked up at the estimated p0, as at run time) supplies fa_ci95",
            }
        )
    print(f"rate m={m} margin={margin_sd}: 2 passes x {len(P0_GRID)} p0 x {streams} streams x {events} events in {time.time() - t0:.1f}s")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke run (writes --out, default a temp file)")
    ap.add_argument("--sizes", default="50,100,200,500,1000", help="reference sizes (the drift service uses 50)")
    ap.add_argument("--streams", type=int, default=8000)
    ap.add_argument("--events", type=int, default=5000, help="post-warm-up events per stream")
    ap.add_argument("--rate-streams", type=int, default=5000)
    ap.add_argument("--rate-events", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", choices=["numeric", "rate"], default=None,
                    help="recompute one family and keep the other's entries from the existing file")
    a = ap.parse_args(argv)
    if a.quick:
        a.streams, a.events, a.rate_streams, a.rate_events, a.sizes = 1000, 2000, 1000, 2000, "500"
    out = Path(a.out) if a.out else (Path("/tmp/calibration.quick.json") if a.quick else OUT)
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    entries = []
    sizes = [int(s) for s in a.sizes.split(",")]
    if a.only:  # keep every entry except this family's entries at the sizes being recomputed
        family = lambda e: "rate" if e["kind"] == "bernoulli_cusum" else "numeric"
        entries = [e for e in json.loads(out.read_text())["entries"]
                   if family(e) != a.only or e["reference_size"] not in sizes]
    for m in sizes if a.only != "rate" else []:
        entries += calibrate_numeric(rng, m, a.streams, a.events)
    for m in sizes if a.only != "numeric" else []:
        for margin in [D.DEFAULT_MARGIN_SD]:  # margin 0 (plain estimate) was slower: 0.1->0.2 median 238 vs 180
            entries += calibrate_rate(rng, m, a.rate_streams, a.rate_events, 2.0, margin)
    doc = {
        "version": 1,
        "generated_by": "python -m infra.drift.calibrate " + " ".join(argv or []),
        "seed": a.seed,
        "unit": "false alarms per 100,000 post-warm-up stationary events, averaged over fresh reference windows",
        "method": (
            "Simulation of independent streams, each with a fresh reference window; all thresholds of a grid "
            "simulated at once (CUSUM restarted after each alarm, reference kept); threshold = log-linear "
            "interpolation of the FA curve at the budget; fa_ci95 = 95% CI of the FA rate at that threshold "
            "(stream-clustered standard error, never below Poisson); false_alarms_bracket = alarms counted at "
            "the two bracketing grid thresholds. Budgets are PER PART (numeric_detector splits its budget "
            "equally among mean-up, mean-down and variance parts)."
        ),
        "runtime_s": round(time.time() - t0, 1),
        "entries": entries,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(entries)} entries) in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
