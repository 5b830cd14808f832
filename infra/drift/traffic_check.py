"""False alarms of the drift service's detector bank on generated call-centre traffic, offline, per window size.

    .venv/bin/python -m infra.drift.traffic_check [--turns 40000] [--windows 1,2,5,10]

The detectors are calibrated on independent values; real turns are not independent (a conversation's turns
share its intent, mood and topic, and several conversations interleave). This check feeds the bank the
signals the pipeline would extract from stationary generated traffic — class mix from the generator's true
intent and sentiment (with 10% of labels flipped, like a model's errors), word and character counts,
verdict-like rates from its toxic/injection truth — and counts the alarms per 100,000 observations, for
several window sizes, next to the bank's configured budget. It needs no Kafka or Triton.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta, timezone

from schemas.drift_observation.v1 import DriftObservationV1
from services.drift.app import bank_settings
from services.drift.bank import DetectorBank
from services.drift.config import DriftSettings
from services.features.handlers import text_features
from services.runtime.conversations import INTENTS, generate_turns

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)
SENTIMENTS = ("negative", "neutral", "positive")
NUMERIC = DriftSettings().numeric_features


def observations(turns: int, seed: int, concurrency: int | None, per_turn: bool,
                 scenario: str = "stationary") -> list[DriftObservationV1]:
    rng = random.Random(seed)
    out = []
    # The generator starts with every conversation at its first turn; skip that start-up transient.
    burn_in = 12 * (concurrency or 5)
    generated = generate_turns(turns + burn_in, seed=seed, concurrent_conversations=concurrency, scenario=scenario,
                               drift_after=burn_in + turns // 2)[burn_in:]
    for i, turn in enumerate(generated):
        body = json.loads(turn.record.value)
        text = body.get("text", "")
        intent = turn.truth.intent if rng.random() > 0.1 else rng.choice(INTENTS)
        sentiment = turn.truth.sentiment if rng.random() > 0.1 else rng.choice(SENTIMENTS)
        categorical = {"verdict": "block" if turn.truth.toxic or turn.truth.injection else "pass"}
        # (confidence and embedding need the models; offline they stay silent)
        if per_turn or body["turn_index"] == 1:  # as the drift service samples conversation-level signals
            categorical |= {"class.intent": intent, "class.sentiment": sentiment}
        out.append(DriftObservationV1(
            event_id=f"o{i}", occurred_at=T0 + timedelta(seconds=i), source_topic="predictions",
            source_event_id=f"p{i}",
            numeric={f"numeric.{name}": value for name, value in text_features(text, text, 0).items()
                     if name in NUMERIC},
            categorical=categorical,
        ))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=40_000)
    parser.add_argument("--windows", default="1,2,5,10")
    parser.add_argument("--reference-windows", type=int, default=200)
    parser.add_argument("--budget", type=float, default=1.0, help="family-wise budget per 1e5 observations")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--every-turn", action="store_true",
                        help="sample class mix on every turn instead of once per conversation (turn index 1)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="conversations in progress at once (default: the generator's 4-6)")
    args = parser.parse_args(argv)
    print("| window | detectors | observations after warm-up | alarms | alarms per 1e5 | budget per 1e5 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for window in (int(w) for w in args.windows.split(",")):
        settings = bank_settings(DriftSettings(false_alarm_budget_per_1e5=args.budget, window=window,
                                               reference_windows=args.reference_windows, cooldown_s=0))
        alarms = counted = 0
        by_signal: dict[str, int] = {}
        started = time.perf_counter()
        for seed in (int(s) for s in args.seeds.split(",")):
            bank = DetectorBank(settings)
            stream = observations(args.turns, seed, args.concurrency, args.every_turn)
            warm = window * args.reference_windows
            for offset, observation in enumerate(stream):
                fired = bank.observe(observation, offset)
                if offset >= warm:
                    alarms += len(fired)
                    for firing in fired:
                        by_signal[firing.signal] = by_signal.get(firing.signal, 0) + 1
            counted += max(0, len(stream) - warm)
        detectors = len(bank.detectors)
        print(f"| {window} | {detectors} | {counted} | {alarms} | {alarms / counted * 1e5:.1f} | {args.budget:g} |"
              f"  ({time.perf_counter() - started:.0f}s) {sorted(by_signal.items(), key=lambda kv: -kv[1])[:4]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
