"""Guardrails' pure logic: a prediction is judged by the policy's ordered checks and routed by its verdict.

    pass / redact  -> turns.enriched                      (the product)
    flag           -> turns.enriched (verdict 'flag') and review.requests (a human confirms or corrects)
    block          -> review.requests only                (blocked text never reaches the enriched topic)

The verdict is the most severe one any check asked for; every check that fired is a machine-readable
reason carrying its score and threshold. Output ids derive from the prediction id, so a redelivered
prediction republishes the same events (consumers deduplicate on event_id).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas import EventModel
from schemas._parts import Deployment, ModelOutput, Verdict, VerdictReason
from schemas.enriched_turn.v1 import EnrichedTurnV1
from schemas.prediction.v1 import PredictionV1
from schemas.review_request.v1 import ReviewRequestV1
from services.guardrails.policy import (
    BannedPhrasesCheck,
    ConfidenceGateCheck,
    DisagreementCheck,
    InjectionCheck,
    LengthLimitCheck,
    ModelThresholdCheck,
    OutputSchemaCheck,
    Policy,
    ResidualPiiCheck,
)
from services.runtime.handler import HandlerContext, HandlerResult, Output
from services.runtime.pii import PiiDetector, redact, residual_matches

ENRICHED_TOPIC = "turns.enriched"
REVIEW_TOPIC = "review.requests"
_ENRICHED_ID_NAMESPACE = uuid.UUID("6b1f0e7a-3c52-4d89-a1e4-0f9b2c7d8e31")
_REVIEW_ID_NAMESPACE = uuid.UUID("9e4a7c13-58d2-4f06-b3a9-2d1c0e5f7b84")
SEVERITY = {Verdict.PASS: 0, Verdict.REDACT: 1, Verdict.FLAG: 2, Verdict.BLOCK: 3}
_PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2}
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def enriched_event_id(prediction_event_id: str) -> str:
    return str(uuid.uuid5(_ENRICHED_ID_NAMESPACE, prediction_event_id))


def review_event_id(prediction_event_id: str) -> str:
    return str(uuid.uuid5(_REVIEW_ID_NAMESPACE, prediction_event_id))


@dataclass
class Judgement:
    """What the checks concluded about one turn."""

    text: str
    pii_types: set[str]
    reasons: list[VerdictReason] = field(default_factory=list)
    priority: str = "low"
    checks_run: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return max((r.verdict for r in self.reasons), key=SEVERITY.__getitem__, default=Verdict.PASS)

    def fire(self, check, code: str, verdict: Verdict, detail: str = "", score: float | None = None,
             threshold: float | None = None) -> None:
        self.reasons.append(VerdictReason(check=check.id, code=code, verdict=verdict, detail=detail[:1024],
                                          score=score, threshold=threshold))
        if SEVERITY[verdict] >= SEVERITY[Verdict.FLAG] and _PRIORITY_RANK[check.priority] > _PRIORITY_RANK[
                self.priority]:
            self.priority = check.priority


def _champion(prediction: PredictionV1, task: str) -> ModelOutput | None:
    return next((o for o in prediction.outputs if o.task == task and o.deployment == Deployment.CHAMPION), None)


class Guardrails:
    """Applies one validated policy. Construct once per policy; `judge` is pure."""

    def __init__(self, policy: Policy, detector: PiiDetector, task_labels: Mapping[str, tuple[str, ...]]):
        self.policy = policy
        self.detector = detector
        self.task_labels = {task: set(labels) for task, labels in task_labels.items()}
        self._phrases = {
            check.id: [(rule.id, re.compile("|".join(f"(?:{p})" for p in rule.patterns), re.IGNORECASE))
                       for rule in check.rules]
            for check in policy.checks if isinstance(check, BannedPhrasesCheck)
        }

    def judge(self, prediction: PredictionV1) -> Judgement:
        judgement = Judgement(text=prediction.redacted_text, pii_types={span.pii_type for span in prediction.pii})
        role = prediction.role.value
        for check in self.policy.checks:
            if not check.enabled or role not in check.roles:
                continue
            if self.policy.stop_after_block and judgement.verdict == Verdict.BLOCK:
                break
            judgement.checks_run.append(check.id)
            getattr(self, f"_check_{check.kind}")(check, prediction, judgement)
        return judgement

    # -- deterministic tier ---------------------------------------------------------------------------------
    def _check_output_schema(self, check: OutputSchemaCheck, prediction: PredictionV1, j: Judgement) -> None:
        for task in check.required_tasks:
            if _champion(prediction, task) is None:
                j.fire(check, "missing_output", check.verdict, f"no champion output for task {task!r}")
        for output in prediction.outputs:
            where = f"{output.task} {output.model_name} v{output.model_version} ({output.deployment.value})"
            known = self.task_labels.get(output.task)
            problems = []
            if known is not None and (output.label not in known or not set(output.scores) <= known):
                problems.append(f"labels outside {sorted(known)}")
            if output.scores:
                total = sum(output.scores.values())
                if not all(math.isfinite(v) for v in output.scores.values()) or \
                        abs(total - 1.0) > check.score_sum_tolerance:
                    problems.append(f"scores sum to {total:.4f}")
                top = max(output.scores, key=output.scores.__getitem__)
                if output.scores.get(output.label) is None or \
                        output.scores[output.label] < output.scores[top] - 1e-6:
                    problems.append(f"label {output.label!r} is not the top score ({top!r})")
                elif abs(output.confidence - output.scores[output.label]) > 1e-3:
                    problems.append(f"confidence {output.confidence} differs from the label's score")
            else:
                problems.append("no scores")
            if problems:
                j.fire(check, "malformed_output", check.verdict, f"{where}: {'; '.join(problems)}")

    def _check_residual_pii(self, check: ResidualPiiCheck, _prediction: PredictionV1, j: Judgement) -> None:
        matches = residual_matches(j.text, self.detector)
        if not matches:
            return
        redacted, kept = redact(j.text, matches)
        types = sorted({m.pii_type for m in kept})
        j.pii_types.update(types)
        # The residue is removed whatever the verdict: reviewers never see raw personal data either.
        j.text = redacted
        j.fire(check, "residual_pii", check.verdict,
               f"{len(kept)} span(s) of {', '.join(types)} left after the features stage; redacted here")

    def _check_length_limit(self, check: LengthLimitCheck, _prediction: PredictionV1, j: Judgement) -> None:
        chars = len(j.text)
        if chars > check.max_chars:
            j.fire(check, "too_many_chars", check.verdict, f"{chars} characters", float(chars),
                   float(check.max_chars))
            return
        tokens = len(_TOKEN.findall(j.text))
        if tokens > check.max_tokens:
            j.fire(check, "too_many_tokens", check.verdict, f"{tokens} tokens", float(tokens),
                   float(check.max_tokens))

    def _check_banned_phrases(self, check: BannedPhrasesCheck, _prediction: PredictionV1, j: Judgement) -> None:
        for rule_id, pattern in self._phrases[check.id]:
            match = pattern.search(j.text)
            if match:
                j.fire(check, rule_id, check.verdict, f"matched {match.group()[:80]!r}")

    # -- model tier -----------------------------------------------------------------------------------------
    def _check_model_threshold(self, check: ModelThresholdCheck, prediction: PredictionV1, j: Judgement) -> None:
        output = _champion(prediction, check.task)
        if output is None or check.label not in output.scores:
            return  # the output_schema check reports missing outputs
        score = output.scores[check.label]
        source = f"{output.model_name} v{output.model_version}"
        if check.block_at is not None and score >= check.block_at:
            j.fire(check, f"{check.task}_above_block_threshold", Verdict.BLOCK,
                   f"{check.label} score from {source}", score, check.block_at)
        elif check.flag_at is not None and score >= check.flag_at:
            j.fire(check, f"{check.task}_above_flag_threshold", Verdict.FLAG,
                   f"{check.label} score from {source}", score, check.flag_at)

    def _check_injection(self, check: InjectionCheck, prediction: PredictionV1, j: Judgement) -> None:
        signal = prediction.injection
        if signal is None:
            return
        hits = ", ".join(signal.rule_hits) or "none"
        if signal.score >= check.threshold:
            j.fire(check, "prompt_injection", check.verdict,
                   f"injection score on the original text (rules: {hits}; detector {signal.detector_version})",
                   signal.score, check.threshold)
        elif check.rule_hits_fire and signal.rule_hits:
            j.fire(check, "prompt_injection_rule", check.verdict, f"injection rules matched: {hits}",
                   signal.score, check.threshold)

    # -- confidence tier ------------------------------------------------------------------------------------
    def _check_confidence_gate(self, check: ConfidenceGateCheck, prediction: PredictionV1, j: Judgement) -> None:
        for task, floor in check.min_confidence.items():
            output = _champion(prediction, task)
            if output is not None and output.confidence < floor:
                j.fire(check, "low_confidence", check.verdict,
                       f"{task} {output.label!r} from {output.model_name} v{output.model_version}",
                       output.confidence, floor)

    def _check_disagreement(self, check: DisagreementCheck, prediction: PredictionV1, j: Judgement) -> None:
        for task in check.tasks:
            champion = _champion(prediction, task)
            if champion is None:
                continue
            if check.min_champion_confidence and champion.confidence >= check.min_champion_confidence:
                continue
            for output in prediction.outputs:
                if output.task == task and output.deployment == Deployment.CHALLENGER and \
                        output.label != champion.label:
                    j.fire(check, "challenger_disagrees", check.verdict,
                           f"{task}: champion v{champion.model_version} says {champion.label!r}, challenger "
                           f"v{output.model_version} says {output.label!r}", champion.confidence,
                           check.min_champion_confidence or None)
                    break


def make_guardrails_handler(guardrails: Guardrails):
    """Handler for predictions. Stateless: the verdict depends only on the prediction and the policy."""
    policy = guardrails.policy
    summary_keys = policy.enriched.features_summary

    def handle_prediction(event: EventModel, _state: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        assert isinstance(event, PredictionV1), f"runtime decoded {type(event).__name__}, expected PredictionV1"
        judgement = guardrails.judge(event)
        verdict = judgement.verdict
        outputs: list[Output] = []
        if verdict != Verdict.BLOCK:
            outputs.append(Output(ENRICHED_TOPIC, EnrichedTurnV1(
                event_id=enriched_event_id(event.event_id),
                occurred_at=event.occurred_at,
                turn_id=event.turn_id,
                prediction_event_id=event.event_id,
                conversation_id=event.conversation_id,
                turn_index=event.turn_index,
                role=event.role,
                channel=event.channel,
                language=event.language,
                tenant_id=event.tenant_id,
                started_at=event.started_at,
                ended_at=event.ended_at,
                redacted_text=judgement.text,
                pii_types=sorted(judgement.pii_types),
                predictions=[o for o in event.outputs if o.deployment == Deployment.CHAMPION],
                verdict=verdict,
                reasons=judgement.reasons,
                policy_version=policy.label,
                features_summary={key: event.numeric[key] for key in summary_keys if key in event.numeric},
            )))
        if SEVERITY[verdict] >= SEVERITY[Verdict.FLAG]:
            outputs.append(Output(REVIEW_TOPIC, ReviewRequestV1(
                event_id=review_event_id(event.event_id),
                occurred_at=event.occurred_at,
                turn_id=event.turn_id,
                prediction_event_id=event.event_id,
                conversation_id=event.conversation_id,
                tenant_id=event.tenant_id,
                verdict=verdict,
                reasons=[r for r in judgement.reasons if SEVERITY[r.verdict] >= SEVERITY[Verdict.FLAG]],
                redacted_text=judgement.text,
                predictions=list(event.outputs),
                policy_version=policy.label,
                priority=judgement.priority,
            )))
        return HandlerResult(outputs=tuple(outputs), decision=verdict.value)

    return handle_prediction
