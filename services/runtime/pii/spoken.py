"""Word tokens with character offsets, and decoding of numbers and letters read aloud.

Voice transcripts carry most PII as words: "four one one one ...", "double five", "oh" for zero, "forty one
eleven", spelled letters "g b eight two". The recognizers work on ``Token`` lists so every span they return
maps back to exact character offsets in the original text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Words (any script, with one apostrophe), ASCII digit runs, or any other single visible character.
# Words keep inner apostrophes and hyphens ("o'neill", "mary-jane"): a name must stay one token.
_TOKEN = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*|[0-9]+|\S")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    lower: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


UNITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
         "six": "6", "seven": "7", "eight": "8", "nine": "9"}
TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
         "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fourty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
        "eighty": "8", "ninety": "9"}
REPEAT = {"double": 2, "triple": 3}
# Punctuation that may sit inside a number written or read out ("555-123-4567", "four one one, one ...").
NUMBER_SEPARATORS = {"-", ",", ".", "/", "(", ")", "+"}
LETTERS = set("abcdefghijklmnopqrstuvwxyz")
# Hesitations inside a number read aloud ("four one one one uh one one ...") do not end it.
FILLERS = {"uh", "um", "er", "erm", "ah", "uhm", "hmm"}
HOMOPHONES = {"to": "2", "too": "2", "for": "4", "fore": "4"}


@dataclass(slots=True)
class DigitRun:
    """A maximal run of tokens that reads as one digit string."""

    first: int           # index of the first token
    last: int            # index of the last token (inclusive)
    digits: str
    groups: list[str]    # digit groups as separated by punctuation or pauses ("dot" included)
    dot_groups: list[str]  # groups split only at "." / "dot" / "point" (IPv4 detection)
    spoken: bool         # at least one number word
    plus: bool           # preceded by "+" or "plus" (international phone)


def _unit(tok: str) -> str | None:
    return UNITS.get(tok)


def read_number_at(tokens: list[Token], i: int) -> tuple[str, int] | None:
    """Decode one number element at ``tokens[i]``; returns (digits, tokens consumed) or None."""
    low = tokens[i].lower
    nxt = tokens[i + 1].lower if i + 1 < len(tokens) else ""
    if low.isdigit():
        return low, 1
    if low in REPEAT:
        if nxt in UNITS:
            return UNITS[nxt] * REPEAT[low], 2
        if nxt.isdigit() and len(nxt) == 1:
            return nxt * REPEAT[low], 2
        return None
    if low in TENS:
        if nxt in UNITS and nxt not in ("oh", "o", "zero"):
            return TENS[low] + UNITS[nxt], 2
        return TENS[low] + "0", 1
    if low in TEENS:
        return TEENS[low], 1
    if low in UNITS:
        # "o" alone is far more often the letter or "oh" an interjection; both count only inside a run.
        if nxt == "hundred":
            after = tokens[i + 2].lower if i + 2 < len(tokens) else ""
            if after in TENS or after in TEENS:
                sub = read_number_at(tokens, i + 2)
                if sub is not None:
                    return UNITS[low] + sub[0].rjust(2, "0"), 2 + sub[1]
            if after in UNITS and after not in ("oh", "o"):
                return UNITS[low] + "0" + UNITS[after], 3
            return UNITS[low] + "00", 2
        return UNITS[low], 1
    return None


def digit_runs(tokens: list[Token], text: str = "") -> list[DigitRun]:
    """All maximal digit runs. Separators and "dot"/"point" may join elements; anything else ends a run."""
    runs: list[DigitRun] = []
    i, n = 0, len(tokens)
    while i < n:
        element = read_number_at(tokens, i)
        if element is None or (tokens[i].lower in ("oh", "o") and not _continues(tokens, i + 1)):
            i += 1
            continue
        plus = i > 0 and tokens[i - 1].lower in ("+", "plus")
        first = i
        digits = element[0]
        groups = [element[0]]
        dot_groups = [element[0]]
        spoken = not tokens[i].lower.isdigit()
        last = i + element[1] - 1
        j = i + element[1]
        while j < n:
            sep = None
            k = j
            while k < n and (tokens[k].lower in NUMBER_SEPARATORS or tokens[k].lower in ("dot", "point", "dash")
                             or tokens[k].lower in FILLERS):
                if tokens[k].lower not in FILLERS:
                    sep = tokens[k].lower if sep is None else sep
                k += 1
                if k - j > 2:
                    break
            # A space between two written digit groups is a group break too ("4111 1111").
            if k < n:
                nxt = read_number_at(tokens, k)
                if nxt is None and tokens[k].lower in HOMOPHONES and tokens[last].lower in UNITS \
                        and k + 1 < n and tokens[k + 1].lower in UNITS:
                    # ASR writes "two"/"four" between digits read one by one as "to"/"for".
                    nxt = (HOMOPHONES[tokens[k].lower], 1)
            else:
                nxt = None
            if nxt is None:
                break
            if sep is not None and sep in (".", "dot", "point"):
                dot_groups.append(nxt[0])
            else:
                dot_groups[-1] += nxt[0]
            if sep is not None or tokens[k].lower.isdigit() and tokens[last].lower.isdigit():
                groups.append(nxt[0])
            else:
                groups[-1] += nxt[0]
            digits += nxt[0]
            spoken = spoken or not tokens[k].lower.isdigit()
            last = k + nxt[1] - 1
            j = k + nxt[1]
        runs.append(DigitRun(first, last, digits, groups, dot_groups, spoken, plus))
        i = last + 1
    return runs


def _continues(tokens: list[Token], i: int) -> bool:
    return i < len(tokens) and read_number_at(tokens, i) is not None


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = ord(ch) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    value = value.upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", value):
        return False
    rearranged = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


NATO = {"alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f",
        "golf": "g", "hotel": "h", "india": "i", "juliet": "j", "juliett": "j", "kilo": "k", "lima": "l",
        "mike": "m", "november": "n", "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s",
        "tango": "t", "uniform": "u", "victor": "v", "whiskey": "w", "xray": "x", "yankee": "y", "zulu": "z"}


def alnum_pieces(tokens: list[Token], i: int) -> tuple[str, int] | None:
    """Decode one element of a spelled-out code at ``tokens[i]``: a letter, a number element or a chunk."""
    low = tokens[i].lower
    element = read_number_at(tokens, i)
    if element is not None and low not in ("o",):
        return element
    if len(low) == 1 and low in LETTERS:
        # "b as in bravo" spells one letter.
        if i + 3 < len(tokens) and tokens[i + 1].lower == "as" and tokens[i + 2].lower in ("in", "for"):
            return low, 4
        return low, 1
    if low in NATO:
        return NATO[low], 1
    if re.fullmatch(r"[a-z0-9]+", low) and any(c.isdigit() for c in low) or (
            tokens[i].text.isupper() and len(low) <= 4 and low.isalpha() and len(low) >= 2):
        return low, 1
    return None
