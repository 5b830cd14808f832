"""Quality of the built classifier heads (sentiment, toxicity, intent) on the held-out slice of their datasets.

Runs the exported ONNX graphs (the files Triton serves) on embeddings computed here with the real
all-MiniLM-L6-v2 Embedder; held-out records are whole templates never used in training or model selection.
Build first: .venv/bin/python -m infra.models.build embedding heads
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infra.models import train_heads as th

ROOT = Path(__file__).resolve().parents[2]
HEADS = ROOT / th.OUT_DIR
EMBEDDING = ROOT / th.EMBEDDING_DIR
HEAD_FILES = [HEADS / p for p in th.EXPECTED_OUTPUTS if p.endswith(".onnx")]
MISSING = [p for p in [EMBEDDING / "model.onnx", EMBEDDING / "tokenizer.json", *HEAD_FILES] if not p.is_file()]

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"build outputs missing ({', '.join(str(p.relative_to(ROOT)) for p in MISSING)}); "
                          "run: .venv/bin/python -m infra.models.build embedding heads")

# Targets from the task brief (held-out slice).
TOXIC_F1_MIN = 0.85
SENTIMENT_MACRO_F1_MIN = 0.70
INTENT_MACRO_F1_MIN = 0.75


@pytest.fixture(scope="module")
def embedder():
    from infra.models.minilm import Embedder

    return Embedder(EMBEDDING)


def head(task: str, version: str = "1"):
    from infra.models.head_runner import OnnxHead

    return OnnxHead(HEADS / task / version / "model.onnx")


@pytest.fixture(scope="module")
def heldout(embedder):
    """task -> (records, inputs by tensor name, true label indices); embeddings shared across tasks."""
    cache: dict = {}
    out = {}
    for task in th.LABELS:
        records = [r for r in th.load_dataset(ROOT, task) if r["split"] == "heldout"]
        assert records, f"{task}: the dataset has no held-out records"
        y = np.array([th.LABELS[task].index(r["label"]) for r in records])
        out[task] = (records, th.features(embedder, task, records, cache), y)
    return out


def evaluate(heldout, task: str, version: str = "1") -> dict:
    records, inputs, y = heldout[task]
    return th.scores(y, head(task, version)(inputs).argmax(axis=1), th.LABELS[task])


def test_heldout_is_disjoint_from_training_by_group():
    for task in th.LABELS:
        records = th.load_dataset(ROOT, task)
        train = {r["group"] for r in records if r["split"] == "train"}
        held = {r["group"] for r in records if r["split"] == "heldout"}
        assert held and not train & held, task


def test_toxicity_f1_on_heldout(heldout):
    result = evaluate(heldout, "toxicity")
    assert result["per_class_f1"]["toxic"] >= TOXIC_F1_MIN, result


def test_toxicity_hard_cases_mostly_right(heldout):
    # Angry-but-clean complaints and profanity aimed at no one: a swear-word filter gets these wrong.
    records, inputs, y = heldout["toxicity"]
    pred = head("toxicity")(inputs).argmax(axis=1)
    for tag in ("angry_clean", "undirected_profanity", "abuse_clean"):
        idx = [i for i, r in enumerate(records) if r["tag"] == tag]
        assert idx, f"no held-out records tagged {tag}"
        assert np.mean(pred[idx] == y[idx]) >= 0.75, (tag, float(np.mean(pred[idx] == y[idx])))


def test_sentiment_macro_f1_on_heldout(heldout):
    result = evaluate(heldout, "sentiment")
    assert result["macro_f1"] >= SENTIMENT_MACRO_F1_MIN, result


@pytest.mark.parametrize("version", ["1", "2"])
def test_intent_macro_f1_on_heldout(heldout, version):
    result = evaluate(heldout, "intent", version)
    assert result["macro_f1"] >= INTENT_MACRO_F1_MIN, result


def test_intent_uses_the_context(heldout, embedder):
    # On context-decided records the turn alone is ambiguous: with its context the champion must be right far
    # more often than with the empty context of a first turn fed in its place.
    records, inputs, y = heldout["intent"]
    idx = [i for i, r in enumerate(records) if r["tag"] == "context_decided"]
    assert idx, "no held-out context-decided records"
    champion = head("intent")
    turns = inputs["TURN_EMBEDDING"][idx]
    with_context = champion({"TURN_EMBEDDING": turns, "CONTEXT_EMBEDDING": inputs["CONTEXT_EMBEDDING"][idx]})
    first_turn = np.repeat(embedder.embed([""]), len(idx), axis=0)
    without = champion({"TURN_EMBEDDING": turns, "CONTEXT_EMBEDDING": first_turn})
    accuracy_with = float(np.mean(with_context.argmax(axis=1) == y[idx]))
    accuracy_without = float(np.mean(without.argmax(axis=1) == y[idx]))
    assert accuracy_with >= 0.8 and accuracy_with - accuracy_without >= 0.4, (accuracy_with, accuracy_without)


# Named hard cases, written for this test (not in the datasets), in the redacted voice-transcript style.
TOXICITY_CASES = [
    ("angry clean complaint", "i have been on hold for almost an hour and nobody can tell me anything this is absolutely shocking", "non_toxic"),
    ("angry clean complaint aimed at 'you'", "I'm fed up, you've sent me three different bills this month and none of them are right.", "non_toxic"),
    ("undirected profanity", "the bloody internet went down again in the middle of my meeting", "non_toxic"),
    ("undirected profanity, pleased", "holy shit that was quick thank you", "non_toxic"),
    ("swear-free abuse", "you are a spineless little worm and everyone at your company is a leech", "toxic"),
    ("swear-free abuse", "nobody with any self respect would work where you work you sad little man", "toxic"),
    ("threat", "i know where you live and i'll be waiting", "toxic"),
]


@pytest.mark.parametrize("name, text, label", TOXICITY_CASES, ids=[c[0] + f" {i}" for i, c in enumerate(TOXICITY_CASES)])
def test_toxicity_named_cases(embedder, name, text, label):
    probabilities = head("toxicity")({"EMBEDDING": embedder.embed([text])})[0]
    assert th.LABELS["toxicity"][int(probabilities.argmax())] == label, (text, probabilities.tolist())


SENTIMENT_CASES = [
    ("polite agent", "let me just check that for you one moment", "neutral"),
    ("agent asks for details", "could you confirm the postcode for me please", "neutral"),
    ("customer thanks", "thank you so much you've been really helpful", "positive"),
    ("angry clean complaint", "this is the third time the engineer has not turned up i'm really unhappy", "negative"),
]


@pytest.mark.parametrize("name, text, label", SENTIMENT_CASES, ids=[c[0] for c in SENTIMENT_CASES])
def test_sentiment_named_cases(embedder, name, text, label):
    probabilities = head("sentiment")({"EMBEDDING": embedder.embed([text])})[0]
    assert th.LABELS["sentiment"][int(probabilities.argmax())] == label, (text, probabilities.tolist())


# The same ambiguous reply, two contexts, two intents; and a topic switch the context must not override.
INTENT_CASES = [
    ([("agent", "i can split what you owe into three or six monthly payments which would you prefer")],
     "the second option please", "payment_arrangement"),
    ([("agent", "we have the unlimited plan or the basic plan which one do you want")],
     "the second option please", "plan_change"),
    ([("agent", "i can block the card straight away and send you a new one shall i do that")],
     "yes please do", "fraud_report"),
    ([("agent", "is there anything else i can help you with")], "no that is all", "closing"),
    ([("agent", "is there anything else i can help you with")], "actually yes i cannot log into the app", "account_access"),
]


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("context, turn, label", INTENT_CASES, ids=[c[2] for c in INTENT_CASES])
def test_intent_named_cases(embedder, version, context, turn, label):
    context_text = th.context_text([{"role": role, "text": text} for role, text in context])
    probabilities = head("intent", version)({"TURN_EMBEDDING": embedder.embed([turn]),
                                             "CONTEXT_EMBEDDING": embedder.embed([context_text])})[0]
    assert th.LABELS["intent"][int(probabilities.argmax())] == label, (turn, context_text, probabilities.tolist())
