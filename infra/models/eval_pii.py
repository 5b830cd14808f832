"""Evaluate PII detection on the synthetic labeled set: Rampart alone, recognizers alone, and combined.

Run: .venv/bin/python -m infra.models.eval_pii [--split heldout|tune] [--seed 7] [--per-template 6] [--errors N]

Scoring works on what redaction actually hides (the merged spans ``redact`` keeps):
- recall per type: a gold span counts as found when spans of the SAME type cover >= 80% of its non-space
  characters;
- precision per type: a predicted span is right when >= 50% of its non-space characters lie in gold spans of
  its type (so a phone typed as ACCOUNT_NUMBER costs both that type's precision and PHONE's recall);
- F2 weighs recall four times as much as precision (missing PII is worse than over-redacting);
- visible: the fraction of gold PII characters (non-space) left visible after redaction, whatever the type;
- negatives: the fraction of PII-free turns in which anything was redacted.

Held-out discipline: the recognizers were tuned on ``--split tune``. The default held-out draw (seed 7) was
first scored after tuning and already met every target; larger held-out draws (seeds 1-3, --per-template 30)
then showed misses (NATO-spelled IBANs losing to a Luhn-valid card reading of their digits, "it's kenji young
calling", "thanks will"), and those were fixed afterwards, so those draws are no longer strictly unseen.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import time
from collections import defaultdict

from infra.models.data.pii.generate import generate
from services.runtime.pii import PiiDetector, PiiMatch, redact

REPO = pathlib.Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / ".cache" / "models" / "pii_ner"
STRUCTURED = ("EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "ADDRESS", "ACCOUNT_NUMBER", "DATE")
COVER = 0.8


def _chars(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if not text[i].isspace()}


def score(records: list[dict], predictions: list[list[PiiMatch]]) -> dict:
    """Metrics for one system; ``predictions[i]`` are the kept (merged) spans for ``records[i]``."""
    found = defaultdict(int)
    gold_count = defaultdict(int)
    tp = defaultdict(int)
    pred_count = defaultdict(int)
    name_found = defaultdict(int)
    name_count = defaultdict(int)
    visible = total = 0
    negative_hits = negatives = 0
    misses: list[tuple[str, str, str]] = []
    false_pos: list[tuple[str, str, str]] = []
    for record, preds in zip(records, predictions):
        text = record["text"]
        covered_by_type = defaultdict(set)
        covered_any: set[int] = set()
        for p in preds:
            chars = _chars(text, p.start, p.end)
            covered_by_type[p.pii_type] |= chars
            covered_any |= chars
        gold_by_type = defaultdict(set)
        for g in record["spans"]:
            gold_by_type[g["type"]] |= _chars(text, g["start"], g["end"])
        for g in record["spans"]:
            chars = _chars(text, g["start"], g["end"])
            gold_count[g["type"]] += 1
            ok = len(chars & covered_by_type[g["type"]]) >= COVER * len(chars)
            found[g["type"]] += ok
            if not ok:
                misses.append((g["type"], text[g["start"]:g["end"]], text))
            visible += len(chars - covered_any)
            total += len(chars)
        for name in record.get("names", []):
            chars = _chars(text, name["start"], name["end"])
            name_count[name["kind"]] += 1
            name_found[name["kind"]] += len(chars & covered_by_type["PERSON"]) >= COVER * len(chars)
        for p in preds:
            chars = _chars(text, p.start, p.end)
            pred_count[p.pii_type] += 1
            right = bool(chars) and len(chars & gold_by_type[p.pii_type]) >= 0.5 * len(chars)
            tp[p.pii_type] += right
            if not right:
                false_pos.append((p.pii_type, text[p.start:p.end], text))
        if record.get("negative"):
            negatives += 1
            negative_hits += bool(preds)
    per_type = {}
    for t in sorted(set(gold_count) | set(pred_count)):
        recall = found[t] / gold_count[t] if gold_count[t] else None
        precision = tp[t] / pred_count[t] if pred_count[t] else None
        f2 = None
        if recall is not None and precision is not None and (recall or precision):
            f2 = 5 * precision * recall / (4 * precision + recall)
        per_type[t] = {"recall": recall, "precision": precision, "f2": f2, "gold": gold_count[t],
                       "predicted": pred_count[t]}
    return {
        "per_type": per_type,
        "person_recall_by_kind": {k: name_found[k] / name_count[k] for k in sorted(name_count)},
        "visible_fraction": visible / total if total else 0.0,
        "negative_fp_rate": negative_hits / negatives if negatives else 0.0,
        "misses": misses,
        "false_positives": false_pos,
    }


def run_systems(records: list[dict], tagger, detector: PiiDetector | None = None) -> dict[str, dict]:
    detector = detector or PiiDetector()
    texts = [r["text"] for r in records]
    raw = tagger.tag(texts) if tagger is not None else [[] for _ in texts]
    import json

    ner = [detector.parse_ner_spans(json.dumps(spans)) for spans in raw]
    systems = {
        "rampart": [redact(t, n)[1] for t, n in zip(texts, ner)],
        "recognizers": [redact(t, detector.detect(t))[1] for t in texts],
        "combined": [redact(t, detector.detect(t, ner=n))[1] for t, n in zip(texts, ner)],
    }
    return {name: score(records, preds) for name, preds in systems.items()}


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def print_report(results: dict[str, dict]) -> None:
    types = sorted({t for r in results.values() for t in r["per_type"]})
    systems = list(results)
    print(f"{'type':<16}" + "".join(f"| {s:^26} " for s in systems))
    print(f"{'':<16}" + "".join(f"| {'recall':>7} {'prec':>7} {'F2':>7}  " for _ in systems))
    for t in types:
        row = f"{t:<16}"
        for s in systems:
            m = results[s]["per_type"].get(t, {})
            row += f"| {_fmt(m.get('recall')):>7} {_fmt(m.get('precision')):>7} {_fmt(m.get('f2')):>7}  "
        gold = next((results[s]["per_type"][t]["gold"] for s in systems if t in results[s]["per_type"]), 0)
        print(row + f"  (gold {gold})")
    kinds = sorted({k for r in results.values() for k in r["person_recall_by_kind"]})
    for k in kinds:
        print(f"{'PERSON/' + k:<16}" + "".join(
            f"| {_fmt(results[s]['person_recall_by_kind'].get(k)):>7} {'':>7} {'':>7}  " for s in systems))
    print(f"{'visible chars':<16}" + "".join(f"| {results[s]['visible_fraction']:>7.3f} {'':>7} {'':>7}  "
                                           for s in systems))
    print(f"{'negatives FP':<16}" + "".join(f"| {results[s]['negative_fp_rate']:>7.3f} {'':>7} {'':>7}  "
                                          for s in systems))


def timing(records: list[dict], tagger, detector: PiiDetector) -> None:
    texts = [r["text"] for r in records]
    t0 = time.perf_counter()
    for _ in range(3):
        for text in texts:
            detector.detect(text)
    per_detect = (time.perf_counter() - t0) / (3 * len(texts))
    print(f"detect() without NER: {per_detect * 1e6:.0f} us/turn (mean over {3 * len(texts)} calls)")
    if tagger is None:
        return
    singles = []
    for text in texts[:100]:
        t0 = time.perf_counter()
        tagger.tag([text])
        singles.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, len(texts), 32):
        tagger.tag(texts[i:i + 32])
    batched = (time.perf_counter() - t0) / len(texts)
    print(f"Rampart tag(): batch 1 p50 {statistics.median(singles) * 1e3:.2f} ms/turn, "
          f"batch 32 {batched * 1e3:.2f} ms/turn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=["heldout", "tune"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-template", type=int, default=6)
    parser.add_argument("--errors", type=int, default=0, help="print this many misses and false positives")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)

    records = generate(seed=args.seed, per_template=args.per_template, split=args.split)
    from infra.models.rampart import RampartTagger, build

    build(REPO)
    tagger = RampartTagger(MODEL_DIR)
    detector = PiiDetector()
    results = run_systems(records, tagger, detector)
    voice = sum(r["form"] == "voice" for r in records)
    print(f"split={args.split} seed={args.seed}: {len(records)} turns ({voice / len(records):.0%} voice), "
          f"{sum(len(r['spans']) for r in records)} gold spans, "
          f"{sum(r['negative'] for r in records)} negative turns\n")
    print_report(results)
    if args.errors:
        for kind in ("misses", "false_positives"):
            print(f"\ncombined {kind}:")
            for t, span, text in results["combined"][kind][: args.errors]:
                print(f"  {t:<15} {span!r:<60} in {text!r}")
    if not args.no_timing:
        print()
        timing(records, tagger, detector)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
