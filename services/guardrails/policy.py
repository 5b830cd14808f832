"""The guardrail policy: an explicit, versioned file of ordered checks, validated before the service starts.

    version: "2026-11-27.1"
    checks:                      # run in this order; tiers must not go backwards
      - {id: residual_pii, kind: residual_pii, tier: deterministic, verdict: redact}
      - {id: toxicity, kind: model_threshold, tier: model, task: toxicity, label: toxic,
         flag_at: 0.5, block_at: 0.9}
      ...

Changing thresholds, phrases, verdicts or the order is an edit of the file and a restart, never a code
change. Every problem in the file is reported at start-up, each with the check id and the field at fault.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas._parts import Verdict
from services.runtime.model_contracts import ModelContract

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "contracts" / "policies" / "guardrails.yaml"
TIERS = ("deterministic", "model", "confidence")
ROLES = ("customer", "agent", "bot")


class PolicyError(ValueError):
    """The policy file is missing, unreadable or invalid; the message lists every problem."""


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Stable id; reasons carry it as `check`.")
    tier: Literal["deterministic", "model", "confidence"] = Field(description="Cost tier; tiers run in order.")
    enabled: bool = Field(default=True, description="A disabled check is validated but never runs.")
    roles: tuple[Literal["customer", "agent", "bot"], ...] = Field(
        default=ROLES, description="Whose turns the check applies to."
    )
    priority: Literal["low", "normal", "high"] = Field(default="normal", description="Review priority it asks for.")
    description: str = Field(default="", description="Why the check exists (for reviewers and auditors).")


class OutputSchemaCheck(_Check):
    """Model outputs are well formed: known labels, scores in [0, 1] summing to 1, confidence = top score."""

    kind: Literal["output_schema"]
    verdict: Verdict = Field(default=Verdict.FLAG, description="Verdict for a malformed or missing output.")
    required_tasks: tuple[str, ...] = Field(default=(), description="Tasks whose champion output must be present.")
    score_sum_tolerance: float = Field(default=0.02, gt=0, le=0.5, description="Allowed |sum(scores) - 1|.")


class ResidualPiiCheck(_Check):
    """Personal data left in outgoing text is redacted here (shared recognizers plus a recall-first net)."""

    kind: Literal["residual_pii"]
    verdict: Literal[Verdict.REDACT, Verdict.FLAG, Verdict.BLOCK] = Field(
        default=Verdict.REDACT, description="redact: publish with the residue replaced; flag/block: escalate."
    )


class LengthLimitCheck(_Check):
    """Outgoing text beyond the size downstream consumers accept."""

    kind: Literal["length_limit"]
    verdict: Verdict = Field(default=Verdict.FLAG, description="Verdict for an over-long turn.")
    max_chars: int = Field(default=4000, ge=1, description="Most characters of redacted text.")
    max_tokens: int = Field(default=1000, ge=1, description="Most word/punctuation tokens of redacted text.")


class PhraseRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Reason code when it matches.")
    patterns: tuple[str, ...] = Field(min_length=1, description="Case-insensitive regular expressions.")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
        return patterns


class BannedPhrasesCheck(_Check):
    """Phrases or topics that must not pass (agent promises, self-harm, legal threats ...)."""

    kind: Literal["banned_phrases"]
    verdict: Verdict = Field(description="Verdict when any rule matches.")
    rules: tuple[PhraseRule, ...] = Field(min_length=1, description="Named phrase lists.")


class ModelThresholdCheck(_Check):
    """A champion model's score for one label against calibrated thresholds (e.g. toxicity)."""

    kind: Literal["model_threshold"]
    task: str = Field(description="Task whose champion output is read.")
    label: str = Field(description="Label whose score is compared.")
    flag_at: float | None = Field(default=None, ge=0, le=1, description="Score at or above which to flag.")
    block_at: float | None = Field(default=None, ge=0, le=1, description="Score at or above which to block.")

    @model_validator(mode="after")
    def _thresholds(self) -> "ModelThresholdCheck":
        if self.flag_at is None and self.block_at is None:
            raise ValueError("needs flag_at, block_at or both")
        if self.flag_at is not None and self.block_at is not None and self.flag_at > self.block_at:
            raise ValueError(f"flag_at {self.flag_at} is above block_at {self.block_at}")
        return self


class InjectionCheck(_Check):
    """The injection score computed upstream on the original text, against a threshold chosen on data."""

    kind: Literal["injection"]
    verdict: Verdict = Field(default=Verdict.BLOCK, description="Verdict at or above the threshold.")
    threshold: float = Field(ge=0, le=1, description="Combined injection score at or above which the check fires.")
    rule_hits_fire: bool = Field(
        default=False, description="Also fire on any rule hit, whatever the score (stricter, more false positives)."
    )


class ConfidenceGateCheck(_Check):
    """Champion predictions a human should confirm: confidence below a floor."""

    kind: Literal["confidence_gate"]
    verdict: Verdict = Field(default=Verdict.FLAG, description="Verdict for a low-confidence prediction.")
    min_confidence: dict[str, float] = Field(min_length=1, description="Task -> lowest acceptable confidence.")


class DisagreementCheck(_Check):
    """Shadow challengers that disagree with the champion: the turn is worth a human label."""

    kind: Literal["disagreement"]
    verdict: Verdict = Field(default=Verdict.FLAG, description="Verdict when champion and challenger disagree.")
    tasks: tuple[str, ...] = Field(min_length=1, description="Tasks compared.")
    min_champion_confidence: float = Field(
        default=0.0, ge=0, le=1,
        description="Ignore disagreement when the champion is at least this sure (keeps review volume bounded).",
    )


Check = Annotated[
    OutputSchemaCheck | ResidualPiiCheck | LengthLimitCheck | BannedPhrasesCheck | ModelThresholdCheck
    | InjectionCheck | ConfidenceGateCheck | DisagreementCheck,
    Field(discriminator="kind"),
]


class EnrichedOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    features_summary: tuple[str, ...] = Field(
        default=(), description="Numeric features copied into each enriched turn's features_summary."
    )


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=48, description="Policy version; every verdict carries it.")
    description: str = Field(default="", description="What this policy is for.")
    stop_after_block: bool = Field(
        default=True, description="Skip the remaining tiers once a check has blocked (blocked text goes nowhere)."
    )
    enriched: EnrichedOptions = Field(default_factory=EnrichedOptions, description="Shape of the enriched output.")
    checks: tuple[Check, ...] = Field(min_length=1, description="Ordered checks.")
    digest: str = Field(default="", description="Set at load: first 8 hex of the file's SHA-256.")

    @model_validator(mode="after")
    def _ordered_and_unique(self) -> "Policy":
        seen: set[str] = set()
        for check in self.checks:
            if check.id in seen:
                raise ValueError(f"check id {check.id!r} appears twice")
            seen.add(check.id)
        tiers = [TIERS.index(check.tier) for check in self.checks]
        if tiers != sorted(tiers):
            raise ValueError("checks must be ordered by tier: " + " -> ".join(TIERS))
        return self

    @property
    def label(self) -> str:
        """What verdicts carry: the declared version plus the file digest, so an unversioned edit shows."""
        return f"{self.version}#{self.digest}" if self.digest else self.version


def contract_problems(policy: Policy, contracts: dict[str, ModelContract]) -> list[str]:
    """Tasks and labels the policy names must exist in the model contracts the inference service runs."""
    labels_by_task: dict[str, set[str]] = {}
    for contract in contracts.values():
        if contract.serving is not None:
            labels_by_task.setdefault(contract.serving.task, set()).update(contract.labels or ())
    problems = []

    def need_task(check_id: str, task: str) -> None:
        if task not in labels_by_task:
            problems.append(f"check {check_id}: task {task!r} is served by no model contract "
                            f"(tasks: {', '.join(sorted(labels_by_task))})")

    for check in policy.checks:
        if isinstance(check, OutputSchemaCheck):
            for task in check.required_tasks:
                need_task(check.id, task)
        elif isinstance(check, ModelThresholdCheck):
            need_task(check.id, check.task)
            if check.task in labels_by_task and check.label not in labels_by_task[check.task]:
                problems.append(f"check {check.id}: label {check.label!r} is not one of task {check.task!r}'s "
                                f"labels {sorted(labels_by_task[check.task])}")
        elif isinstance(check, ConfidenceGateCheck):
            for task in check.min_confidence:
                need_task(check.id, task)
        elif isinstance(check, DisagreementCheck):
            for task in check.tasks:
                need_task(check.id, task)
    return problems


def _format(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def load_policy(path: Path | None = None, contracts: dict[str, ModelContract] | None = None) -> Policy:
    """Read, validate and (given the model contracts) cross-check a policy file; PolicyError lists all problems."""
    path = Path(path or DEFAULT_POLICY)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"guardrail policy {path}: cannot read it ({exc.strerror})") from None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise PolicyError(f"guardrail policy {path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise PolicyError(f"guardrail policy {path}: expected a mapping with 'version' and 'checks'")
    document["digest"] = hashlib.sha256(raw).hexdigest()[:8]
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(f"guardrail policy {path} is invalid:\n{_format(exc)}") from None
    if contracts is not None:
        problems = contract_problems(policy, contracts)
        if problems:
            raise PolicyError(f"guardrail policy {path} disagrees with the model contracts:\n"
                              + "\n".join(f"  {p}" for p in problems))
    return policy
