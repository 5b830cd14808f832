"""Features' pure logic: PII redaction, per-turn text features and per-conversation state.

Personal data is removed here, before anything fans out: only redacted text, entity types and
offsets leave this stage, never the values. The NER model's spans arrive through the route's
fetcher (HandlerContext.fetched); the deterministic recognizers run here.

Conversation state is idempotent under redelivery: a turn index already applied changes nothing,
and its features are re-emitted from a snapshot, identical to the first time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas import EventModel
from schemas._parts import InjectionSignal, PiiSpan
from schemas.features.v1 import FeaturesV1
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.runtime import injection
from services.runtime.handler import HandlerContext, HandlerResult, Output
from services.runtime.pii import PiiDetector, redact

FEATURES_TOPIC = "features"
_FEATURES_ID_NAMESPACE = uuid.UUID("3c9d2f4e-7a61-4f0b-9e2d-5b8a1c6d4e21")
ROLES = ("customer", "agent", "bot")
# How many applied turn indexes and feature snapshots a conversation keeps for redelivery checks.
APPLIED_KEPT = 256
SNAPSHOTS_KEPT = 16
CONTEXT_CHARS = 400

_WORD = re.compile(r"\w+", re.UNICODE)
# Lexical cue for a complaint, for the repeated-complaint counter (a feature, not a classifier).
_COMPLAINT = re.compile(
    r"\b(again|still (?:not|no|doesn'?t|isn'?t|won'?t)|(?:second|third|fourth|fifth) time|ridiculous|unacceptable|"
    r"complain\w*|not working|doesn'?t work|frustrat\w*|worst|fed up|waiting|escalate|supervisor|manager)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FeatureRules:
    context_turns: int = 3
    injection_roles: tuple[str, ...] = ("customer",)  # empty: injection not scored
    injection_model: str = "injection/1"


@dataclass(frozen=True)
class TurnModels:
    """What the route's fetcher got from Triton for one turn."""

    ner_spans: bytes | str = b"[]"  # the pii_ner model's JSON span list
    injection_probability: float | None = None  # the injection model's attack probability, if it ran


def features_event_id(turn_id: str) -> str:
    """Deterministic: reprocessing a turn republishes the same features event id."""
    return str(uuid.uuid5(_FEATURES_ID_NAMESPACE, turn_id))


def text_features(text: str, redacted: str, pii_count: int) -> dict[str, float]:
    words = _WORD.findall(redacted)
    letters = [c for c in text if c.isalpha()]
    return {
        "char_count": float(len(text)),
        "word_count": float(len(words)),
        "mean_word_length": (sum(map(len, words)) / len(words)) if words else 0.0,
        "question_marks": float(text.count("?")),
        "exclamation_marks": float(text.count("!")),
        "uppercase_ratio": (sum(c.isupper() for c in letters) / len(letters)) if letters else 0.0,
        "digit_ratio": (sum(c.isdigit() for c in text) / len(text)) if text else 0.0,
        "pii_count": float(pii_count),
        "complaint_cue": 1.0 if _COMPLAINT.search(redacted) else 0.0,
    }


def empty_conversation() -> dict[str, Any]:
    return {"applied": [], "snapshots": {}, "turns": 0, "chars": {role: 0 for role in ROLES},
            "last_ended_at": None, "complaints": 0, "recent": []}


def conversation_features(conversation: Mapping[str, Any], turn: ValidatedTurnV1) -> dict[str, float]:
    """Features of the conversation as it stands when `turn` arrives (turn included in the counts)."""
    chars = dict(conversation["chars"])
    chars[turn.role.value] = chars.get(turn.role.value, 0) + len(turn.text)
    total = sum(chars.values()) or 1
    last_ended = conversation["last_ended_at"]
    gap = max(0.0, turn.started_at.timestamp() - last_ended) if last_ended is not None else 0.0
    return {
        "turn_count": float(conversation["turns"] + 1),
        "customer_talk_ratio": chars["customer"] / total,
        "agent_talk_ratio": chars["agent"] / total,
        "bot_talk_ratio": chars["bot"] / total,
        "seconds_since_previous_turn": gap,
        "duration_s": max(0.0, (turn.ended_at - turn.started_at).total_seconds()),
    }


def injection_signal(text: str, model_probability: float | None, rules: FeatureRules) -> InjectionSignal:
    """Rules and the model's probability, both on the original text, combined into one score."""
    hits = injection.rule_hits(text)
    return InjectionSignal(
        score=injection.combine(model_probability, hits),
        model_score=None if model_probability is None else round(min(1.0, max(0.0, model_probability)), 6),
        rule_hits=list(hits),
        detector_version=injection.INJECTION_DETECTOR_VERSION,
        model=rules.injection_model if model_probability is not None else None,
    )


def make_features_handler(detector: PiiDetector, rules: FeatureRules = FeatureRules()):
    """Handler for turns.validated. State: one entry per conversation id. Fetched: the NER model's output."""

    def handle_validated_turn(event: EventModel, conversations: Mapping[str, Any],
                              context: HandlerContext) -> HandlerResult:
        assert isinstance(event, ValidatedTurnV1), f"runtime decoded {type(event).__name__}, expected ValidatedTurnV1"
        conversation = conversations.get(event.conversation_id) or empty_conversation()
        applied = event.turn_index in conversation["applied"]
        snapshot = conversation["snapshots"].get(str(event.turn_index))
        if applied and snapshot is None:
            return HandlerResult(skipped="turn_already_applied")

        models: TurnModels = context.fetched or TurnModels()
        ner = detector.parse_ner_spans(models.ner_spans) if models.ner_spans else []
        matches = detector.detect(event.text, ner=ner)
        redacted, kept = redact(event.text, matches)
        is_complaint = event.role.value == "customer" and _COMPLAINT.search(redacted) is not None

        if snapshot is None:
            snapshot = {
                "numeric": conversation_features(conversation, event)
                | {"repeated_complaints": float(conversation["complaints"] + int(is_complaint))},
                "context_turn_ids": [turn_id for _, _, turn_id in conversation["recent"][-rules.context_turns:]]
                if rules.context_turns else [],
                "context_text": "\n".join(
                    f"{role}: {text}" for role, text, _ in conversation["recent"][-rules.context_turns:]
                ) if rules.context_turns else "",
            }
        features = FeaturesV1(
            event_id=features_event_id(event.turn_id),
            occurred_at=event.occurred_at,
            turn_id=event.turn_id,
            conversation_id=event.conversation_id,
            turn_index=event.turn_index,
            role=event.role,
            channel=event.channel,
            language=event.language,
            tenant_id=event.tenant_id,
            started_at=event.started_at,
            ended_at=event.ended_at,
            redacted_text=redacted,
            pii=[PiiSpan(pii_type=m.pii_type, start=m.start, end=m.end, detector=m.detector[:64],
                         score=min(1.0, max(0.0, m.score))) for m in kept],
            numeric=text_features(event.text, redacted, len(kept)) | snapshot["numeric"]
            | {"turn_index": float(event.turn_index)},
            context_turn_ids=snapshot["context_turn_ids"],
            context_text=snapshot["context_text"],
            injection=injection_signal(event.text, models.injection_probability, rules)
            if event.role.value in rules.injection_roles else None,
        )
        output = (Output(FEATURES_TOPIC, features),)
        if applied:
            return HandlerResult(outputs=output)  # redelivered: same features, state unchanged
        return HandlerResult(outputs=output, state_updates={
            event.conversation_id: _applied(conversation, event, redacted, is_complaint, snapshot),
        })

    return handle_validated_turn


def _applied(conversation: Mapping[str, Any], turn: ValidatedTurnV1, redacted: str, is_complaint: bool,
             snapshot: dict[str, Any]) -> dict[str, Any]:
    chars = dict(conversation["chars"])
    chars[turn.role.value] = chars.get(turn.role.value, 0) + len(turn.text)
    snapshots = dict(conversation["snapshots"])
    snapshots[str(turn.turn_index)] = snapshot
    while len(snapshots) > SNAPSHOTS_KEPT:
        del snapshots[min(snapshots, key=int)]
    last_ended = conversation["last_ended_at"]
    ended = turn.ended_at.timestamp()
    return {
        "applied": sorted([*conversation["applied"], turn.turn_index])[-APPLIED_KEPT:],
        "snapshots": snapshots,
        "turns": conversation["turns"] + 1,
        "chars": chars,
        "last_ended_at": ended if last_ended is None else max(last_ended, ended),
        "complaints": conversation["complaints"] + int(is_complaint),
        "recent": [*conversation["recent"], [turn.role.value, redacted[:CONTEXT_CHARS], turn.turn_id]][-10:],
    }
