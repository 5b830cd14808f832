"""Shared helpers for the synthetic call-centre datasets (sentiment, toxicity, intent).

Lives here rather than in a shared folder because each engineer owns only their task folders; the
toxicity and intent generators import it from this module.

Why these helpers exist: production text reaches the classifiers as redacted ASR transcripts (voice) or
redacted chat. Training only on clean, punctuated sentences would teach the heads cues (capitals, commas,
question marks) that voice text never has, so every template is rendered in both styles.
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import random
import re

INDUSTRIES: dict[str, dict[str, list[str]]] = {
    "telecom": {
        "product": ["internet", "router", "broadband", "mobile plan", "phone line", "wifi", "sim card", "data plan", "tv box", "landline"],
        "bill": ["phone bill", "monthly bill", "mobile bill", "internet bill"],
        "company": ["the phone company", "your network", "the provider"],
        "thing": ["the router", "my phone", "the modem", "the connection", "the signal"],
    },
    "banking": {
        "product": ["debit card", "credit card", "savings account", "checking account", "mortgage", "loan", "online banking", "mobile app"],
        "bill": ["card statement", "statement", "loan payment", "overdraft fee"],
        "company": ["the bank", "your bank"],
        "thing": ["the app", "my card", "the card reader", "the transfer", "the cash machine"],
    },
    "retail": {
        "product": ["order", "package", "parcel", "delivery", "jacket", "laptop", "headphones", "sofa", "subscription box", "gift card"],
        "bill": ["invoice", "receipt", "order total", "card charge"],
        "company": ["the store", "your shop", "the website"],
        "thing": ["the website", "the checkout", "the tracking page", "the app", "the coupon code"],
    },
    "utilities": {
        "product": ["electricity", "gas supply", "water service", "smart meter", "energy plan", "boiler cover"],
        "bill": ["gas bill", "electric bill", "water bill", "energy bill"],
        "company": ["the energy company", "the utility", "your company"],
        "thing": ["the meter", "the smart meter", "the boiler", "the online portal"],
    },
    "insurance": {
        "product": ["car insurance", "home insurance", "policy", "claim", "travel cover", "pet insurance", "health plan"],
        "bill": ["premium", "renewal quote", "policy payment", "excess charge"],
        "company": ["the insurer", "your company"],
        "thing": ["the claim form", "the portal", "the quote tool", "the app"],
    },
}

# Typed placeholders exactly as the redaction stage writes them.
PLACEHOLDERS = ["[PERSON]", "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]", "[ADDRESS]", "[ACCOUNT_NUMBER]", "[DATE]", "[IP]"]

SLOTS: dict[str, list[str]] = {
    "amount": ["twenty dollars", "$45", "fifty nine ninety nine", "£120", "a hundred and ten dollars", "$12.50", "three hundred euros", "$89"],
    "duration": ["forty minutes", "two hours", "three days", "a week", "an hour", "two weeks", "since monday", "ten days"],
    "count": ["twice", "three times", "four times", "again", "for the third time"],
    "day": ["today", "tomorrow", "this afternoon", "on friday", "by the weekend", "next monday", "[DATE]"],
    "name": ["[PERSON]"],
    "agent": ["[PERSON]"],
}

FILLERS = ["uh", "um", "uh", "um", "like", "you know", "i mean", "so", "er", "hmm"]

# Word-level confusions typical of call-centre ASR (homophones, split words, clipped endings).
ASR_SWAPS: dict[str, list[str]] = {
    "to": ["two", "too"], "for": ["four"], "their": ["there"], "there": ["their"], "your": ["you're", "you"],
    "card": ["cart", "car"], "bill": ["build", "bell"], "account": ["a count"], "cancel": ["cancer", "council"],
    "charged": ["charge", "charges"], "refund": ["re fund"], "order": ["odor", "or der"], "payment": ["pay meant"],
    "internet": ["inter net"], "router": ["rooter"], "because": ["cause", "cuz"], "going to": ["gonna"],
    "want to": ["wanna"], "would": ["wood"], "know": ["no"], "right": ["write"], "service": ["serves"],
    "policy": ["polly see"], "claim": ["clean"], "meter": ["meeter"], "password": ["pass word"],
    "delivery": ["delivering"], "plan": ["plane"], "the": ["a", "the the"], "and": ["an", "in"],
}

_PUNCT = re.compile(r"[^\w\s\[\]'$£.%]")


def _protect(text: str) -> tuple[str, list[str]]:
    found = re.findall(r"\[[A-Z_]+\]", text)
    for i, ph in enumerate(found):
        text = text.replace(ph, f"qqph{i}qq", 1)  # letters only: survives lowercasing and punctuation stripping
    return text, found


def _restore(text: str, found: list[str]) -> str:
    for i, ph in enumerate(found):
        text = text.replace(f"qqph{i}qq", ph, 1)
    return text


def voice(text: str, rng: random.Random, noise: float = 1.0) -> str:
    """Render a clean sentence as an ASR transcript: lowercase, no punctuation, fillers, repeats, confusions."""
    text, found = _protect(text)
    text = text.lower()
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)  # sentence full stops go, decimals like 12.50 stay
    text = _PUNCT.sub(" ", text).replace("'", "" if rng.random() < 0.3 else "'")
    words = text.split()
    out: list[str] = []
    if rng.random() < 0.35 * noise:
        out.append(rng.choice(["uh", "um", "yeah", "so", "okay so", "hi yeah", "hello"]))
    i = 0
    while i < len(words):
        w = words[i]
        two = " ".join(words[i:i + 2])
        if two in ASR_SWAPS and rng.random() < 0.25 * noise:
            out.append(rng.choice(ASR_SWAPS[two]))
            i += 2
            continue
        if w in ASR_SWAPS and rng.random() < 0.08 * noise:
            w = rng.choice(ASR_SWAPS[w])
        if rng.random() < 0.06 * noise:
            out.append(rng.choice(FILLERS))
        if rng.random() < 0.04 * noise and "qqph" not in w:
            out.append(w)  # stutter / restart: "i i", "the the"
        out.append(w)
        i += 1
    if rng.random() < 0.1 * noise:
        out.append(rng.choice(["yeah", "so", "um", "you know"]))
    return _restore(" ".join(out), found)


def chat(text: str, rng: random.Random, role: str = "customer") -> str:
    """Render as chat: mostly kept as written, sometimes lowercased, abbreviated or with dropped punctuation.

    Agents and bots write clean text; only customers get abbreviations and emoticons.
    """
    if role != "customer":
        return text
    text, found = _protect(text)
    r = rng.random()
    if r < 0.25:
        text = text.lower()
    elif r < 0.35:
        text = text.rstrip(".")
    if rng.random() < 0.15:
        for a, b in (("please", "pls"), ("thanks", "thx"), ("you", "u"), ("are", "r"), ("because", "bc")):
            text = re.sub(rf"\b{a}\b", b, text)
    if rng.random() < 0.08:
        text += rng.choice([" :(", " :)", "!!", "??", " lol", " ..."])
    return _restore(text, found)


def fill(template: str, rng: random.Random, industry: str) -> str:
    """Fill {slot} fields from the industry's vocabulary and the shared slots."""
    vocab = INDUSTRIES[industry]

    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key in vocab:
            return rng.choice(vocab[key])
        if key in SLOTS:
            return rng.choice(SLOTS[key])
        if key == "pii":
            return rng.choice(PLACEHOLDERS)
        raise KeyError(f"unknown slot {{{key}}} in {template!r}")

    return re.sub(r"\{(\w+)\}", sub, template)


def render(template: str, rng: random.Random, industry: str | None = None, voice_share: float = 0.6,
           role: str = "customer") -> tuple[str, str, str]:
    """Fill a template and pick a style; returns (text, style, industry)."""
    industry = industry or rng.choice(sorted(INDUSTRIES))
    text = fill(template, rng, industry)
    if rng.random() < voice_share:
        return voice(text, rng), "voice", industry
    return chat(text, rng, role), "chat", industry


def assign_splits(records: list[dict], heldout_share: float = 0.25, strata: tuple[str, ...] = ("label",)) -> None:
    """Mark whole groups (templates) as held out, per stratum, so no phrasing leaks across the split.

    Groups are ordered by a hash of their id (deterministic, independent of generation order) and the first
    ceil(share * n) of each stratum are held out; every stratum with >= 2 groups keeps at least one of each.
    """
    by_stratum: dict[tuple, set[str]] = {}
    for r in records:
        by_stratum.setdefault(tuple(r.get(k) for k in strata), set()).add(r["group"])
    held: set[str] = set()
    for groups in by_stratum.values():
        ordered = sorted(groups, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        n = len(ordered)
        k = max(1, round(heldout_share * n)) if n >= 2 else 0
        held.update(ordered[:k])
    for r in records:
        r["split"] = "heldout" if r["group"] in held else "train"


def write_jsonl(path: pathlib.Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))


def distinct_renderings(template: str, rng, count: int, **render_options):
    """Up to `count` distinct (text, style, industry) renderings of a template, from at most 3 x count tries."""
    seen: set[str] = set()
    for _ in range(count * 3):
        if len(seen) >= count:
            return
        text, style, industry = render(template, rng, **render_options)
        if text in seen:
            continue
        seen.add(text)
        yield text, style, industry


def write_dataset(generator_file: str, name: str, records: list[dict]) -> None:
    """Write `<name>.jsonl` beside the generator module and say how many records it holds."""
    out = pathlib.Path(generator_file).with_name(f"{name}.jsonl")
    write_jsonl(out, records)
    print(f"{out}: {len(records)} records")
