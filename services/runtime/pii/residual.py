"""The last-line PII net for text that is about to leave the pipeline (guardrails' residual-PII check).

It runs the same recognizers as the features stage (``PiiDetector``) and adds a recall-first layer for
what a validating recognizer rightly declines upstream but must never be published either: long digit
runs that fail a checksum (a mistyped card is still a card number), long read-aloud number sequences,
anything shaped like an e-mail address, and the bare 'IBAN-shaped' strings. Placeholders that redaction
already wrote ("[EMAIL]") are never matched again.
"""
from __future__ import annotations

import re

from .detector import PiiDetector, PiiMatch
from .spoken import FILLERS, TEENS, TENS, UNITS, tokenize

# Written digit runs of 9+ digits, with the separators people type ("4539-1488 0343", "(415) 555 0132").
_LONG_DIGITS = re.compile(r"(?<![\w])\+?\d(?:[\d\s\-.()/]{7,}\d)(?![\w])")
_PH = r"\[[A-Z_]+\]"
# E-mail shapes, also half-redacted ones ("[PERSON][at]example[dot]net", "dana.k (at) mailbox (dot) com").
_EMAIL_LIKE = re.compile(
    rf"(?:{_PH}|[\w%+\-]+)(?:\.(?:{_PH}|[\w%+\-]+))*\s?(?:@|\(at\)|\[at\])\s?(?:{_PH}|[\w\-]+)"
    rf"(?:\s?(?:\.|\(dot\)|\[dot\])\s?(?:{_PH}|[\w\-]+))+",
    re.IGNORECASE,
)
_IBAN_LIKE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# A value the features stage redacted only in part leaves fragments beside its placeholder ("GB71 ORLX [PHONE]",
# "FR[ADDRESS]"): digit-bearing or IBAN-prefix-shaped tokens touching a placeholder of a numeric type.
_NUMERIC_PLACEHOLDER = r"\[(?:PHONE|CARD|IBAN|ACCOUNT_NUMBER|ADDRESS|GOVERNMENT_ID|SSN|NUMBER_SEQUENCE)\]"
_DIGIT_FRAGMENT = r"[A-Z0-9]*\d[A-Z0-9]*"
_FRAGMENTS_BEFORE = re.compile(
    rf"(?:\b[A-Z]{{2}}\d{{2}}(?:[ ]?[A-Z0-9]{{4}})*|\b{_DIGIT_FRAGMENT}(?:[ \-]{_DIGIT_FRAGMENT})*)[ \-]?"
    rf"(?={_NUMERIC_PLACEHOLDER})|\b[A-Z]{{2}}(?={_NUMERIC_PLACEHOLDER})"
)
_FRAGMENTS_AFTER = re.compile(rf"{_NUMERIC_PLACEHOLDER}(?P<fragment>(?:[ \-]?{_DIGIT_FRAGMENT}\b)+)")
_FRAGMENT_BETWEEN = re.compile(rf"{_NUMERIC_PLACEHOLDER}(?P<fragment> [A-Z0-9]{{4}} )(?={_NUMERIC_PLACEHOLDER})")
_PLACEHOLDER = re.compile(_PH)
MIN_WRITTEN_DIGITS = 9
MIN_SPOKEN_DIGITS = 7


def _spoken_digit_runs(text: str) -> list[PiiMatch]:
    """Runs of number words (fillers allowed inside) that spell 7+ digits: a phone, card or account read out."""
    tokens = tokenize(text)
    out: list[PiiMatch] = []
    i = 0
    while i < len(tokens):
        digits = 0
        spoken = False
        j = i
        last_number = -1
        while j < len(tokens):
            word = tokens[j].lower
            if word in UNITS:
                digits += 1
                spoken = True
            elif word.isdigit():
                digits += len(word)
            elif word in TEENS or word in TENS:
                digits += 2
                spoken = True
            elif word in ("double", "triple") or word in FILLERS or word in {",", "-", "."}:
                j += 1
                continue
            else:
                break
            last_number = j
            j += 1
        if last_number >= i and spoken and digits >= MIN_SPOKEN_DIGITS:
            out.append(PiiMatch("NUMBER_SEQUENCE", tokens[i].start, tokens[last_number].end, "residual_spoken", 0.6))
            i = last_number + 1
        else:
            i += 1
    return out


def residual_matches(text: str, detector: PiiDetector) -> list[PiiMatch]:
    """Every PII span the recognizers or the recall-first layer find in ``text``, placeholders excluded."""
    placeholders = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]

    def outside_placeholders(m: PiiMatch) -> bool:
        """Keep a match unless all it covers besides placeholders is punctuation and space."""
        rest = list(text[m.start:m.end])
        for start, end in placeholders:
            for i in range(max(start, m.start), min(end, m.end)):
                rest[i - m.start] = " "
        return any(c.isalnum() for c in rest)

    # The recognizers read placeholders as words ("[ACCOUNT_NUMBER] from 2024" would make 2024 an account
    # number by context): they see each placeholder masked, offsets unchanged.
    masked = _PLACEHOLDER.sub(lambda m: "~" * len(m.group()), text)
    found = [m for m in detector.detect(masked) if outside_placeholders(m)]
    for m in _LONG_DIGITS.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= MIN_WRITTEN_DIGITS:
            found.append(PiiMatch("NUMBER_SEQUENCE", m.start(), m.end(), "residual_digits", 0.7))
    for m in _EMAIL_LIKE.finditer(text):
        found.append(PiiMatch("EMAIL", m.start(), m.end(), "residual_email", 0.7))
    for m in _IBAN_LIKE.finditer(text):
        found.append(PiiMatch("IBAN", m.start(), m.end(), "residual_iban", 0.6))
    for m in _FRAGMENTS_BEFORE.finditer(text):
        found.append(PiiMatch("NUMBER_SEQUENCE", m.start(), m.end(), "residual_fragment", 0.5))
    for m in (*_FRAGMENTS_AFTER.finditer(text), *_FRAGMENT_BETWEEN.finditer(text)):
        found.append(PiiMatch("NUMBER_SEQUENCE", m.start("fragment"), m.end("fragment"), "residual_fragment", 0.5))
    found += _spoken_digit_runs(text)
    found = [m for m in found if outside_placeholders(m)]
    found.sort(key=lambda m: (m.start, -m.end))
    return found
