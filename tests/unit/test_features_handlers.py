"""The features handler without Kafka or Triton: redaction, text features, conversation state and
idempotence under redelivery. NER output is given as the pii_ner model would return it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from schemas.features.v1 import FeaturesV1
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.features.handlers import (
    SNAPSHOTS_KEPT,
    FeatureRules,
    TurnModels,
    features_event_id,
    make_features_handler,
)
from services.runtime.handler import HandlerContext
from services.runtime.pii import PiiDetector

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
HANDLER = make_features_handler(PiiDetector(), FeatureRules(context_turns=3))


def turn(index: int, text: str, role: str = "customer", conversation: str = "conv-1", gap_s: float = 10) -> ValidatedTurnV1:
    start = T0 + timedelta(seconds=index * gap_s)
    return ValidatedTurnV1(
        event_id=f"v-{conversation}-{index}", occurred_at=start, turn_id=f"{conversation}-{index}",
        conversation_id=conversation, turn_index=index, role=role, text=text, started_at=start,
        ended_at=start + timedelta(seconds=4), channel="voice", language="en-US", tenant_id="acme",
        source_schema="raw_turn/v2", received_at=start,
    )


class Conversation:
    """Drives the handler the way the runtime does: state updates applied after each turn."""

    def __init__(self):
        self.state: dict = {}

    def send(self, event: ValidatedTurnV1, ner: list[dict] | None = None):
        fetched = TurnModels(ner_spans=json.dumps(ner or []).encode())
        context = HandlerContext(service="features", now=T0, source_topic="turns.validated", partition=0,
                                 offset=0, fetched=fetched)
        result = HANDLER(event, self.state, context)
        self.state.update(result.state_updates)
        return result


def only_features(result) -> FeaturesV1:
    (output,) = result.outputs
    assert output.topic == "features"
    return output.event


def test_personal_data_is_replaced_by_typed_placeholders_and_never_emitted():
    text = "my card is 4539 1488 0343 6467 and my email is priya.raman@example.org"
    features = only_features(Conversation().send(turn(0, text)))
    assert "4539" not in features.model_dump_json() and "priya" not in features.model_dump_json()
    assert "[CARD]" in features.redacted_text and "[EMAIL]" in features.redacted_text
    types = sorted(span.pii_type for span in features.pii)
    assert types == ["CARD", "EMAIL"]
    card = next(span for span in features.pii if span.pii_type == "CARD")
    assert text[card.start:card.end] == "4539 1488 0343 6467"  # offsets point into the original text
    assert features.numeric["pii_count"] == 2.0
    assert features.event_id == features_event_id("conv-1-0")


def test_ner_spans_from_the_model_are_merged_with_the_recognizers():
    text = "please ask Dolores Haze to call me"
    start = text.index("Dolores")
    ner = [{"type": "PERSON", "start": start, "end": start + len("Dolores Haze"), "score": 0.97}]
    features = only_features(Conversation().send(turn(0, text), ner))
    assert "Dolores" not in features.redacted_text and "[PERSON]" in features.redacted_text


def test_conversation_state_counts_turns_talk_ratio_gaps_and_context():
    conversation = Conversation()
    first = only_features(conversation.send(turn(0, "i was charged twice this month")))
    second = only_features(conversation.send(turn(1, "let me check that for you", role="agent")))
    third = only_features(conversation.send(turn(2, "this is the third time i call, it is still not fixed")))
    assert [f.numeric["turn_count"] for f in (first, second, third)] == [1.0, 2.0, 3.0]
    assert first.context_text == "" and first.context_turn_ids == []
    assert third.context_turn_ids == ["conv-1-0", "conv-1-1"]
    assert third.context_text == "customer: i was charged twice this month\nagent: let me check that for you"
    assert second.numeric["seconds_since_previous_turn"] == pytest.approx(6.0)  # 10 s apart, 4 s long
    assert 0 < third.numeric["customer_talk_ratio"] < 1 and third.numeric["bot_talk_ratio"] == 0
    assert third.numeric["repeated_complaints"] == 1.0 and third.numeric["complaint_cue"] == 1.0


def test_context_carries_only_redacted_text():
    conversation = Conversation()
    conversation.send(turn(0, "you can reach me at priya.raman@example.org"))
    later = only_features(conversation.send(turn(1, "thanks", role="agent")))
    assert "priya" not in later.context_text and "[EMAIL]" in later.context_text


def test_a_redelivered_turn_changes_nothing_and_republishes_identical_features():
    conversation = Conversation()
    events = [turn(i, f"turn number {i} about my bill", role="customer" if i % 2 == 0 else "agent")
              for i in range(4)]
    originals = [only_features(conversation.send(event)) for event in events]
    state_before = json.dumps(conversation.state, sort_keys=True)
    again = conversation.send(events[1])
    assert again.state_updates == {}
    assert only_features(again) == originals[1]
    assert json.dumps(conversation.state, sort_keys=True) == state_before


def test_a_turn_applied_long_ago_is_skipped_not_recounted():
    conversation = Conversation()
    for i in range(SNAPSHOTS_KEPT + 2):
        conversation.send(turn(i, f"turn {i}"))
    turns_before = conversation.state["conv-1"]["turns"]
    result = conversation.send(turn(0, "turn 0"))
    assert result.skipped == "turn_already_applied" and result.outputs == ()
    assert conversation.state["conv-1"]["turns"] == turns_before


def test_conversations_do_not_share_state():
    conversation = Conversation()
    conversation.send(turn(0, "hello", conversation="a"))
    other = only_features(conversation.send(turn(0, "hello", conversation="b")))
    assert other.numeric["turn_count"] == 1.0 and other.context_text == ""
