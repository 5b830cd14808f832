"""The drift service's detectors, one per signal, fed window means and persisted as small state keys (pure).

Why windows: turns of one conversation are alike (its intent, its customer's mood, its topic), so per-turn
values are correlated over a few dozen events and a detector calibrated on independent values would cry
wolf. Each signal is averaged over `window` consecutive observations and the detector sees one window mean
per window; its reference is then a sample of window means, which carries the real variability, and the
detectors' distribution-free mapping (empirical CDF of the reference, then the normal quantile) makes any
such distribution fit the calibration. A rate (a class's share, a verdict's share, the error rate) is the
window mean of a 0/1 value.

The false-alarm budget is for the whole bank (family-wise) per 100,000 turns: it is split evenly across the
detectors, and each detector, whose one update stands for `window` turns (times `turns_per_conversation` for a
signal sampled once per conversation), gets `budget / detectors * turns per update` per 100,000 of its own
updates.

State: the running part of every detector and window lives under one small key ("bank"), written with each
observation; the large, immutable reference samples are written once each, under "ref:<signal>", when the
reference is complete. A restart restores both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.drift_observation.v1 import DriftObservationV1
from services.drift import detectors

CONVERSATION_LEVEL = ("class", "confidence", "embedding")  # sampled once per conversation (signals.py)
SEVERITY = {"numeric": "info", "confidence": "warning", "class_mix": "warning", "embedding": "warning",
            "verdict_rate": "warning", "error_rate": "critical"}


@dataclass(frozen=True)
class BankSettings:
    budget_per_1e5: float = 1.0
    reference_windows: int = 200
    window: int = 5
    label_window: int = 1
    label_reference: int = 500
    class_reference: int = 500  # class observations (one per conversation) forming a class's reference rate
    # Conversation-level signals are sampled once per conversation: one of their updates stands for this many
    # turns, so their share of the budget (set per turns) is spread over that many fewer updates.
    turns_per_conversation: float = 8.0
    cooldown_s: float = 600.0
    retrain_min_labeled: int = 200
    numeric_features: tuple[str, ...] = ()
    confidence_tasks: tuple[str, ...] = ()
    class_labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    verdicts: tuple[str, ...] = ()
    embedding: bool = True
    expected_error_signals: int = 2  # budget share reserved for error-rate signals created as models appear


@dataclass(frozen=True)
class Firing:
    signal: str
    kind: str
    detector: str
    statistic: float
    threshold: float
    budget_per_1e5: float
    window_events: int
    reference_summary: dict[str, float]
    current_summary: dict[str, float]
    severity: str
    labeled_examples: int = 0


def signal_kind(signal: str) -> str:
    prefix = signal.split(".", 1)[0]
    return {"numeric": "numeric", "confidence": "confidence", "class": "class_mix", "embedding": "embedding",
            "verdict": "verdict_rate", "error": "error_rate"}[prefix]


class DetectorBank:
    def __init__(self, settings: BankSettings):
        self.settings = settings
        self.detectors: dict[str, Any] = {}
        self.windows: dict[str, list[float]] = {}      # signal -> [sum, count]
        self.observations: dict[str, int] = {}         # signal -> observations seen
        self.last_alert: dict[str, float] = {}         # signal -> event time (epoch s) of its last alert
        self.centroid: list[float] | None = None       # embedding reference centroid (running sum until complete)
        self.centroid_count = 0
        self.applied_offset = -1  # drift.observations has one partition: offsets order every observation
        self.seq = 0
        self._dirty_refs: set[str] = set()
        self._saved_refs: set[str] = set()
        for signal in self.planned_signals():
            self.detectors[signal] = self._new_detector(signal)

    # --- which signals and their budget ------------------------------------------------------------------
    def planned_signals(self) -> list[str]:
        s = self.settings
        planned = [f"numeric.{name}" for name in s.numeric_features]
        planned += [f"confidence.{task}" for task in s.confidence_tasks]
        planned += [f"class.{task}.{label}" for task, labels in s.class_labels.items() for label in labels]
        planned += [f"verdict.{verdict}" for verdict in s.verdicts]
        if s.embedding:
            planned.append("embedding.distance")
        return planned

    def detector_budget(self, signal: str) -> float:
        """This detector's false alarms per 1e5 of its own updates (see the module docstring)."""
        families = len(self.planned_signals()) + self.settings.expected_error_signals
        turns_per_update = self._window(signal)
        if signal.split(".", 1)[0] in CONVERSATION_LEVEL:
            turns_per_update *= self.settings.turns_per_conversation
        return self.settings.budget_per_1e5 / families * turns_per_update

    def _window(self, signal: str) -> int:
        if signal.startswith("error."):
            return self.settings.label_window
        if signal.startswith("class."):
            return 1  # sampled once per conversation (signals.py): nearly independent Bernoulli outcomes
        return self.settings.window

    def _new_detector(self, signal: str):
        """Rates and the embedding distance only matter when they rise; a feature or a confidence may move
        either way or spread out (a variance part)."""
        kind = signal_kind(signal)
        if (kind == "error_rate" and self.settings.label_window == 1) or kind == "class_mix":
            # Labels, and classes sampled once per conversation, are nearly independent 0/1 outcomes: a Bernoulli
            # CUSUM on each is the sharpest test.
            return detectors.rate_detector(
                budget_per_1e5=self.detector_budget(signal),
                reference_size=self.settings.label_reference if kind == "error_rate" else self.settings.class_reference)
        rising_only = kind in ("class_mix", "verdict_rate", "error_rate", "embedding")
        return detectors.NumericDetector(direction="up" if rising_only else "both",
                                         variance=kind in ("numeric", "confidence"),
                                         budget_per_1e5=self.detector_budget(signal),
                                         reference_size=self.settings.reference_windows)

    # --- observing ---------------------------------------------------------------------------------------
    def already_applied(self, offset: int) -> bool:
        """A redelivered observation (after a restart or rebalance) is never counted twice."""
        return offset <= self.applied_offset

    def values(self, observation: DriftObservationV1) -> dict[str, float]:
        values = dict(observation.numeric)
        for name, category in observation.categorical.items():
            if name == "verdict":
                for verdict in self.settings.verdicts:
                    values[f"verdict.{verdict}"] = float(category == verdict)
            elif name.startswith("class."):
                task = name.split(".", 1)[1]
                for label in self.settings.class_labels.get(task, ()):
                    values[f"class.{task}.{label}"] = float(category == label)
        for name, wrong in observation.binary.items():
            values[name] = float(wrong)
        if observation.embedding is not None and self.settings.embedding:
            distance = self._embedding_distance(observation.embedding)
            if distance is not None:
                values["embedding.distance"] = distance
        return {k: v for k, v in values.items() if k in self.detectors or k.startswith("error.")}

    def _embedding_distance(self, vector: list[float]) -> float | None:
        """1 - cosine similarity to the centroid of the first reference window's worth of embeddings."""
        needed = self.settings.reference_windows * self.settings.window
        if self.centroid_count < needed:
            self.centroid = list(vector) if self.centroid is None else [a + b for a, b in zip(self.centroid, vector)]
            self.centroid_count += 1
            return None
        dot = sum(a * b for a, b in zip(self.centroid, vector))
        norms = math.sqrt(sum(a * a for a in self.centroid)) * math.sqrt(sum(b * b for b in vector))
        return 1.0 - dot / norms if norms else 1.0

    def observe(self, observation: DriftObservationV1, offset: int) -> list[Firing]:
        self.seq += 1
        self.applied_offset = offset
        now = observation.occurred_at.timestamp()
        firings = []
        for signal, value in self.values(observation).items():
            if signal not in self.detectors:  # an error-rate signal for a model seen for the first time
                self.detectors[signal] = self._new_detector(signal)
            self.observations[signal] = self.observations.get(signal, 0) + 1
            window = self.windows.setdefault(signal, [0.0, 0])
            window[0] += value
            window[1] += 1
            if window[1] < self._window(signal):
                continue
            mean = window[0] / window[1]
            self.windows[signal] = [0.0, 0]
            detector = self.detectors[signal]
            was_warming = detector.warming_up
            fired = detector.update(mean)
            if was_warming and not detector.warming_up:
                self._dirty_refs.add(signal)
            if not fired:
                continue
            last = self.last_alert.get(signal)
            if last is not None and now - last < self.settings.cooldown_s:
                continue
            self.last_alert[signal] = now
            kind = signal_kind(signal)
            severity = SEVERITY[kind]
            if signal == "verdict.block":
                severity = "critical"
            firings.append(Firing(
                signal=signal, kind=kind,
                detector=f"{detector.name} [{getattr(detector, 'alarm_part', None) or detector.kind}]"
                + (f" on means of {self._window(signal)}" if self._window(signal) > 1 else ""),
                statistic=float(detector.fired_value), threshold=float(detector.fired_threshold),
                budget_per_1e5=self.detector_budget(signal) / self._window(signal),
                window_events=self.observations[signal],
                reference_summary=_finite(detector.reference_summary()),
                current_summary=_finite(detector.current_summary()),
                severity=severity, labeled_examples=self.observations[signal] if kind == "error_rate" else 0,
            ))
        return firings

    # --- state ------------------------------------------------------------------------------------------
    def matches(self, state: Mapping[str, Any]) -> bool:
        entry = state.get("bank")
        return isinstance(entry, dict) and entry.get("seq") == self.seq

    def dirty_state(self) -> dict[str, Any]:
        running = {}
        for signal, detector in self.detectors.items():
            full = detector.to_state()
            # The recent-values ring only feeds an alert's current summary: not worth its bytes on every write.
            full.pop("ring", None)
            full.pop("ring_pos", None)
            if "reference" in full and (signal in self._saved_refs or signal in self._dirty_refs):
                full = {k: v for k, v in full.items() if k != "reference"} | {"reference_split": True}
            running[signal] = full
        updates: dict[str, Any] = {"bank": {
            "seq": self.seq, "running": running, "windows": self.windows, "observations": self.observations,
            "last_alert": self.last_alert, "centroid": self.centroid, "centroid_count": self.centroid_count,
            "applied_offset": self.applied_offset,
        }}
        for signal in self._dirty_refs:
            reference = self.detectors[signal].to_state().get("reference")
            if reference is not None:
                updates[f"ref:{signal}"] = reference
                self._saved_refs.add(signal)
        self._dirty_refs.clear()
        return updates

    @classmethod
    def restore(cls, state: Mapping[str, Any], new_bank: Callable[[], "DetectorBank"]) -> "DetectorBank":
        bank = new_bank()
        entry = state.get("bank")
        if not isinstance(entry, dict):
            return bank
        bank.seq = entry["seq"]
        for signal, running in entry["running"].items():
            full = {"ring": [], "ring_pos": 0, **running}
            if full.pop("reference_split", False):
                reference = state.get(f"ref:{signal}")
                if reference is None:
                    continue  # reference lost (TTL): start this signal over
                full["reference"] = reference
                bank._saved_refs.add(signal)
            bank.detectors[signal] = detectors.from_state(full)
        bank.windows = {k: list(v) for k, v in entry["windows"].items()}
        bank.observations = dict(entry["observations"])
        bank.last_alert = dict(entry["last_alert"])
        bank.centroid = entry["centroid"]
        bank.centroid_count = entry["centroid_count"]
        bank.applied_offset = entry["applied_offset"]
        return bank


def _finite(summary: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if v is not None and math.isfinite(float(v))}
