"""PII detection: deterministic recognizers (written and read-aloud forms) merged with Rampart NER spans.

Pure Python and ``re``; no I/O after construction. The recognizers favour recall where a value is validated
(Luhn, mod-97, IP octets) or announced by a context word ("card", "social", "account"), and stay quiet on
bare numbers that read as amounts, quantities, times or order references.
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

from . import names as _names
from .spoken import (LETTERS, UNITS, DigitRun, Token, alnum_pieces, digit_runs, iban_ok, luhn_ok,
                     read_number_at, tokenize)

PII_TYPES = ("PERSON", "EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "ADDRESS", "ACCOUNT_NUMBER", "DATE",
             "GOVERNMENT_ID", "URL", "NUMBER_SEQUENCE")

# Rampart's 35 BIO labels (17 entity types + O) -> project taxonomy. BIO prefixes are stripped before lookup.
#   GIVEN_NAME, SURNAME                                   -> PERSON
#   EMAIL -> EMAIL; PHONE -> PHONE; URL -> URL (URLs often embed a user name or a private document)
#   TAX_ID                                                -> SSN (a US individual's tax id is an SSN or ITIN)
#   BANK_ACCOUNT, ROUTING_NUMBER                          -> ACCOUNT_NUMBER
#   GOVERNMENT_ID, PASSPORT, DRIVERS_LICENSE              -> GOVERNMENT_ID
#   BUILDING_NUMBER, STREET_NAME, SECONDARY_ADDRESS, CITY, STATE, ZIP_CODE -> ADDRESS
NER_LABEL_MAP = {
    "GIVEN_NAME": "PERSON", "SURNAME": "PERSON", "EMAIL": "EMAIL", "PHONE": "PHONE", "URL": "URL",
    "TAX_ID": "SSN", "BANK_ACCOUNT": "ACCOUNT_NUMBER", "ROUTING_NUMBER": "ACCOUNT_NUMBER",
    "GOVERNMENT_ID": "GOVERNMENT_ID", "PASSPORT": "GOVERNMENT_ID", "DRIVERS_LICENSE": "GOVERNMENT_ID",
    "BUILDING_NUMBER": "ADDRESS", "STREET_NAME": "ADDRESS", "SECONDARY_ADDRESS": "ADDRESS", "CITY": "ADDRESS",
    "STATE": "ADDRESS", "ZIP_CODE": "ADDRESS",
}
# A lone city, state or number ("the outage in texas", "the 940 Mbps plan") is not an address; these NER
# address parts count only when another address part is close by.
_WEAK_ADDRESS_PARTS = {"CITY", "STATE", "BUILDING_NUMBER"}


_SENTENCE_ENDS = frozenset({".", "?", "!"})


@dataclass(frozen=True, slots=True)
class PiiMatch:
    pii_type: str
    start: int
    end: int
    detector: str   # "ner" or the recognizer's name
    score: float


# ---------------------------------------------------------------------------------------------------------
# Context words. The nearest one before a number (or just after it) decides what the number is.
_CONTEXT = {
    "card": "CARD", "visa": "CARD", "mastercard": "CARD", "amex": "CARD", "credit": "CARD", "debit": "CARD",
    "social": "SSN", "ssn": "SSN",
    "phone": "PHONE", "cell": "PHONE", "mobile": "PHONE", "telephone": "PHONE", "callback": "PHONE",
    "reach": "PHONE", "landline": "PHONE", "fax": "PHONE", "text": "PHONE", "whatsapp": "PHONE",
    "contact": "PHONE", "dial": "PHONE",
    "account": "ACCOUNT_NUMBER", "acct": "ACCOUNT_NUMBER", "member": "ACCOUNT_NUMBER",
    "membership": "ACCOUNT_NUMBER", "policy": "ACCOUNT_NUMBER", "routing": "ACCOUNT_NUMBER",
    "customer": "ACCOUNT_NUMBER",
    "iban": "IBAN",
    "zip": "ZIP", "zipcode": "ZIP", "postal": "ZIP",
    "born": "DATE", "birth": "DATE", "dob": "DATE", "birthday": "DATE", "birthdate": "DATE",
    # References that are not personal data: order/ticket numbers, money, quantities, durations.
    "order": "NOT_PII", "tracking": "NOT_PII", "confirmation": "NOT_PII", "ticket": "NOT_PII",
    "reference": "NOT_PII", "case": "NOT_PII", "invoice": "NOT_PII", "model": "NOT_PII", "serial": "NOT_PII",
    "version": "NOT_PII", "extension": "NOT_PII", "ext": "NOT_PII", "room": "NOT_PII", "flight": "NOT_PII",
    "charged": "NOT_PII", "paid": "NOT_PII", "pay": "NOT_PII", "cost": "NOT_PII", "costs": "NOT_PII",
    "balance": "NOT_PII", "total": "NOT_PII", "refund": "NOT_PII", "price": "NOT_PII", "$": "NOT_PII",
    "outage": "NOT_PII", "since": "NOT_PII", "waiting": "NOT_PII", "waited": "NOT_PII",
}
_UNIT_AFTER = {"dollars", "dollar", "bucks", "cents", "percent", "%", "minutes", "minute", "hours", "hour",
               "days", "day", "weeks", "months", "years", "year", "items", "item", "times", "gb", "mb", "mbps",
               "gigs", "pm", "am", "o'clock", "euros", "pounds", "lines", "devices", "boxes", "units", "$"}
_CONTEXT_WINDOW = 8

STREET_SUFFIXES = {"street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive",
                   "dr", "court", "ct", "way", "place", "pl", "terrace", "circle", "cir", "parkway", "pkwy",
                   "highway", "hwy", "trail", "loop", "square", "crescent", "alley", "row", "pike", "plaza"}
UNIT_WORDS = {"apartment", "apt", "suite", "ste", "unit", "#", "floor", "building", "bldg", "flat"}
STATES = {
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware", "florida",
    "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine",
    "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska",
    "nevada", "ohio", "oklahoma", "oregon", "pennsylvania", "tennessee", "texas", "utah", "vermont", "virginia",
    "washington", "wisconsin", "wyoming"}
STATES_MULTI = {("new", "hampshire"), ("new", "jersey"), ("new", "mexico"), ("new", "york"),
                ("north", "carolina"), ("north", "dakota"), ("rhode", "island"), ("south", "carolina"),
                ("south", "dakota"), ("west", "virginia")}
STATE_ABBR = set("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
                 "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC".split())
TLDS = {"com", "net", "org", "edu", "gov", "io", "co", "uk", "us", "ca", "de", "in", "info", "biz", "me", "au",
        "fr", "mail"}
MAIL_PROVIDERS = {"gmail", "yahoo", "hotmail", "outlook", "aol", "icloud", "protonmail", "proton", "comcast",
                  "verizon", "msn", "live", "mail"}
_EMAIL_CONNECTORS = {"dot": ".", "period": ".", "point": ".", ".": ".", "underscore": "_", "_": "_",
                     "dash": "-", "hyphen": "-", "-": "-"}
_LOCAL_STOP = {"is", "me", "it", "its", "it's", "email", "address", "was", "and", "or", "um", "uh", "mail",
               "my", "reach", "contact", "send", "to", "the", "you", "can", "at", "use", "that's", "thats",
               "try", "under", "be", "should", "on", "file", "new", "old", "account", "login", "username"}
MONTHS = {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
          "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9,
          "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
            "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
            "twentieth": 20, "thirtieth": 30}

_EMAIL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_IBAN_RE = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,30}\b")
_IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6_RE = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_SSN_RE = re.compile(r"(?<!\d)(\d{3})[- ](\d{2})[- ](\d{4})(?!\d)")
_URL_RE = re.compile(r"\bhttps?://[^\s]+|\bwww\.[^\s]+", re.IGNORECASE)

_NAME_CUES_STRONG = [
    ("my", "name", "is"), ("my", "name's"), ("name", "is"), ("name's"), ("the", "name", "is"),
    ("first", "name", "is"), ("last", "name", "is"), ("surname", "is"), ("full", "name", "is"),
    ("call", "me"), ("speaking", "with"), ("speak", "with"), ("speak", "to"), ("talking", "to"),
    ("talking", "with"), ("talked", "to"), ("spoke", "to"), ("spoke", "with"), ("ask", "for"),
    ("under", "the", "name"), ("name", "on", "the", "account", "is"), ("account", "holder", "is"),
    ("my", "name", "was"), ("first", "name"), ("last", "name"), ("it's", "under"),
]
_NAME_CUES_WEAK = [("this", "is"), ("it's"), ("it", "is"), ("i'm"), ("i", "am"), ("im",), ("hi",), ("hello",),
                   ("thanks",), ("thank", "you"), ("my", "wife"), ("my", "husband"), ("my", "son"),
                   ("my", "daughter"), ("my", "mother"), ("my", "father"), ("my", "mom"), ("my", "dad"),
                   ("agent",), ("rep",), ("representative",), ("dear",), ("bye",), ("goodbye",), ("hey",)]
_CUES = [(tuple(c) if isinstance(c, tuple) else (c,), True) for c in _NAME_CUES_STRONG] + \
        [(tuple(c) if isinstance(c, tuple) else (c,), False) for c in _NAME_CUES_WEAK]
_CUES_BY_LAST: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
for _cue, _strong in _CUES:
    _CUES_BY_LAST.setdefault(_cue[-1], []).append((_cue, _strong))
# After a weak cue an ambiguous name ("bill", "rose") must be followed by one of these (or end the sentence).
_ADJECTIVE_NAMES = {"rich", "frank", "sunny", "rusty", "dusty", "sandy", "misty", "candy", "chip", "grant", "chase",
                    "star", "king", "prince", "will", "guy", "page", "lane", "cash", "art", "sky", "angel"}
# Months and seasons: "it's may already" is a date, "this is may" a name.
_TIME_NAMES = {"may", "june", "april", "august", "summer", "autumn", "dawn"}
_BARE_NAME_CUE_ENDS = {"is", "it's", "i'm", "im", "am", "thanks", "hi", "hello", "hey", "you", "bye", "dear"}
_INTRO_AFTER = {"calling", "speaking", "here", "from"}
_NAME_CONFIRM_AFTER = {"speaking", "here", "from", "with", "calling", "and", "at", ",", ".", "!", "?", "-"}


class PiiDetector:
    """Finds PII spans in one turn. Construct once; ``detect`` is pure and thread-safe."""

    def __init__(self) -> None:
        self.first_names = _names.FIRST_NAMES
        self.ambiguous_first = _names.AMBIGUOUS_FIRST_NAMES
        self.all_first = _names.ALL_FIRST_NAMES
        self.surnames = _names.SURNAMES
        self.all_surnames = _names.ALL_SURNAMES
        self.stopwords = _names.STOPWORDS
        self.titles = _names.TITLES

    # -- public API -------------------------------------------------------------------------------------
    def detect(self, text: str, ner: list[PiiMatch] | None = None) -> list[PiiMatch]:
        """All PII matches in ``text`` (may overlap; ``redact`` merges them), sorted by start."""
        tokens = tokenize(text)
        found: list[PiiMatch] = []
        found += self._written(text)
        numbers, harmless = self._numbers(text, tokens)
        found += numbers
        found += self._spoken_emails(tokens)
        found += self._spoken_ibans(tokens)
        found += self._addresses(tokens)
        found += self._dates_of_birth(tokens)
        found += self._persons(text, tokens)
        if ner:
            found += self._filter_ner(text, tokens, ner, harmless)
        ibans = [m for m in found if m.pii_type == "IBAN"]
        if ibans:
            # The digits of a spelled IBAN also read as a (Luhn-valid, by chance) card or an account number.
            found = [m for m in found if m.pii_type == "IBAN" or m.detector.startswith("ner")
                     or not any(i.start <= m.start and m.end <= i.end for i in ibans)]
        found.sort(key=lambda m: (m.start, -m.end))
        return found

    def parse_ner_spans(self, payload: bytes | str) -> list[PiiMatch]:
        """Decode the pii_ner model output (UTF-8 JSON list of {type,start,end,score}) into project types."""
        if isinstance(payload, (bytes, bytearray)):
            payload = payload.decode("utf-8")
        spans = json.loads(payload) if payload else []
        out = []
        for span in spans:
            label = str(span.get("type", "")).upper()
            label = label[2:] if label[:2] in ("B-", "I-") else label
            mapped = NER_LABEL_MAP.get(label)
            if mapped is None or int(span["end"]) <= int(span["start"]):
                continue
            detector = "ner:" + label
            out.append(PiiMatch(mapped, int(span["start"]), int(span["end"]), detector,
                                float(span.get("score", 1.0))))
        return out

    # -- written forms ----------------------------------------------------------------------------------
    def _written(self, text: str) -> list[PiiMatch]:
        out = []
        for m in _EMAIL_RE.finditer(text):
            out.append(PiiMatch("EMAIL", m.start(), m.end(), "email", 0.99))
        for m in _URL_RE.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,;:!?)":
                end -= 1
            out.append(PiiMatch("URL", m.start(), end, "url", 0.9))
        for m in _IBAN_RE.finditer(text):
            compact = re.sub(r"[ \-]", "", m.group())
            # The regex may overrun into the next word; try the longest valid prefix of whole groups.
            hit = _longest_valid_iban(m.group())
            if hit is not None:
                out.append(PiiMatch("IBAN", m.start(), m.start() + hit, "iban", 0.99))
            elif compact[:2].isalpha() and len(compact) >= 15 and _context_before(text, m.start(), "iban"):
                out.append(PiiMatch("IBAN", m.start(), m.end(), "iban_context", 0.8))
        for m in _IPV4_RE.finditer(text):
            try:
                ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            out.append(PiiMatch("IP", m.start(), m.end(), "ipv4", 0.95))
        for m in _IPV6_RE.finditer(text):
            if m.group().count(":") < 2 or not re.search(r"[0-9A-Fa-f]", m.group()):
                continue
            try:
                ipaddress.IPv6Address(m.group())
            except ValueError:
                continue
            out.append(PiiMatch("IP", m.start(), m.end(), "ipv6", 0.95))
        for m in _SSN_RE.finditer(text):
            if not _ssn_valid("".join(m.groups())):
                continue
            out.append(PiiMatch("SSN", m.start(), m.end(), "ssn", 0.9))
        return out

    # -- numbers, written or read aloud -----------------------------------------------------------------
    def _numbers(self, text: str, tokens: list[Token]) -> tuple[list[PiiMatch], list[tuple[int, int]]]:
        """PII numbers, and the character ranges of numbers that read as amounts, quantities or references."""
        out = []
        harmless = []
        for run in digit_runs(tokens):
            kind, score, name = self._classify(tokens, run)
            if kind is None:
                if name == "not_pii":
                    harmless.append((tokens[run.first].start, tokens[run.last].end))
                continue
            start, end = tokens[run.first].start, tokens[run.last].end
            if run.first > 0 and tokens[run.first - 1].text in "(+" and kind == "PHONE":
                start = tokens[run.first - 1].start
                if run.first > 1 and tokens[run.first - 2].lower == "plus":
                    start = tokens[run.first - 2].start
            elif run.first > 0 and tokens[run.first - 1].lower == "plus" and kind == "PHONE":
                start = tokens[run.first - 1].start
            out.append(PiiMatch(kind, start, end, name, score))
        return out, harmless

    def _context(self, tokens: list[Token], run: DigitRun) -> str | None:
        for k in range(run.first - 1, max(-1, run.first - 1 - _CONTEXT_WINDOW), -1):
            low = tokens[k].lower
            if low in _SENTENCE_ENDS:
                break  # "What's the price? Call me on 206-555-0100": the last sentence's words say nothing here
            if low == "security" and k > 0 and tokens[k - 1].lower == "social":
                return "SSN"
            if low in ("of", "date") and k + 1 < len(tokens) and tokens[k + 1].lower == "birth":
                return "DATE"
            kind = _CONTEXT.get(low)
            if kind == "ACCOUNT_NUMBER" and low == "customer" and not (
                    k + 1 < len(tokens) and tokens[k + 1].lower in ("id", "number", "no", "#")):
                continue
            if kind is not None:
                return kind
            if low in ("last", "four") and k + 2 < len(tokens) and tokens[k + 2].lower == "card":
                return "CARD"
        # "... is my phone number" style: a context word right after the number.
        for k in range(run.last + 1, min(len(tokens), run.last + 5)):
            if tokens[k].lower in _SENTENCE_ENDS:
                break
            kind = _CONTEXT.get(tokens[k].lower)
            if kind in ("PHONE", "CARD", "SSN", "ACCOUNT_NUMBER", "IBAN"):
                return kind
        return None

    def _classify(self, tokens: list[Token], run: DigitRun) -> tuple[str | None, float, str]:
        digits, n = run.digits, len(run.digits)
        after = tokens[run.last + 1].lower if run.last + 1 < len(tokens) else ""
        before = tokens[run.first - 1].lower if run.first > 0 else ""
        if n < 4:
            return None, 0.0, ""
        if after in _UNIT_AFTER or before in ("$", "usd") or (n <= 6 and after in MONTHS):
            if not (n >= 13 and luhn_ok(digits)):
                return None, 0.0, "not_pii"
        ctx = self._context(tokens, run)
        if len(run.dot_groups) == 4 and all(g and len(g) <= 3 and int(g) <= 255 for g in run.dot_groups):
            return "IP", 0.9, "ip_spoken" if run.spoken else "ipv4"
        if ctx == "DATE" and 4 <= n <= 8:
            return "DATE", 0.85, "dob_number"
        if ctx == "ZIP" and n in (5, 9):
            return "ADDRESS", 0.85, "zip"
        if 13 <= n <= 19 and luhn_ok(digits) and ctx not in ("ACCOUNT_NUMBER", "IBAN"):
            return "CARD", 0.99, "card_luhn"
        if ctx == "NOT_PII":
            return None, 0.0, "not_pii"
        if ctx == "CARD" and 12 <= n <= 20:
            return "CARD", 0.8, "card_context"
        if ctx == "SSN" and (8 <= n <= 10 or n == 4):
            return "SSN", 0.85 if n >= 8 else 0.6, "ssn_context"
        if [len(g) for g in run.groups] == [3, 2, 4] and not run.spoken and _ssn_valid(digits):
            return "SSN", 0.8, "ssn_format"
        if ctx == "PHONE" and 7 <= n <= 15:
            return "PHONE", 0.9, "phone_context"
        if ctx == "ACCOUNT_NUMBER" and 4 <= n <= 20:
            return "ACCOUNT_NUMBER", 0.85, "account_context"
        if ctx == "IBAN" and n >= 8:
            return "IBAN", 0.6, "iban_context"
        if run.plus and 8 <= n <= 15:
            return "PHONE", 0.9, "phone_international"
        if n == 10 or (n == 11 and digits[0] == "1"):
            return "PHONE", 0.75, "phone_shape"
        if ctx == "SSN" and n == 9:
            return "SSN", 0.8, "ssn_context"
        if n >= 9:
            # Fail closed: a long unexplained number read out on a support call is far more often an account,
            # card or id number than anything harmless.
            return "ACCOUNT_NUMBER", 0.5, "long_number"
        return None, 0.0, ""

    # -- emails read aloud ------------------------------------------------------------------------------
    def _spoken_emails(self, tokens: list[Token]) -> list[PiiMatch]:
        out = []
        n = len(tokens)
        for a, tok in enumerate(tokens):
            if tok.lower not in ("at", "@") or a == 0 or a + 1 >= n:
                continue
            # Domain: label (connector label)* ending in a TLD, or a well-known provider on its own.
            j = a + 1
            if not _alnum(tokens[j]):
                continue
            labels = [tokens[j].lower]
            end = j
            k = j + 1
            while k + 1 < n and tokens[k].lower in ("dot", "period", "point", ".", "dash", "hyphen", "-") \
                    and _alnum(tokens[k + 1]):
                labels.append(tokens[k + 1].lower)
                end = k + 1
                k += 2
            if len(labels) >= 2 and labels[-1] in TLDS:
                pass
            elif len(labels) >= 2 and labels[-2] in TLDS and labels[-1] in TLDS:
                pass
            elif labels[0] in MAIL_PROVIDERS and len(labels) == 1:
                pass
            else:
                # Cut trailing labels back to the last TLD ("gmail dot com dot" cannot happen; "... dot com dash")
                cut = max((i for i, lab in enumerate(labels) if lab in TLDS and i >= 1), default=None)
                if cut is None:
                    continue
                end = j + 2 * cut
            # Local part, backwards from "at".
            cur = a - 1
            if not _alnum(tokens[cur]) or tokens[cur].lower in _LOCAL_STOP:
                continue
            while True:
                prev = cur - 1
                if prev >= 1 and tokens[prev].lower in _EMAIL_CONNECTORS and _alnum(tokens[prev - 1]) \
                        and tokens[prev - 1].lower not in _LOCAL_STOP:
                    cur = prev - 1
                    continue
                if prev >= 0 and _alnum(tokens[prev]) and tokens[prev].lower not in _LOCAL_STOP and (
                        (_short(tokens[cur]) and _short(tokens[prev]))
                        or (len(tokens[prev].lower) == 1 and tokens[prev].lower not in ("a", "i")
                            and cur == a - 1)   # an initial: "j smith at ..."
                        or (_numberish(tokens[cur]) and tokens[prev].lower not in self.stopwords)):
                    cur = prev
                    continue
                break
            score = 0.95 if len(labels) >= 2 else 0.7
            out.append(PiiMatch("EMAIL", tokens[cur].start, tokens[end].end, "email_spoken", score))
        return out

    # -- IBANs spelled out -------------------------------------------------------------------------------
    def _spoken_ibans(self, tokens: list[Token]) -> list[PiiMatch]:
        out = []
        n = len(tokens)
        i = 0
        while i < n:
            # An IBAN starts with a two-letter country code: two letters or one two-letter chunk ("GB").
            pieces: list[tuple[str, int, int]] = []   # (chars, first token, last token)
            j = i
            while j < n:
                if tokens[j].lower in (",", "-", "."):
                    j += 1
                    continue
                element = alnum_pieces(tokens, j)
                if element is None:
                    break
                pieces.append((element[0], j, j + element[1] - 1))
                j += element[1]
            if len(pieces) >= 6:
                chars = "".join(p[0] for p in pieces).upper()
                hit = self._iban_in(chars, pieces, tokens)
                if hit is not None:
                    out.append(hit)
                    i = j
                    continue
            # _iban_in already tried every start inside this run.
            i = max(i + 1, j)
        return out

    def _iban_in(self, chars: str, pieces, tokens) -> PiiMatch | None:
        # Character index -> piece index, so a match inside the decoded string maps back to tokens.
        owner = []
        for index, (piece, _, _) in enumerate(pieces):
            owner += [index] * len(piece)
        starts = [sum(len(p[0]) for p in pieces[:k]) for k in range(len(pieces))]
        has_context = False
        first_tok = pieces[0][1]
        for k in range(max(0, first_tok - _CONTEXT_WINDOW), first_tok):
            if tokens[k].lower == "iban":
                has_context = True
        for s in starts:
            if not re.match(r"[A-Z]{2}\d{2}", chars[s:s + 4]):
                continue
            for length in range(min(34, len(chars) - s), 14, -1):
                cand = chars[s:s + length]
                end_piece = owner[s + length - 1]
                if s + length < len(chars) and owner[s + length] == end_piece:
                    continue  # a cut inside one spoken element is not a real boundary
                if iban_ok(cand) or iban_ok(cand.replace("O", "0")):
                    return PiiMatch("IBAN", tokens[pieces[owner[s]][1]].start, tokens[pieces[end_piece][2]].end,
                                    "iban_spoken", 0.97)
            if has_context and len(chars) - s >= 15:
                return PiiMatch("IBAN", tokens[pieces[owner[s]][1]].start, tokens[pieces[-1][2]].end,
                                "iban_context", 0.75)
        return None

    # -- street addresses --------------------------------------------------------------------------------
    def _addresses(self, tokens: list[Token]) -> list[PiiMatch]:
        out = []
        n = len(tokens)
        runs = digit_runs(tokens)
        run_by_last = {r.last: r for r in runs}
        for s, tok in enumerate(tokens):
            if tok.lower not in STREET_SUFFIXES:
                continue
            # House number within four tokens before, with only name-like words between.
            start_tok = None
            for back in range(1, 5):
                k = s - back
                if k < 0:
                    break
                if k in run_by_last and back >= 2:
                    run = run_by_last[k]
                    if len(run.digits) <= 6:
                        start_tok = run.first
                    break
                if not (_wordlike(tokens[k]) or re.fullmatch(r"\d+(st|nd|rd|th)", tokens[k].lower)
                        or tokens[k].lower in ("north", "south", "east", "west")) or (
                        tokens[k].lower in self.stopwords and tokens[k].lower not in ORDINALS
                        and tokens[k].lower not in ("north", "south", "east", "west")):
                    if not read_number_at(tokens, k):
                        break
            if start_tok is None:
                continue
            end_tok = s
            if end_tok + 1 < n and tokens[end_tok + 1].text == ".":
                end_tok += 1
            end_tok = self._address_tail(tokens, end_tok, runs)
            out.append(PiiMatch("ADDRESS", tokens[start_tok].start, tokens[end_tok].end, "street_address", 0.85))
        # P.O. boxes
        for k in range(n - 1):
            if tokens[k].lower in ("po", "p") and any(tokens[m].lower == "box" for m in range(k + 1, min(n, k + 4))):
                box = next(m for m in range(k + 1, min(n, k + 4)) if tokens[m].lower == "box")
                for run in runs:
                    if run.first == box + 1:
                        out.append(PiiMatch("ADDRESS", tokens[k].start, tokens[run.last].end, "po_box", 0.85))
        return out

    def _address_tail(self, tokens: list[Token], end_tok: int, runs: list[DigitRun]) -> int:
        n = len(tokens)
        run_by_first = {r.first: r for r in runs}
        k = end_tok + 1
        if k < n and tokens[k].text == ",":
            k += 1
        if k < n and tokens[k].lower in UNIT_WORDS:
            m = k + 1
            if m < n and tokens[m].text in ("#", "."):
                m += 1
            if m < n:
                if m in run_by_first:
                    last = run_by_first[m].last
                    if last + 1 < n and len(tokens[last + 1].lower) == 1 and tokens[last + 1].lower in LETTERS:
                        last += 1
                    end_tok = last
                elif re.fullmatch(r"[a-z0-9]{1,5}", tokens[m].lower):
                    end_tok = m
                k = end_tok + 1
        # City words then a state (and a zip), within six tokens.
        for m in range(k, min(n, k + 7)):
            low = tokens[m].lower
            state_end = None
            if low in STATES or tokens[m].text in STATE_ABBR:
                state_end = m
            elif m + 1 < n and (low, tokens[m + 1].lower) in STATES_MULTI:
                state_end = m + 1
            if state_end is not None:
                end_tok = state_end
                nxt = state_end + 1
                if nxt < n and tokens[nxt].text == ",":
                    nxt += 1
                if nxt in run_by_first and len(run_by_first[nxt].digits) in (5, 9):
                    end_tok = run_by_first[nxt].last
                break
            if tokens[m].lower in self.stopwords and tokens[m].lower not in (",",):
                break
        return end_tok

    # -- dates of birth ----------------------------------------------------------------------------------
    def _dates_of_birth(self, tokens: list[Token]) -> list[PiiMatch]:
        out = []
        n = len(tokens)
        for k, tok in enumerate(tokens):
            if tok.lower not in ("born", "birth", "dob", "birthday", "birthdate"):
                continue
            for s in range(k + 1, min(n, k + 8)):
                hit = _date_at(tokens, s)
                if hit is not None:
                    out.append(PiiMatch("DATE", tokens[s].start, tokens[hit].end, "dob", 0.9))
                    break
        return out

    # -- person names ------------------------------------------------------------------------------------
    def _persons(self, text: str, tokens: list[Token]) -> list[PiiMatch]:
        out: list[PiiMatch] = []
        n = len(tokens)
        lows = [t.lower for t in tokens]
        taken = set()
        for i in range(n):
            if i in taken or not _wordlike(tokens[i]):
                continue
            low = lows[i]
            cue = self._cue_before(lows, i)
            title = i > 0 and (lows[i - 1] in self.titles or (
                i > 1 and lows[i - 1] == "." and lows[i - 2] in self.titles))
            accepted = False
            score = 0.0
            if cue == "strong" and (low in self.all_first or low in self.all_surnames or low not in self.stopwords):
                accepted, score = True, 0.85
            elif title and low not in self.stopwords:
                accepted, score = True, 0.85
            elif cue == "weak" and low in self.first_names:
                accepted, score = True, 0.85
            elif cue == "weak" and low in self.ambiguous_first and self._confirmed(lows, i):
                accepted, score = True, 0.75
            elif cue == "weak" and low not in self.stopwords and low not in self.ambiguous_first and len(low) > 1 \
                    and not _looks_common(low) and (
                        (i + 1 < n and lows[i + 1] in _INTRO_AFTER)
                        or (i + 2 < n and lows[i + 2] in _INTRO_AFTER and _wordlike(tokens[i + 1])
                            and lows[i + 1] not in self.stopwords and not _looks_common(lows[i + 1]))):
                # "it's kenji calling", "this is oluwaseun from billing": names outside the gazetteer.
                accepted, score = True, 0.7
            elif low in self.first_names:
                # A gazetteer name that is no ordinary word ("priya said ..."): a name even without a cue.
                accepted, score = True, 0.7
            elif low in self.ambiguous_first and i + 1 < n and lows[i + 1] in self.surnames \
                    and lows[i + 1] not in _names.AMBIGUOUS_SURNAMES:
                # "grace thompson": an ordinary-word name is a name when an unambiguous surname follows.
                accepted, score = True, 0.7
            if not accepted:
                continue
            end = i
            # Surname / middle name: a gazetteer surname, or any non-stopword after a strong cue or title.
            for m in range(i + 1, min(n, i + 3)):
                nxt = lows[m]
                if not _wordlike(tokens[m]) or nxt in self.stopwords and nxt not in self.all_surnames:
                    break
                if nxt in self.all_surnames and (nxt not in _names.AMBIGUOUS_SURNAMES or cue or title
                                                 or low in self.first_names):
                    end = m
                elif (cue == "strong" or title or tokens[m].text[:1].isupper()) and nxt not in self.stopwords \
                        and len(nxt) > 1:
                    end = m
                elif low in self.first_names and nxt not in self.stopwords and len(nxt) > 2 \
                        and not _looks_common(nxt):
                    end = m
                else:
                    break
            taken.update(range(i, end + 1))
            out.append(PiiMatch("PERSON", tokens[i].start, tokens[end].end, "name", score))
            spelled = self._spelled_after(lows, end + 1)
            if spelled is not None:
                out.append(PiiMatch("PERSON", tokens[spelled[0]].start, tokens[spelled[1]].end, "name_spelled",
                                    0.8))
                taken.update(range(spelled[0], spelled[1] + 1))
        return out

    def _cue_before(self, lows: list[str], i: int) -> str | None:
        best = None
        if i == 0:
            return None
        for cue, strong in _CUES_BY_LAST.get(lows[i - 1], ()):
            size = len(cue)
            if i - size >= 0 and tuple(lows[i - size:i]) == cue:
                if strong:
                    return "strong"
                best = "weak"
        return best

    def _confirmed(self, lows: list[str], i: int) -> bool:
        if i + 1 >= len(lows):
            return True
        # "this is bill", "thanks mark": without a determiner the ordinary-word reading is ungrammatical
        # ("this is my bill"), unless the word is also an adjective or a month ("i'm frank", "it's may").
        # "i'm frank", "it's rich" are adjectives; "this is frank", "thanks frank" are names.
        adjective_blocked = lows[i] in _ADJECTIVE_NAMES and lows[i - 1] in ("i'm", "im", "am", "it's", "is") \
            and not (i > 1 and lows[i - 2] == "this")
        if i > 0 and lows[i - 1] in _BARE_NAME_CUE_ENDS and not adjective_blocked and not (
                lows[i - 1] in ("it's", "is") and (i < 2 or lows[i - 2] != "this") and lows[i] in _TIME_NAMES):
            return True
        nxt = lows[i + 1]
        if lows[i] in _ADJECTIVE_NAMES:
            return nxt in _INTRO_AFTER or nxt in self.surnames   # "i'm frank, this is bad" is not a name
        return nxt in _NAME_CONFIRM_AFTER or nxt in self.surnames

    def _spelled_after(self, lows: list[str], k: int) -> tuple[int, int] | None:
        n = len(lows)
        skip = {",", "that's", "thats", "spelled", "it's", "its", "that", "is", "as", "-", ".", "spelt"}
        m = k
        while m < n and lows[m] in skip and not (len(lows[m]) == 1 and lows[m] in LETTERS):
            m += 1
        start = m
        while m < n and ((len(lows[m]) == 1 and lows[m] in LETTERS) or lows[m] in ("-", ",", "double")):
            m += 1
        letters = [x for x in lows[start:m] if len(x) == 1 and x in LETTERS]
        while m > start and lows[m - 1] in ("-", ","):
            m -= 1
        if len(letters) >= 3 and m - start >= 3:
            return start, m - 1
        return None

    # -- NER spans ---------------------------------------------------------------------------------------
    def _filter_ner(self, text: str, tokens: list[Token], ner: list[PiiMatch],
                    harmless: list[tuple[int, int]]) -> list[PiiMatch]:
        out = []
        address_parts = [m for m in ner if m.pii_type == "ADDRESS"]
        for m in ner:
            # A tag on a word piece ("thir|teenth") must hide the whole word: widen to word boundaries.
            start, end = m.start, m.end
            while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
                start -= 1
            while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
                end += 1
            if (start, end) != (m.start, m.end):
                m = PiiMatch(m.pii_type, start, end, m.detector, m.score)
            # The model tags order numbers and prices as ids or building numbers; context says otherwise.
            if any(m.start < end and start < m.end for start, end in harmless):
                continue
            if m.pii_type == "ADDRESS" and m.detector.split(":")[-1] in _WEAK_ADDRESS_PARTS:
                near = any(o is not m and abs(o.start - m.end) < 40 and o.detector.split(":")[-1]
                           not in _WEAK_ADDRESS_PARTS for o in address_parts)
                if not near:
                    continue
            if m.pii_type == "PERSON":
                word = text[m.start:m.end].lower().strip()
                # "pay my bill": the model sometimes tags an ordinary word that is also a name.
                if word in self.ambiguous_first and m.score < 0.9:
                    continue
                if word in self.stopwords and word not in self.all_first and word not in self.all_surnames:
                    continue
                if word in ORDINALS or word in MONTHS or read_number_at(tokenize(word), 0) is not None:
                    continue
            out.append(m)
        return out


def _ssn_valid(digits: str) -> bool:
    # SSA never issues area 000, 666 or 9xx, group 00 or serial 0000.
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return not (area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000")


def _wordlike(tok: Token) -> bool:
    """Letters, possibly joined by apostrophes or hyphens: "o'neill", "mary-jane"."""
    return tok.text.replace("'", "").replace("-", "").isalpha()


def _alnum(tok: Token) -> bool:
    return tok.lower.isalnum()


def _short(tok: Token) -> bool:
    return (len(tok.lower) == 1 and tok.lower.isalnum()) or tok.lower in UNITS or tok.lower.isdigit()


def _numberish(tok: Token) -> bool:
    return tok.lower.isdigit() or tok.lower in UNITS or tok.lower in (
        "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty "
        "fifty sixty seventy eighty ninety double triple".split())


_COMMON_AFTER_NAME = {"said", "says", "told", "was", "is", "will", "can", "could", "would", "did", "does",
                      "has", "had", "helped", "called", "asked"}


def _looks_common(word: str) -> bool:
    # Inflected verbs and derived adjectives/adverbs are not names; names rarely end this way.
    return word in _COMMON_AFTER_NAME or word.endswith(("ing", "ed", "ly", "ful", "ous", "ant", "ent", "ive",
                                                          "able", "ible", "less", "ness", "ment", "tion"))


def _context_before(text: str, start: int, word: str) -> bool:
    return word in text[max(0, start - 60):start].lower()


def _longest_valid_iban(raw: str) -> int | None:
    compact_positions = [i for i, ch in enumerate(raw) if ch not in " -"]
    compact = "".join(raw[i] for i in compact_positions)
    for length in range(min(34, len(compact)), 14, -1):
        if iban_ok(compact[:length]):
            return compact_positions[length - 1] + 1
    return None


def _day_at(tokens: list[Token], i: int) -> int | None:
    """Index of the last token of a day-of-month at ``i`` ("14", "14th", "fourteenth", "twenty first")."""
    n = len(tokens)
    if i >= n:
        return None
    low = tokens[i].lower
    if re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", low) and 1 <= int(re.match(r"\d+", low).group()) <= 31:
        if i + 1 < n and tokens[i + 1].lower in ("st", "nd", "rd", "th"):
            return i + 1
        return i
    if low in ("twenty", "thirty") and i + 1 < n and tokens[i + 1].lower in ORDINALS:
        return i + 1
    if low in ORDINALS:
        return i
    element = read_number_at(tokens, i)
    if element is not None and element[0].isdigit() and 1 <= int(element[0]) <= 31 and len(element[0]) <= 2:
        return i + element[1] - 1
    return None


def _year_at(tokens: list[Token], i: int) -> int | None:
    n = len(tokens)
    if i < n and tokens[i].lower == ",":
        i += 1
    if i >= n:
        return None
    low = tokens[i].lower
    if re.fullmatch(r"(19|20)\d\d|'?\d\d", low):
        return i
    if low == "two" and i + 1 < n and tokens[i + 1].lower == "thousand":
        j = i + 2
        if j < n and tokens[j].lower == "and":
            j += 1
        element = read_number_at(tokens, j) if j < n else None
        return j + element[1] - 1 if element else i + 1
    first = read_number_at(tokens, i)
    if first is None:
        return None
    j = i + first[1]
    second = read_number_at(tokens, j) if j < n else None
    if second is not None:
        if first[0] in ("19", "20") or len(first[0] + second[0]) == 4:
            return j + second[1] - 1
    return None


def _date_at(tokens: list[Token], s: int) -> int | None:
    """Last token of a calendar date starting at ``s`` (month-day-year or day-of-month-year), or None."""
    n = len(tokens)
    low = tokens[s].lower
    if low in MONTHS:
        k = s + 1
        if k < n and tokens[k].lower == "the":
            k += 1
        day = _day_at(tokens, k)
        if day is None:
            year = _year_at(tokens, k)
            return year
        year = _year_at(tokens, day + 1)
        return year if year is not None else day
    k = s + 1 if low == "the" else s
    day = _day_at(tokens, k)
    if day is not None and day + 2 < n and tokens[day + 1].lower == "of" and tokens[day + 2].lower in MONTHS:
        year = _year_at(tokens, day + 3)
        return year if year is not None else day + 2
    return None


def _rank(m: PiiMatch) -> tuple[float, int]:
    # Where spans of different types overlap, a confident recognizer (validated or context-cued) names the
    # span: Rampart reads a spoken SSN as a phone and a bare phone as a government id.
    bonus = 1.0 if not m.detector.startswith("ner") and m.score >= 0.75 else 0.0
    return (m.score + bonus, m.end - m.start)


def redact(text: str, matches: list[PiiMatch]) -> tuple[str, list[PiiMatch]]:
    """Replace PII with typed placeholders ("[EMAIL]").

    Overlapping matches, and same-type matches separated only by spaces or light punctuation ("john smith",
    "Springfield, IL"), become one span; where types differ the higher-scored match names the span. Returns
    the redacted text and the merged, non-overlapping matches sorted by start.
    """
    merged: list[PiiMatch] = []
    for m in sorted(matches, key=lambda m: (m.start, -m.end)):
        if m.end <= m.start:
            continue
        if merged:
            last = merged[-1]
            gap = text[last.end:m.start] if m.start > last.end else ""
            if m.start < last.end or (m.pii_type == last.pii_type and re.fullmatch(r"[\s,.\-]*", gap)
                                      and "\n" not in gap and (gap.strip() == "" or m.pii_type == "ADDRESS")):
                winner = last if _rank(last) >= _rank(m) else m
                merged[-1] = PiiMatch(winner.pii_type, last.start, max(last.end, m.end), winner.detector,
                                      max(last.score, m.score))
                continue
        merged.append(m)
    pieces = []
    cursor = 0
    for m in merged:
        pieces.append(text[cursor:m.start])
        pieces.append(f"[{m.pii_type}]")
        cursor = m.end
    pieces.append(text[cursor:])
    return "".join(pieces), merged
