"""Per-event accounting of a pipeline run: where did every raw turn end up, exactly once?

Each valid raw turn must end in exactly one of these outcomes, judged from the output topics alone:

    enriched      on turns.enriched with verdict pass or redact, no review request
    under_review  on turns.enriched with verdict flag AND on review.requests with verdict flag
    blocked       on review.requests with verdict block, never on turns.enriched

and each malformed record as exactly one dead letter. Anything else (a turn missing, two different event
ids for one turn, a blocked turn on the enriched topic, a verdict mismatch) is a problem. Records
redelivered with the SAME event id are counted separately as redeliveries: consumers deduplicate them. A repeat
must carry the same content, apart from measurements of its own processing (see `same_content`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas._parts import Verdict
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.review_request.v1 import ReviewRequestV1

OUTCOMES = ("enriched", "under_review", "blocked")
# Fields that measure one processing rather than describe the event: a re-processed record gets new values.
MEASUREMENTS = frozenset({"produced_at", "latency_ms"})


def same_content(first: object, again: object) -> bool:
    """Whether a repeated event document reproduces the first: measurement fields ignored, and floats equal to
    a relative 1e-5 (a model run again in a differently sized batch differs in the last bits, e.g.
    5.5940818e-06 vs 5.5940868e-06)."""
    if isinstance(first, dict) and isinstance(again, dict):
        keys = (set(first) | set(again)) - MEASUREMENTS
        return all(k in first and k in again and same_content(first[k], again[k]) for k in keys)
    if isinstance(first, list) and isinstance(again, list):
        return len(first) == len(again) and all(same_content(a, b) for a, b in zip(first, again))
    if isinstance(first, float) or isinstance(again, float):
        return (isinstance(first, (int, float)) and isinstance(again, (int, float))
                and math.isclose(first, again, rel_tol=1e-5, abs_tol=1e-12))
    return first == again


@dataclass
class Accounting:
    outcomes: dict[str, str] = field(default_factory=dict)  # turn id -> outcome
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    redeliveries: int = 0  # records repeating an event id already seen (same content, deduplicated downstream)
    verdicts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    @property
    def counts(self) -> Counter:
        return Counter(self.outcomes.values())

    @property
    def ok(self) -> bool:
        return not self.lost and not self.problems

    def summary(self) -> str:
        counts = self.counts
        return (", ".join(f"{o} {counts.get(o, 0)}" for o in OUTCOMES)
                + f"; lost {len(self.lost)}; problems {len(self.problems)}; redelivered records {self.redeliveries}")


def account(turn_ids: Iterable[str], enriched: Iterable[EnrichedTurnV1],
            reviews: Iterable[ReviewRequestV1]) -> Accounting:
    """Outcome of every turn in ``turn_ids`` from the events of the two output topics (other turns ignored)."""
    wanted = set(turn_ids)
    result = Accounting()
    enriched_by_turn: dict[str, dict[str, EnrichedTurnV1]] = defaultdict(dict)
    reviews_by_turn: dict[str, dict[str, ReviewRequestV1]] = defaultdict(dict)
    for kind, events, by_turn in (("enriched", enriched, enriched_by_turn), ("review", reviews, reviews_by_turn)):
        for event in events:
            if event.turn_id not in wanted:
                continue
            seen = by_turn[event.turn_id]
            if event.event_id in seen:
                result.redeliveries += 1
                if not same_content(seen[event.event_id].model_dump(mode="json"), event.model_dump(mode="json")):
                    result.problems.append(f"{event.turn_id}: {kind} event {event.event_id} redelivered with "
                                           "different content")
                continue
            seen[event.event_id] = event
    for turn_id in sorted(wanted):
        on_enriched = list(enriched_by_turn.get(turn_id, {}).values())
        on_review = list(reviews_by_turn.get(turn_id, {}).values())
        if not on_enriched and not on_review:
            result.lost.append(turn_id)
            continue
        if len(on_enriched) > 1 or len(on_review) > 1:
            result.problems.append(f"{turn_id}: {len(on_enriched)} enriched and {len(on_review)} review events "
                                   "with different ids (duplicates)")
            continue
        enriched_event = on_enriched[0] if on_enriched else None
        review = on_review[0] if on_review else None
        verdict = (enriched_event or review).verdict
        result.verdicts[verdict.value] += 1
        for reason in (enriched_event or review).reasons:
            result.reasons[reason.code] += 1
        if enriched_event and not review and verdict in (Verdict.PASS, Verdict.REDACT):
            result.outcomes[turn_id] = "enriched"
        elif enriched_event and review and enriched_event.verdict == review.verdict == Verdict.FLAG:
            result.outcomes[turn_id] = "under_review"
        elif review and not enriched_event and review.verdict == Verdict.BLOCK:
            result.outcomes[turn_id] = "blocked"
        else:
            result.problems.append(
                f"{turn_id}: inconsistent outcome (enriched verdict "
                f"{enriched_event.verdict.value if enriched_event else None}, review verdict "
                f"{review.verdict.value if review else None})")
    return result
