"""Guardrail quality, per check, on labeled data we generate: precision, recall, F1 (F2 for PII).

    .venv/bin/python -m infra.guardrails.evaluate            # the README table (about a minute on 2 cores)
    .venv/bin/python -m infra.guardrails.evaluate --choose   # also re-derive the toxicity thresholds

Everything runs in-process with the same code and model files the services use (recognizers from
services.runtime.pii, Rampart and MiniLM ONNX graphs, the heads' ONNX graphs, the policy file), so no
Kafka or Triton is needed. Sets (all synthetic, written by us, seeded):

- residual_pii: the PII held-out set of infra/models/data/pii (many surface forms, read-aloud included)
  plus a near-miss set built here of forms the features stage rightly declines as validated PII but that
  must not be published either (checksum-failing cards, bad-checksum IBANs, obfuscated e-mails, long digit
  strings with no context, numbers read out with no cue). Truth per turn: personal data is still visible
  after the features stage. The check reads the features stage's redacted output, as in production.
  PII-free turns (the PII set's negatives and the toxicity set's clean turns) give its false-positive rate.
- toxicity: held-out templates of infra/models/data/toxicity, split by template group into a calibration
  half (thresholds are chosen there with --choose) and a test half (reported).
- prompt_injection: held-out templates of infra/models/data/injection (attacks, look-alikes, ordinary turns)
  scored by the detector the features stage runs (rules + model, infra/models/eval_injection.py).
- banned phrases: the labeled phrase set below (agent conduct, customer crisis, and look-alikes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infra.models.data.pii.generate import Renderer, generate, luhn_complete, make_iban  # noqa: E402
from services.guardrails.handlers import Guardrails  # noqa: E402
from services.guardrails.policy import (  # noqa: E402
    BannedPhrasesCheck,
    InjectionCheck,
    ModelThresholdCheck,
    load_policy,
)
from services.runtime.model_contracts import load_model_contracts, served_task_labels  # noqa: E402
from services.runtime.pii import PiiDetector, redact, residual_matches  # noqa: E402

MODELS = REPO / ".cache" / "models"
TOXICITY_DATA = REPO / "infra" / "models" / "data" / "toxicity" / "toxicity.jsonl"
INJECTION_DATA = REPO / "infra" / "models" / "data" / "injection" / "injection.jsonl"
VISIBLE_MIN_CHARS = 3  # a residue shorter than this is not a readable value

# --- labeled phrase set: (role, text, expected rule id or None) ------------------------------------------------
PHRASES: list[tuple[str, str, str | None]] = [
    ("agent", "to verify you, tell me your password please", "credential_request"),
    ("agent", "can you read me your pin so I can check the card", "credential_request"),
    ("agent", "what's your password for the online account", "credential_request"),
    ("bot", "please send me your one-time code to continue", "credential_request"),
    ("agent", "give me your full online banking login and I'll sort it", "credential_request"),
    ("agent", "i guarantee you'll get the refund by friday", "unauthorised_promise"),
    ("agent", "off the record, the outage will last all week", "unauthorised_promise"),
    ("agent", "between you and me, that plan is a rip-off", "unauthorised_promise"),
    ("agent", "I can personally guarantee the engineer comes tomorrow", "unauthorised_promise"),
    ("bot", "this option has guaranteed approval for all customers", "unauthorised_promise"),
    ("customer", "honestly i want to kill myself over this debt", "self_harm"),
    ("customer", "i don't want to live like this anymore", "self_harm"),
    ("customer", "i've been having suicidal thoughts since the repossession", "self_harm"),
    ("customer", "sometimes i think i should just end it all", "self_harm"),
    ("customer", "i might hurt myself if this goes on", "self_harm"),
    # look-alikes: must not fire
    ("agent", "never share your password with anyone, including us", None),
    ("agent", "you can reset your pin in the app under security", None),
    ("agent", "we can't guarantee a delivery date during the strike", None),
    ("bot", "I will send you a one-time code by text message", None),
    ("agent", "i'll note that on the record for you", None),
    ("customer", "my password doesn't work since the update", None),
    ("customer", "this bill is killing me, honestly", None),
    ("customer", "the app keeps killing itself when I open it", None),
    ("customer", "i'd like to end my contract at the end of the month", None),
    ("customer", "this music on hold makes me want to scream", None),
    ("customer", "can you tell me your name for my notes", None),
    ("agent", "between the two plans, the second one is cheaper", None),
    ("customer", "my pin was blocked after three tries", None),
    ("customer", "the line is dead, can you end the call and ring me back", None),
    ("agent", "i can guarantee nothing about third-party fees, sorry", "unauthorised_promise"),
]


def prf(tp: int, fp: int, fn: int, beta: float = 1.0) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    b2 = beta * beta
    f = (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0
    return precision, recall, f


class Table:
    def __init__(self) -> None:
        self.rows: list[str] = ["| check | set | n (pos/neg) | precision | recall | F1 | F2 | FPR on negatives |",
                                "|---|---|---|---|---|---|---|---|"]

    def add(self, check: str, data: str, truth: list[bool], fired: list[bool]) -> dict:
        tp = sum(t and f for t, f in zip(truth, fired))
        fp = sum(f and not t for t, f in zip(truth, fired))
        fn = sum(t and not f for t, f in zip(truth, fired))
        negatives = sum(not t for t in truth)
        p, r, f1 = prf(tp, fp, fn)
        f2 = prf(tp, fp, fn, beta=2.0)[2]
        fpr = fp / negatives if negatives else 0.0
        self.rows.append(f"| {check} | {data} | {tp + fn}/{negatives} | {p:.3f} | {r:.3f} | {f1:.3f} | {f2:.3f} "
                         f"| {fpr:.3%} |")
        return {"precision": p, "recall": r, "f1": f1, "f2": f2, "fpr": fpr, "tp": tp, "fp": fp, "fn": fn}

    def print(self) -> None:
        print("\n".join(self.rows))


# --- residual PII -------------------------------------------------------------------------------------------------

def near_miss_records(seed: int = 11, count: int = 240) -> list[dict]:
    """Values the validating recognizers rightly refuse as valid PII, but which are personal data all the same."""
    rng = random.Random(seed)
    renderer = Renderer(rng, "heldout")

    def bad_card() -> str:
        card = luhn_complete(rng.choice(["4", "51", "37", "6011"]), 16, rng)
        digits = card[:-1] + str((int(card[-1]) + rng.randint(1, 9)) % 10)  # checksum broken by a typo
        return " ".join(digits[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.6 else digits

    def bad_iban() -> str:
        iban = make_iban(rng).replace(" ", "")
        iban = iban[:2] + f"{(int(iban[2:4]) + rng.randint(1, 50)) % 97 + 2:02d}" + iban[4:]
        return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))

    def obfuscated_email() -> str:
        user = rng.choice(["dana.k", "mikey77", "sarah_j", "t.okafor", "lee.wong", "r.patel"])
        domain = rng.choice(["example", "mailbox", "fastmail", "corpmail"])
        return rng.choice([f"{user} (at) {domain} (dot) com", f"{user}[at]{domain}[dot]net",
                           f"{user} @ {domain} . org"])

    def bare_digits() -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(10, 14)))

    def spoken_digits() -> str:
        words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 11)))

    makers = {
        "card_bad_checksum": (bad_card, ["it's {v} i think", "try {v} then", "ok so {v}, did that go through"]),
        "iban_bad_checksum": (bad_iban, ["send it to {v}", "{v} is where it should go", "use {v} instead"]),
        "obfuscated_email": (obfuscated_email, ["write to {v}", "my address is {v}", "{v} works best"]),
        "bare_digits": (bare_digits, ["the reference on the letter is {v}", "it says {v} on top",
                                      "number {v}"]),
        "spoken_digits": (spoken_digits, ["yeah it's {v}", "ok {v} that's it", "{v} was on the form"]),
    }
    records = []
    kinds = list(makers)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        make, templates = makers[kind]
        value = make()
        template = rng.choice(templates)
        start = template.index("{v}")
        text = template.replace("{v}", value)
        records.append({"text": text, "spans": [{"type": kind, "start": start, "end": start + len(value)}],
                        "kind": kind})
    del renderer
    return records


_CONNECTORS = re.compile(r"\b(?:at|dot)\b")


def _visible(text: str, start: int, end: int, covered: list[tuple[int, int]]) -> int:
    """Letters and digits of a value still readable; the spoken connectors of an e-mail ('at', 'dot') alone
    reveal nothing."""
    shown = "".join(text[i] if not any(a <= i < b for a, b in covered) else " " for i in range(start, end))
    return sum(c.isalnum() for c in _CONNECTORS.sub(" ", shown))


def _back_to_original(kept, residual) -> list[tuple[int, int]]:
    """Map spans on the redacted text back to offsets of the original text."""
    spans = []
    for r in residual:
        shift = 0
        start = end = None
        cursor_original = 0
        cursor_redacted = 0
        for k in kept:
            placeholder = len(f"[{k.pii_type}]")
            plain = k.start - cursor_original
            if start is None and r.start < cursor_redacted + plain:
                start = r.start - shift
            if end is None and r.end <= cursor_redacted + plain:
                end = r.end - shift
            cursor_redacted += plain + placeholder
            cursor_original = k.end
            shift = cursor_redacted - cursor_original
        start = r.start - shift if start is None else start
        end = r.end - shift if end is None else end
        spans.append((max(0, start), max(0, end)))
    return spans


def evaluate_residual(table: Table, detector: PiiDetector, tagger) -> None:
    sets = {
        "PII held-out (forms incl. read-aloud)": [r for r in generate(seed=7, per_template=6) if not r["negative"]],
        "near-miss forms (built here)": near_miss_records(),
    }
    negatives = [r["text"] for r in generate(seed=7, per_template=6) if r["negative"]]
    negatives += [json.loads(line)["text"] for line in TOXICITY_DATA.read_text().splitlines()
                  if '"contact_details"' not in line]
    for name, records in sets.items():
        texts = [r["text"] for r in records]
        ner = tagger.tag(texts)
        truth, fired, before, after, total = [], [], 0, 0, 0
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for record, spans in zip(records, ner):
            text = record["text"]
            features_matches = detector.detect(text, ner=detector.parse_ner_spans(json.dumps(spans)))
            redacted, kept = redact(text, features_matches)
            covered = [(k.start, k.end) for k in kept]
            visible = [_visible(text, g["start"], g["end"], covered) for g in record["spans"]]
            missed = any(v >= VISIBLE_MIN_CHARS for v in visible)
            residual = residual_matches(redacted, detector)
            truth.append(missed)
            fired.append(bool(residual))
            covered_after = covered + _back_to_original(kept, redact(redacted, residual)[1])
            for g, v in zip(record["spans"], visible):
                total += _visible(text, g["start"], g["end"], [])
                before += v
                left = _visible(text, g["start"], g["end"], covered_after)
                after += left
                kind = record.get("kind", g["type"])
                by_kind[kind][0] += 1
                by_kind[kind][1] += left < VISIBLE_MIN_CHARS
        table.add("residual_pii (catches what features missed)", name, truth, fired)
        print(f"  {name}: PII characters visible after features {before / total:.2%}, after features + "
              f"residual check {after / total:.2%}")
        if name.startswith("near-miss"):
            print("  near-miss values hidden after both stages: " + ", ".join(
                f"{k} {hidden}/{n}" for k, (n, hidden) in sorted(by_kind.items())))
    fired_clean = [bool(residual_matches(text, detector)) for text in negatives]
    table.add("residual_pii (false alarms)", f"PII-free turns ({len(negatives)})", [False] * len(negatives),
              fired_clean)


# --- toxicity -----------------------------------------------------------------------------------------------------

def _half(group: str) -> str:
    return "a" if int(hashlib.sha256(group.encode()).hexdigest(), 16) % 2 == 0 else "b"


def choose_toxicity_thresholds(truth: list[bool], scores: list[float]) -> tuple[float, float | None]:
    """flag_at: best F1 on a grid; block_at: the lowest threshold whose blocks are >= 99% right (None if none)."""
    grid = [round(t, 2) for t in np.arange(0.05, 0.995, 0.01)]
    f1 = [prf(*_counts(truth, [s >= t for s in scores]))[2] for t in grid]
    flag_at = grid[int(np.argmax(f1))]
    precise = [t for t in grid if sum(s >= t for s in scores) >= 5
               and prf(*_counts(truth, [s >= t for s in scores]))[0] >= 0.99]
    return flag_at, (min(precise) if precise else None)


def evaluate_toxicity(table: Table, embedder, check: ModelThresholdCheck, choose: bool) -> None:
    from infra.models.head_runner import OnnxHead

    head = OnnxHead(MODELS / "heads" / "toxicity" / "1" / "model.onnx")
    records = [json.loads(line) for line in TOXICITY_DATA.read_text().splitlines() if line.strip()]
    records = [r for r in records if r["split"] == "heldout"]
    scores = [float(s) for s in head({"EMBEDDING": embedder.embed([r["text"] for r in records])})[:, 1]]
    truth = [r["label"] == "toxic" for r in records]
    if choose:
        # Cross-fitted estimate of the choosing procedure: thresholds chosen on one half of the held-out
        # template groups are scored on the other half, both ways round; the shipped pair is then chosen on all.
        fired_flag, fired_block = [False] * len(records), [False] * len(records)
        for half in ("a", "b"):
            fit = [i for i, r in enumerate(records) if _half(r["group"]) != half]
            flag_at, block_at = choose_toxicity_thresholds([truth[i] for i in fit], [scores[i] for i in fit])
            print(f"  chosen without half {half}: flag_at {flag_at}, block_at {block_at}")
            for i, r in enumerate(records):
                if _half(r["group"]) == half:
                    fired_flag[i] = scores[i] >= flag_at
                    fired_block[i] = block_at is not None and scores[i] >= block_at
        table.add("toxicity fires (cross-fitted thresholds)", f"held-out ({len(records)})", truth, fired_flag)
        table.add("toxicity blocks (cross-fitted thresholds)", f"held-out ({len(records)})", truth, fired_block)
        flag_at, block_at = choose_toxicity_thresholds(truth, scores)
        print(f"  chosen on all held-out templates (put these in the policy): flag_at {flag_at}, block_at {block_at}")
    flag_at, block_at = check.flag_at, check.block_at
    table.add(f"toxicity fires (policy: score >= {flag_at})", f"held-out ({len(records)})", truth,
              [s >= flag_at for s in scores])
    if block_at is not None:
        table.add(f"toxicity blocks (policy: score >= {block_at})", f"held-out ({len(records)})", truth,
                  [s >= block_at for s in scores])
    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, s in zip(records, scores):
        by_tag[r["tag"]][0] += 1
        by_tag[r["tag"]][1] += s >= flag_at
    print("  fired by kind (toxic: caught; clean: false alarms): " + ", ".join(
        f"{tag} {k}/{n}" for tag, (n, k) in sorted(by_tag.items())))


def _counts(truth: list[bool], fired: list[bool]) -> tuple[int, int, int]:
    tp = sum(t and f for t, f in zip(truth, fired))
    return tp, sum(f and not t for t, f in zip(truth, fired)), sum(t and not f for t, f in zip(truth, fired))


# --- injection ----------------------------------------------------------------------------------------------------

def evaluate_injection(table: Table, check: InjectionCheck) -> None:
    from infra.models.eval_injection import score_texts

    records = [json.loads(line) for line in INJECTION_DATA.read_text().splitlines() if line.strip()]
    records = [r for r in records if r["split"] == "heldout"]
    scores = score_texts([r["text"] for r in records])
    truth = [r["label"] == "attack" for r in records]
    fired = [s >= check.threshold for s in scores]
    table.add(f"prompt_injection (score >= {check.threshold})", f"held-out ({len(records)})", truth, fired)
    look = [(t, f) for r, t, f in zip(records, truth, fired) if r.get("category") == "lookalike"]
    if look:
        table.add("prompt_injection", f"look-alikes only ({len(look)})", [t for t, _ in look], [f for _, f in look])
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, t, f in zip(records, truth, fired):
        if t:
            by_category[r.get("category", "?")][0] += 1
            by_category[r.get("category", "?")][1] += f
    print("  attacks caught by category: " + ", ".join(f"{c} {k}/{n}" for c, (n, k) in sorted(by_category.items())))


# --- banned phrases -----------------------------------------------------------------------------------------------

def evaluate_phrases(table: Table, guardrails: Guardrails) -> None:
    checks = [c for c in guardrails.policy.checks if isinstance(c, BannedPhrasesCheck)]
    truth, fired, wrong = [], [], []
    for role, text, expected in PHRASES:
        hits = {rule_id for check in checks if role in check.roles
                for rule_id, pattern in guardrails._phrases[check.id] if pattern.search(text)}
        truth.append(expected is not None)
        fired.append(bool(hits))
        if (expected is None and hits) or (expected is not None and expected not in hits):
            wrong.append(f"{role}: {text!r} expected {expected}, got {sorted(hits) or 'nothing'}")
    table.add("banned phrases (agent conduct, self-harm)", f"labeled phrases ({len(PHRASES)})", truth, fired)
    for line in wrong:
        print(f"  miss: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choose", action="store_true", help="re-derive toxicity thresholds on the calibration half")
    parser.add_argument("--skip", nargs="*", default=[], choices=["pii", "toxicity", "injection", "phrases"])
    args = parser.parse_args(argv)

    from infra.models.minilm import Embedder
    from infra.models.rampart import RampartTagger

    contracts = load_model_contracts()
    policy = load_policy(None, contracts)
    task_labels = served_task_labels(contracts)
    detector = PiiDetector()
    guardrails = Guardrails(policy, detector, task_labels)
    print(f"policy {policy.label}")
    table = Table()
    if "pii" not in args.skip:
        evaluate_residual(table, detector, RampartTagger(MODELS / "pii_ner"))
    if "toxicity" not in args.skip:
        check = next(c for c in policy.checks if isinstance(c, ModelThresholdCheck) and c.task == "toxicity")
        evaluate_toxicity(table, Embedder(MODELS / "embedding"), check, args.choose)
    if "injection" not in args.skip:
        evaluate_injection(table, next(c for c in policy.checks if isinstance(c, InjectionCheck)))
    if "phrases" not in args.skip:
        evaluate_phrases(table, guardrails)
    print()
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
