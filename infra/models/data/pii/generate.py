"""Seeded generator of call-centre turns with gold PII spans (synthetic, written by the Sluice team).

Run: .venv/bin/python -m infra.models.data.pii.generate [--out DIR]   (writes tune.jsonl and heldout.jsonl;
the evaluation and the tests call ``generate()`` directly, so nothing generated is committed)

Every record: {"text", "spans": [{"type","start","end"}], "form": "voice"|"chat", "template", "split",
"negative", "names": [{"start","end","kind"}]} where a name's kind is lowercase / ordinary_word / cased.

Tuning and evaluation are kept apart at the level of templates AND surface forms: the recognizers were
tuned on ``split="tune"`` only; ``HELDOUT_TEMPLATES`` and the forms marked held-out (cards read in pairs,
"area code" phones, NATO-spelled IBANs, digits inside spoken emails, names outside the gazetteer) were
written before tuning and are what ``infra/models/eval_pii.py`` reports on. Voice turns (lowercase, no
punctuation, numbers and emails read aloud) are the majority, as in production traffic.
"""
from __future__ import annotations

import json
import pathlib
import random
import re
import string


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third",
            "twenty fourth", "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth",
            "thirtieth", "thirty first"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
NATO = dict(zip(string.ascii_lowercase, "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
                "mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu".split()))

# Names: tuning pool drawn from the gazetteer; the held-out pool adds names the gazetteer does not hold.
FIRST_TUNE = ["john", "sarah", "michael", "priya", "david", "maria", "kevin", "emily", "james", "linda",
              "ahmed", "wei", "carlos", "jennifer", "rahul", "olivia"]
FIRST_HELDOUT = ["robert", "jessica", "daniel", "fatima", "thomas", "angela", "nguyen", "deepak", "laura",
                 "oluwaseun", "siobhan", "thandiwe", "bartholomew", "ximena", "kenji", "anneliese"]
ORDINARY_NAMES = ["bill", "rose", "mark", "will", "grace", "hope", "joy", "frank", "dawn", "ray", "jack",
                  "summer", "faith", "chase", "iris", "penny"]
LAST_TUNE = ["smith", "johnson", "patel", "garcia", "nguyen", "brown", "miller", "lee", "martinez", "davis"]
LAST_HELDOUT = ["thompson", "okafor", "reddy", "kowalski", "fitzgerald", "hernandez", "wu", "delacroix",
                "abernathy", "castellanos", "young", "baker"]
STREETS = ["main", "oak", "maple", "pine", "cedar", "elm", "washington", "lake", "hill", "park", "sunset",
           "river", "highland", "church"]
SUFFIXES = ["street", "avenue", "road", "drive", "lane", "boulevard", "court", "way"]
CITIES = [("springfield", "illinois", "IL"), ("austin", "texas", "TX"), ("columbus", "ohio", "OH"),
          ("portland", "oregon", "OR"), ("denver", "colorado", "CO"), ("tampa", "florida", "FL"),
          ("fresno", "california", "CA"), ("albany", "new york", "NY")]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "comcast.net",
           "acme.org"]


# ---- value makers ----------------------------------------------------------------------------------------
def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for index, ch in enumerate(reversed(body)):
        value = int(ch)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return body + str((10 - total % 10) % 10)


def make_iban(rng: random.Random) -> str:
    country = rng.choice(["GB", "DE", "FR", "NL", "ES"])
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, 14)
    elif country == "DE":
        bban = _digits(rng, 18)
    elif country == "FR":
        bban = _digits(rng, 10) + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11)) \
            + _digits(rng, 2)
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, 10)
    else:
        bban = _digits(rng, 20)
    rearranged = bban + country + "00"
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    check = 98 - number % 97
    return f"{country}{check:02d}{bban}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def make_ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def make_phone(rng: random.Random) -> str:
    return f"{rng.randint(2, 9)}{_digits(rng, 2)}{rng.randint(2, 9)}{_digits(rng, 6)}"


# ---- spoken forms ----------------------------------------------------------------------------------------
def say_digit(d: str, rng: random.Random) -> str:
    if d == "0":
        return rng.choice(["zero", "oh", "oh", "zero"])
    return DIGIT_WORDS[int(d)]


def say_digits(s: str, rng: random.Random, *, repeats: bool = True, groups: list[int] | None = None,
               pause: str = " ") -> str:
    """Read a digit string digit by digit, with "double"/"triple" and optional pauses between groups."""
    chunks = [s] if not groups else _split(s, groups)
    spoken = []
    for chunk in chunks:
        words, i = [], 0
        while i < len(chunk):
            run = 1
            while i + run < len(chunk) and chunk[i + run] == chunk[i] and run < 3:
                run += 1
            if repeats and run >= 2 and rng.random() < 0.6:
                words.append(("double " if run == 2 else "triple ") + say_digit(chunk[i], rng))
                i += run
            else:
                words.append(say_digit(chunk[i], rng))
                i += 1
        spoken.append(" ".join(words))
    return pause.join(spoken)


def say_pairs(s: str, rng: random.Random) -> str:
    """Read digits two at a time ("forty one eleven"), as people read card numbers (held-out form)."""
    out = []
    for i in range(0, len(s), 2):
        pair = s[i:i + 2]
        if len(pair) == 1 or pair[0] == "0":
            out.append(" ".join(say_digit(c, rng) for c in pair))
        else:
            out.append(say_number(int(pair)))
    return " ".join(out)


def say_number(n: int) -> str:
    if n < 10:
        return DIGIT_WORDS[n]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + DIGIT_WORDS[n % 10])
    if n < 1000:
        rest = n % 100
        return DIGIT_WORDS[n // 100] + " hundred" + ("" if rest == 0 else " " + say_number(rest))
    raise ValueError(n)


def say_year(y: int, rng: random.Random) -> str:
    if 2000 <= y < 2010:
        return "two thousand" + ("" if y == 2000 else rng.choice([" and ", " "]) + DIGIT_WORDS[y - 2000])
    hi, lo = divmod(y, 100)
    return say_number(hi) + " " + (say_number(lo) if lo >= 10 else "oh " + DIGIT_WORDS[lo])


def _split(s: str, groups: list[int]) -> list[str]:
    out, i = [], 0
    for g in groups:
        if i >= len(s):
            break
        out.append(s[i:i + g])
        i += g
    if i < len(s):
        out.append(s[i:])
    return out


def spell(word: str) -> str:
    return " ".join(word)


# ---- renderers: (value text, kind info) per PII type and form ---------------------------------------------
class Renderer:
    def __init__(self, rng: random.Random, split: str) -> None:
        self.rng = rng
        self.split = split
        self.heldout = split == "heldout"

    def person(self, form: str, variant: str = "") -> tuple[str, str]:
        rng = self.rng
        firsts = FIRST_HELDOUT if self.heldout else FIRST_TUNE
        lasts = LAST_HELDOUT if self.heldout else LAST_TUNE
        if variant == "ordinary" or (variant == "" and rng.random() < 0.3):
            first, kind = rng.choice(ORDINARY_NAMES), "ordinary_word"
        else:
            first, kind = rng.choice(firsts), "lowercase"
        last = rng.choice(lasts)
        full = variant == "full" or (variant != "first" and rng.random() < 0.5)
        name = f"{first} {last}" if full else first
        if form == "chat":
            name = name.title()
            kind = "ordinary_word" if kind == "ordinary_word" else "cased"
        return name, kind

    def surname(self, form: str) -> tuple[str, str]:
        last = self.rng.choice(LAST_HELDOUT if self.heldout else LAST_TUNE)
        return (last.title(), "cased") if form == "chat" else (last, "lowercase")

    def email(self, form: str) -> str:
        rng = self.rng
        first = rng.choice(FIRST_HELDOUT if self.heldout else FIRST_TUNE)
        last = rng.choice(LAST_HELDOUT if self.heldout else LAST_TUNE)
        digits = str(rng.randint(1, 99)) if rng.random() < (0.5 if self.heldout else 0.2) else ""
        style = rng.randrange(4)
        sep = {0: ".", 1: "_", 2: "", 3: "."}[style]
        local = (first[0] if style == 3 else first) + sep + last + digits
        domain = rng.choice(DOMAINS)
        if form == "chat":
            return f"{local}@{domain}"
        words = []
        for part in re.findall(r"[a-z]+|\d+|[._]", local):
            if part == ".":
                words.append("dot")
            elif part == "_":
                words.append("underscore")
            elif part.isdigit():
                words.append(say_number(int(part)) if rng.random() < 0.5 else say_digits(part, rng, repeats=False))
            elif len(part) == 1:
                words.append(part)
            else:
                words.append(part if rng.random() < 0.85 else spell(part))
        label, tld = domain.split(".")
        return " ".join(words) + f" at {label} dot {tld}"

    def phone(self, form: str) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            cc, rest = rng.choice([("44", "20" + _digits(rng, 8)), ("91", "9" + _digits(rng, 9)),
                                   ("33", "6" + _digits(rng, 8)), ("49", "30" + _digits(rng, 8))])
            if form == "chat":
                return f"+{cc} {rest[:2]} {rest[2:6]} {rest[6:]}"
            return "plus " + say_digits(cc, rng) + " " + say_digits(rest, rng, groups=[2, 4, 4])
        p = make_phone(rng)
        if form == "chat":
            return rng.choice([f"({p[:3]}) {p[3:6]}-{p[6:]}", f"{p[:3]}-{p[3:6]}-{p[6:]}", f"{p[:3]}.{p[3:6]}.{p[6:]}",
                               f"+1 {p[:3]} {p[3:6]} {p[6:]}", p])
        spoken = say_digits(p, rng, groups=[3, 3, 4])
        if self.heldout and rng.random() < 0.3:
            return "area code " + spoken
        return spoken

    def card(self, form: str, asr_error: bool = False) -> str:
        rng = self.rng
        prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
        number = luhn_complete(prefix, length, rng)
        if asr_error:
            # ASR dropped or doubled a digit: the value no longer validates, the context word must carry it.
            k = rng.randrange(len(number))
            number = number[:k] + number[k + 1:] if rng.random() < 0.5 else number[:k] + number[k] + number[k:]
        if form == "chat":
            groups = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
            return rng.choice([" ".join(_split(number, groups)), "-".join(_split(number, groups)), number])
        style = rng.random()
        if self.heldout and style < 0.3:
            return say_pairs(number, rng)
        if style < 0.45:
            return number[:4] + " " + say_digits(number[4:], rng)        # mixed "4111 one one ..."
        return say_digits(number, rng, groups=[4, 4, 4, 4], pause=rng.choice([" ", " ", ", "]))

    def iban(self, form: str) -> str:
        rng = self.rng
        value = make_iban(rng)
        if form == "chat":
            return rng.choice([" ".join(_split(value, [4] * 9)), value])
        words = []
        for ch in value:
            if ch.isdigit():
                words.append(say_digit(ch, rng))
            elif self.heldout and rng.random() < 0.3:
                words.append(f"{ch.lower()} as in {NATO[ch.lower()]}")
            else:
                words.append(ch.lower())
        return " ".join(words)

    def ssn(self, form: str) -> str:
        rng = self.rng
        s = make_ssn(rng)
        if form == "chat":
            return rng.choice([f"{s[:3]}-{s[3:5]}-{s[5:]}", f"{s[:3]} {s[3:5]} {s[5:]}"])
        return say_digits(s, rng, groups=[3, 2, 4], pause=rng.choice([" ", ", "]))

    def ip(self, form: str) -> str:
        rng = self.rng
        if form == "chat" and rng.random() < 0.3:
            return f"2001:db8:{rng.randint(0, 65535):x}::{rng.randint(1, 65535):x}"
        octets = [rng.choice([10, 172, 192, rng.randint(11, 223)]), rng.randint(0, 255), rng.randint(0, 255),
                  rng.randint(1, 254)]
        if form == "chat":
            return ".".join(map(str, octets))
        if rng.random() < 0.5:
            return " dot ".join(say_number(o) if o < 1000 else str(o) for o in octets)
        return " dot ".join(say_digits(str(o), rng, repeats=False) for o in octets)

    def address(self, form: str) -> str:
        rng = self.rng
        number = str(rng.randint(1, 9999))
        street = f"{rng.choice(STREETS)} {rng.choice(SUFFIXES)}"
        city, state, abbr = rng.choice(CITIES)
        zipcode = _digits(rng, 5)
        unit = rng.random() < 0.3
        full = rng.random() < 0.6
        if form == "chat":
            text = f"{number} {street.title()}"
            if unit:
                text += f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
            if full:
                text += f", {city.title()}, {abbr} {zipcode}"
            return text
        spoken_number = say_digits(number, rng, repeats=False) if rng.random() < 0.5 or len(number) != 4 else \
            say_number(int(number[:2])) + " " + (say_number(int(number[2:])) if number[2] != "0" else
                                                  "oh " + DIGIT_WORDS[int(number[3])])
        text = f"{spoken_number} {street}"
        if unit:
            text += f" apartment {say_number(rng.randint(1, 40))}"
        if full:
            text += f" {city} {state} {say_digits(zipcode, rng, repeats=False)}"
        return text

    def account(self, form: str) -> str:
        rng = self.rng
        number = _digits(rng, rng.randint(8, 12))
        if form == "chat":
            return number
        return say_digits(number, rng, groups=[4, 4, 4])

    def dob(self, form: str) -> str:
        rng = self.rng
        year, month, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
        if form == "chat":
            return rng.choice([f"{month:02d}/{day:02d}/{year}", f"{MONTHS[month - 1].title()} {day}, {year}",
                               f"{month}/{day}/{year}"])
        return rng.choice([f"{MONTHS[month - 1]} {ORDINALS[day]} {say_year(year, rng)}",
                           f"the {ORDINALS[day]} of {MONTHS[month - 1]} {say_year(year, rng)}",
                           f"{MONTHS[month - 1]} {day} {year}"])


# ---- templates -------------------------------------------------------------------------------------------
# Slots: {PERSON}, {PERSON:ordinary|first|full}, {SURNAME}, {EMAIL}, {PHONE}, {CARD}, {CARD:asr}, {IBAN},
# {SSN}, {IP}, {ADDRESS}, {ACCOUNT_NUMBER}, {DATE}; negative slots {AMOUNT}, {QTY}, {ORDER}, {DAYDATE},
# {DURATION}, {TIME}, {SPEED}.
TUNE_TEMPLATES = {
    "voice": [
        "hi my name is {PERSON} and i'm calling about my bill",
        "yeah this is {PERSON:ordinary} i got a letter from you guys",
        "my email is {EMAIL}",
        "you can send it to {EMAIL} thanks",
        "the card number is {CARD}",
        "sure it's {CARD} expiring next year",
        "my card number {CARD:asr}",
        "my phone number is {PHONE}",
        "best number to reach me is {PHONE}",
        "my social is {SSN}",
        "the last four no sorry the full social security number is {SSN}",
        "my iban is {IBAN}",
        "i live at {ADDRESS}",
        "the service address is {ADDRESS}",
        "my account number is {ACCOUNT_NUMBER}",
        "date of birth {DATE}",
        "i was born on {DATE}",
        "my router ip is {IP}",
        "you're speaking with {PERSON} how can i help you today",
        "thanks {PERSON:ordinary} can you also update my phone to {PHONE}",
        "it's under my wife's name {PERSON:full}",
        "my last name is {SURNAME}",
    ],
    "chat": [
        "Hi, I'm {PERSON}. My email is {EMAIL}.",
        "Card: {CARD}",
        "Please call me back on {PHONE}.",
        "My SSN is {SSN}",
        "IBAN {IBAN} for the refund please",
        "Ship it to {ADDRESS}",
        "Account number {ACCOUNT_NUMBER}, DOB {DATE}",
        "My IP address is {IP}",
    ],
    "negative_voice": [
        "i want to pay my bill",
        "i was charged {AMOUNT} twice this month",
        "the outage started on {DAYDATE} and it's still down",
        "i ordered {QTY} of them but only got one",
        "my order number is {ORDER}",
        "i've been waiting {DURATION} on hold",
        "can you call me back at {TIME}",
        "will you mark this as resolved please",
        "i hope you can help me with my bill",
    ],
    "negative_chat": [
        "I was billed ${AMOUNT_DIGITS} instead of ${AMOUNT_DIGITS}.",
        "Order #{ORDER} arrived with {QTY} items missing.",
        "My internet has been down since {DAYDATE}.",
        "I'd like to upgrade to the {SPEED} plan.",
    ],
}
HELDOUT_TEMPLATES = {
    "voice": [
        "um yeah hi it's {PERSON} calling again about the refund",
        "okay so you can reach me on {PHONE} after five",
        "sure the email on file should be {EMAIL} i think",
        "let me read it out {CARD} and the expiry is next march",
        "yeah it's a visa {CARD}",
        "credit card {CARD:asr} sorry i might have said that wrong",
        "social security {SSN}",
        "okay my ssn is {SSN} is that enough",
        "for the transfer my iban is {IBAN}",
        "we moved to {ADDRESS} last month",
        "please update the billing address to {ADDRESS}",
        "the account is {ACCOUNT_NUMBER} under my name",
        "my birthday is {DATE}",
        "my date of birth is {DATE} and my name is {PERSON}",
        "can i speak with {PERSON:ordinary} from the retention team",
        "thank you for calling this is {PERSON:ordinary} speaking",
        "yes i talked to {PERSON} yesterday and she said it was fixed",
        "the modem shows {IP} as the address",
        "hello {PERSON} here i need to change my email to {EMAIL}",
        "my cell is {PHONE} and my work email is {EMAIL}",
        "my surname is {SURNAME} and first name {PERSON:first}",
    ],
    "chat": [
        "Hello, this is {PERSON}, you can email me at {EMAIL}",
        "Here are my details: {CARD}, billing zip as on file",
        "Reach me at {PHONE} or {EMAIL}",
        "Social: {SSN}",
        "Please send the refund to IBAN {IBAN}",
        "New address: {ADDRESS}",
        "acct {ACCOUNT_NUMBER}",
        "I was born {DATE}",
        "Our office IP is {IP}, can you whitelist it?",
        "Thanks {PERSON}, that fixed it!",
    ],
    "negative_voice": [
        "yeah i just want to pay my bill today",
        "it says i owe {AMOUNT} but i paid last week",
        "the internet went out on {DAYDATE} around {TIME}",
        "i need {QTY} new remotes for the boxes",
        "the tracking number they gave me is {ORDER}",
        "it's been {DURATION} and nobody called",
        "i will grace you with my patience a bit longer",
        "mark my words i'm switching providers",
        "my bill went up by {AMOUNT}",
    ],
    "negative_chat": [
        "Why is my bill ${AMOUNT_DIGITS} this month?",
        "I need {QTY} extra cable boxes.",
        "The outage on {DAYDATE} lasted {DURATION}.",
        "Ticket {ORDER} is still open.",
        "I'll pay the bill on {DAYDATE}.",
    ],
}


def _negative_fill(slot: str, form: str, rng: random.Random) -> str:
    voice = form == "voice"
    if slot == "AMOUNT":
        dollars = rng.randint(5, 499)
        return (say_number(dollars) + " dollars" if voice else f"${dollars}.{rng.randint(0, 99):02d}")
    if slot == "AMOUNT_DIGITS":
        return f"{rng.randint(5, 499)}.{rng.randint(0, 99):02d}"
    if slot == "QTY":
        q = rng.randint(2, 12)
        return say_number(q) if voice else str(q)
    if slot == "ORDER":
        number = _digits(rng, rng.randint(5, 7))
        return say_digits(number, rng) if voice else number
    if slot == "DAYDATE":
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        return f"{MONTHS[month - 1]} {ORDINALS[day]}" if voice else rng.choice(
            [f"{month}/{day}", f"{MONTHS[month - 1].title()} {day}"])
    if slot == "DURATION":
        minutes = rng.randint(10, 90)
        return (say_number(minutes) + " minutes") if voice else f"{minutes} minutes"
    if slot == "TIME":
        hour = rng.randint(1, 11)
        return f"{say_number(hour)} {rng.choice(['am', 'pm', 'thirty'])}" if voice else f"{hour}:30 pm"
    if slot == "SPEED":
        return f"{rng.choice([300, 500, 940])} Mbps"
    raise KeyError(slot)


_SLOT = re.compile(r"\{([A-Z_]+)(?::([a-z]+))?\}")
_NEGATIVE_SLOTS = {"AMOUNT", "AMOUNT_DIGITS", "QTY", "ORDER", "DAYDATE", "DURATION", "TIME", "SPEED"}


def render_template(template: str, form: str, renderer: Renderer) -> dict:
    text, spans, names, cursor = "", [], [], 0
    for m in _SLOT.finditer(template):
        text += template[cursor:m.start()]
        cursor = m.end()
        slot, variant = m.group(1), m.group(2) or ""
        if slot in _NEGATIVE_SLOTS:
            text += _negative_fill(slot, form, renderer.rng)
            continue
        kind = None
        if slot == "PERSON":
            value, kind = renderer.person(form, variant)
            gold = "PERSON"
        elif slot == "SURNAME":
            value, kind = renderer.surname(form)
            gold = "PERSON"
        elif slot == "CARD":
            value, gold = renderer.card(form, asr_error=variant == "asr"), "CARD"
        elif slot == "ACCOUNT_NUMBER":
            value, gold = renderer.account(form), "ACCOUNT_NUMBER"
        elif slot == "DATE":
            value, gold = renderer.dob(form), "DATE"
        else:
            value, gold = getattr(renderer, slot.lower())(form), slot
        start = len(text)
        text += value
        spans.append({"type": gold, "start": start, "end": len(text)})
        if kind is not None:
            names.append({"start": start, "end": len(text), "kind": kind})
    text += template[cursor:]
    return {"text": text, "spans": spans, "names": names}


def generate(seed: int = 7, per_template: int = 6, split: str = "heldout") -> list[dict]:
    """Records for ``split`` ("tune" or "heldout"); deterministic for a given seed."""
    templates = HELDOUT_TEMPLATES if split == "heldout" else TUNE_TEMPLATES
    rng = random.Random(f"{seed}:{split}")
    renderer = Renderer(rng, split)
    records = []
    for group, items in templates.items():
        form = "chat" if group.endswith("chat") else "voice"
        repeat = per_template if form == "voice" else max(1, per_template // 2)
        for t_index, template in enumerate(items):
            for _ in range(repeat):
                record = render_template(template, form, renderer)
                record.update({"form": form, "template": f"{split}:{group}:{t_index}", "split": split,
                               "negative": group.startswith("negative")})
                records.append(record)
    return records


def write_jsonl(path: pathlib.Path, records: list[dict]) -> None:
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write the tune and held-out sets as JSON lines")
    parser.add_argument("--out", default=".cache/data/pii", help="output directory (build output, not committed)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-template", type=int, default=6)
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tune", "heldout"):
        rows = generate(seed=args.seed, per_template=args.per_template, split=name)
        write_jsonl(out_dir / f"{name}.jsonl", rows)
        voice = sum(r["form"] == "voice" for r in rows)
        print(f"{name}: {len(rows)} turns, {voice / len(rows):.0%} voice, "
              f"{sum(len(r['spans']) for r in rows)} gold spans")
