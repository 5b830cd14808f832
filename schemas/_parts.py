"""Value objects embedded in more than one event schema (not events themselves)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Deployment(StrEnum):
    """Whether a model's output is served to users (champion) or only recorded (shadow challenger)."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"


class ModelOutput(Part):
    """One model's answer for one task on one turn."""

    task: str = Field(min_length=1, max_length=64, description="Task name, e.g. 'sentiment', 'intent', 'toxicity'.")
    model_name: str = Field(min_length=1, max_length=128, description="Model name in the Triton repository.")
    model_version: str = Field(min_length=1, max_length=64, description="Model version that produced the output.")
    deployment: Deployment = Field(default=Deployment.CHAMPION, description="Champion (served) or challenger (shadow).")
    label: str = Field(max_length=128, description="Predicted label (the arg-max class).")
    scores: dict[str, float] = Field(default_factory=dict, description="Score per class label, in [0, 1].")
    confidence: float = Field(ge=0.0, le=1.0, description="Confidence of the predicted label, in [0, 1].")
    latency_ms: float | None = Field(default=None, ge=0.0, description="Inference latency for this output.")


class PiiSpan(Part):
    """A piece of personal data found in a text, by character offsets into the original text."""

    pii_type: str = Field(min_length=1, max_length=64, description="Kind of PII, e.g. EMAIL, PHONE, CARD, PERSON.")
    start: int = Field(ge=0, description="Start offset (inclusive) in the original text.")
    end: int = Field(ge=0, description="End offset (exclusive) in the original text.")
    detector: str = Field(max_length=64, description="Recognizer or model that found it.")
    score: float = Field(ge=0.0, le=1.0, description="Detector confidence in [0, 1].")


class Verdict(StrEnum):
    """Guardrail decision for one turn, from least to most severe."""

    PASS = "pass"
    REDACT = "redact"
    FLAG = "flag"
    BLOCK = "block"


class VerdictReason(Part):
    """A machine-readable reason behind a guardrail verdict."""

    check: str = Field(min_length=1, max_length=64, description="Guardrail check that fired, e.g. 'residual_pii'.")
    code: str = Field(min_length=1, max_length=64, description="Stable reason code, e.g. 'toxicity_above_threshold'.")
    verdict: Verdict = Field(description="Verdict this check asked for.")
    detail: str = Field(default="", max_length=1024, description="Human-readable explanation.")
    score: float | None = Field(default=None, description="Score that was compared with the threshold, if any.")
    threshold: float | None = Field(default=None, description="Threshold the score was compared with, if any.")


class InjectionSignal(Part):
    """Prompt-injection evidence, computed upstream on the ORIGINAL (unredacted) text of a turn.

    Redaction makes injection detectors misfire, and only the features stage may read original text,
    so the score travels downstream and guardrails compare it with their policy's threshold.
    """

    score: float = Field(ge=0.0, le=1.0, description="Combined injection score (model and rules), in [0, 1].")
    model_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Attack probability from the injection model, if it ran."
    )
    rule_hits: list[str] = Field(default_factory=list, description="Ids of the injection rules that matched.")
    detector_version: str = Field(max_length=64, description="Version of the rules and of the score combination.")
    model: str | None = Field(default=None, max_length=128, description="'<model>/<version>' that gave model_score.")
