"""Hypothesis strategies of bad (and oddly shaped but valid) Kafka records for every consumed schema.

Shared by tests/unit/test_fuzz_consumers.py and tests/integration/test_fuzz_kafka.py. Every record is
built from a valid example of the topic's schema (schemas/examples.py) and then broken in one known way,
so it carries the dead-letter reason(s) it must get (`expected`) and, for field-level breakage, the field
the dead letter's `field_errors` must name (`field`). Nothing here asks the codec what the answer is: a
category is decided by construction or by a property of the bytes alone (is it valid UTF-8? does the
standard library's strict json.loads reject it?).

Categories (CATEGORIES) and the reason each must get:
- malformed:      UTF-8 text that is not JSON (-> not_json), a JSON value that is not an object, or an
                  object missing a required field (-> schema_invalid).
- truncated:      a valid event cut at a random byte (-> not_json; not_utf8 when cut inside a character).
- wrong_type:     one field (top-level or nested) replaced by a value of another JSON type
                  (-> schema_invalid, naming that field).
- wrong_version:  unknown/ill-typed schema_name or schema_version, a sluice-schema header that is unknown,
                  garbled, or disagrees with the body (-> unknown_schema), a legacy event that cannot be
                  upcast (-> upcast_failed).
- oversize:       more than max_message_bytes, valid or garbage (-> oversize, checked before anything else).
- wrong_encoding: UTF-16/32, Latin-1/cp1252, invalid UTF-8 sequences, gzip (-> not_utf8); UTF-8 with a BOM,
                  BOM-less UTF-16 of ASCII, base64 (-> not_json: valid UTF-8, not JSON).
- hostile:        deep nesting, numbers beyond float range or 4300 digits, NaN/Infinity, duplicate keys,
                  raw NUL/control characters, unpaired surrogate escapes (-> not_json: not I-JSON, RFC 7493);
                  very long or control-character ids, prototype-pollution wrappers (-> schema_invalid);
                  null/empty/blank values (-> empty / not_json); conflicting sluice-schema headers
                  (-> unknown_schema).

Every bad record also gets a random key (None, empty, arbitrary bytes or the real key) and random extra
headers (garbage traceparent/tracestate included) that the dead letter must carry unchanged.

`tolerated_records` are valid events in odd shapes (unknown extra fields with hostile names, whitespace,
pretty-printing, escaped non-ASCII, garbage trace headers): they must be processed exactly like the plain event.
"""

from __future__ import annotations

import base64
import gzip
import json
import typing
from dataclasses import dataclass, field
from types import NoneType, UnionType

from hypothesis import strategies as st

from schemas import REGISTRY
from schemas.dead_letter.v1 import DeadLetterReason
from schemas.examples import EXAMPLES
from services.runtime.topics import TopicSpec

R = DeadLetterReason
SCHEMA_HEADER = "sluice-schema"
CATEGORIES = ("malformed", "truncated", "wrong_type", "wrong_version", "oversize", "wrong_encoding", "hostile")
# Reasons only the decode edge gives; a valid event must never get one of these.
DECODE_REASONS = frozenset({R.EMPTY, R.OVERSIZE, R.NOT_JSON, R.NOT_UTF8, R.UNKNOWN_SCHEMA, R.SCHEMA_INVALID,
                            R.UPCAST_FAILED})


@dataclass(frozen=True)
class FuzzRecord:
    """One generated Kafka record and the dead letter it must become."""

    category: str
    kind: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    expected: frozenset[DeadLetterReason]
    # For schema_invalid: the dotted path the dead letter's field_errors must name (or a prefix of one).
    field: str | None = None

    def describe(self) -> str:
        size = None if self.value is None else len(self.value)
        preview = None if self.value is None else self.value[:120]
        return (f"{self.category}/{self.kind} expected={sorted(r.value for r in self.expected)} field={self.field} "
                f"size={size} value[:120]={preview!r} headers={self.headers!r} key={self.key!r}")


@dataclass(frozen=True)
class Example:
    """A valid event of a topic as a JSON document, with its schema id and Kafka key."""

    document: dict
    schema_id: str
    key: bytes | None
    model: type = field(compare=False)

    def value(self) -> bytes:
        return dumps(self.document)

    def headers(self) -> tuple[tuple[str, bytes | None], ...]:
        return ((SCHEMA_HEADER, self.schema_id.encode()),)


def dumps(document: object, **kwargs) -> bytes:
    return json.dumps(document, **kwargs).encode("utf-8")


def examples_for(spec: TopicSpec) -> list[Example]:
    """The checked-in valid example of every schema version the topic accepts (current version first)."""
    accepted = spec.accepted_models()
    current = spec.model().schema_key()
    found = [e for e in EXAMPLES if e.schema_key() in accepted]
    found.sort(key=lambda e: e.schema_key() != current)
    assert found, f"no example for {spec.name}"
    result = []
    for event in found:
        document = json.loads(event.to_json_bytes())
        key = document.get(spec.key) if event.schema_key() == current else None
        result.append(Example(document, event.schema_id(), None if key is None else str(key).encode(), type(event)))
    return result


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def stdlib_rejects(text: str) -> bool:
    """True when Python's strict json.loads refuses the text (the codec may only refuse more)."""
    try:
        json.loads(text)
    except ValueError:
        return True
    except RecursionError:
        return True
    return False


def text_reason(data: bytes) -> frozenset[DeadLetterReason]:
    """For bytes that are not JSON by construction: not_utf8 if they are not UTF-8, else not_json."""
    return frozenset({R.NOT_JSON if is_utf8(data) else R.NOT_UTF8})


# --- common pieces --------------------------------------------------------------------------------------

_SAFE_CHARS = st.characters(blacklist_categories=("Cs",))
_LETTERS = st.text(st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=12).filter(
    lambda s: s.strip().lower() not in {"nan", "inf", "infinity", "true", "false", "yes", "no", "on", "off",
                                        "t", "f", "y", "n"})
_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(_SAFE_CHARS, max_size=20))
_JSON_VALUES = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(_SAFE_CHARS, max_size=8), inner, max_size=3)),
    max_leaves=6)
_CONTAINERS = st.one_of(st.lists(_JSON_VALUES, max_size=3), st.dictionaries(st.text(_SAFE_CHARS, max_size=8),
                                                                            _JSON_VALUES, max_size=3))


def keys(example_key: bytes | None) -> st.SearchStrategy[bytes | None]:
    return st.one_of(st.none(), st.just(b""), st.binary(max_size=40), st.just(example_key))


def extra_headers() -> st.SearchStrategy[list[tuple[str, bytes | None]]]:
    """Headers that are not the schema header: arbitrary, null, and garbage trace context."""
    names = st.one_of(st.sampled_from(["traceparent", "tracestate", "content-type", "sluice-producer", "",
                                       "__proto__", "x-\u202eevil"]),
                      st.text(_SAFE_CHARS, max_size=16)).filter(lambda k: k != SCHEMA_HEADER)
    values = st.one_of(st.none(), st.binary(max_size=60),
                       st.sampled_from([b"00-" + b"0" * 32 + b"-" + b"0" * 16 + b"-01",
                                        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                        b"ff-zz-zz-zz", b"\xff\xfe\x00", b"a=b,,,=c," * 40]))
    return st.lists(st.tuples(names, values), max_size=3)


def paths(document: object, prefix: tuple = ()) -> list[tuple[tuple, object]]:
    """Every (path, value) below the root of a JSON document; list indices are ints."""
    found = []
    items = document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) \
        else ()
    for part, value in items:
        found.append(((*prefix, part), value))
        found.extend(paths(value, (*prefix, part)))
    return found


def with_value(document: object, path: tuple, value: object) -> object:
    """A copy of `document` with the node at `path` replaced (or deleted when value is _DELETE)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        copy = dict(document)
        if not rest and value is _DELETE:
            del copy[head]
        else:
            copy[head] = with_value(document[head], rest, value)
        return copy
    copy = list(document)
    copy[head] = with_value(document[head], rest, value)
    return copy


_DELETE = object()


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _field_annotation(model: type, name: str):
    info = model.model_fields.get(name)
    return None if info is None else info.annotation


def _accepts_null(annotation) -> bool:
    origin = typing.get_origin(annotation)
    return annotation is None or annotation is NoneType or (
        origin in (typing.Union, UnionType) and NoneType in typing.get_args(annotation))


def _strip_optional(annotation):
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not NoneType]
        return args[0] if len(args) == 1 else annotation
    return annotation


# Every kind of every category; `bad_records(..., kind=...)` draws only that kind.
KINDS: dict[str, tuple[str, ...]] = {
    "malformed": ("junk", "mutated", "non_object", "missing_field", "empty_object"),
    "truncated": ("compact", "ascii_escaped", "raw_utf8", "indented"),
    "wrong_type": ("field",),
    "wrong_version": ("body_version", "body_version_type", "body_name", "body_name_type", "header_unknown",
                      "header_garbled", "header_mismatch", "header_only_unknown", "upcast"),
    "oversize": ("padded_valid_event", "garbage", "not_utf8"),
    "wrong_encoding": ("utf16_bom", "utf16le_no_bom", "utf16be_ascii", "utf32", "latin1", "cp1252", "utf8_bom",
                       "invalid_sequence", "cesu8", "gzip", "base64"),
    "hostile": ("deep_array", "deep_object", "deep_in_field", "huge_int_digits", "float_overflow", "nan_infinity",
                "duplicate_key", "duplicate_nested_key", "raw_nul", "raw_control", "lone_surrogate",
                "long_event_id", "long_producer", "control_chars_in_id", "proto_wrapper", "null_value",
                "empty_value", "blank_value", "json_null", "conflicting_schema_headers"),
}


def _kind(category: str, only: str | None) -> st.SearchStrategy[str]:
    return st.just(only) if only else st.sampled_from(KINDS[category])


# --- categories -----------------------------------------------------------------------------------------

@st.composite
def _malformed(draw, examples: list[Example], only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    text = example.value().decode()
    kind = draw(_kind("malformed", only))
    if kind == "junk":
        junk = draw(st.one_of(
            st.sampled_from(["conversation_id=42&text=hello", "<turn><text>hi</text></turn>", "text: hi\nrole: x",
                             "{'event_id': 'a', 'ok': True, 'x': None}", '{"a": 1,}', '{"a": 1} // c',
                             '{a: 1}', '{"a": 1}{"b": 2}', text + "\n" + text, "[1, 2", "undefined", "0x1F",
                             '"unterminated', "{", "}", "\u00e9t\u00e9 \u2603", text.replace('"', "'")]),
            st.text(_SAFE_CHARS, min_size=1, max_size=80)))
        if not stdlib_rejects(junk) or not junk.strip("\x00"):
            junk = "{" + junk  # keeps it not-JSON and non-blank
        return kind, junk.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "mutated":
        position = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["delete", "insert", "replace"]))
        char = draw(st.sampled_from(list('{}[]",:\\ x0-')))
        if edit == "delete" and position < len(text):
            mutated = text[:position] + text[position + 1:]
        elif edit == "replace" and position < len(text):
            mutated = text[:position] + char + text[position + 1:]
        else:
            mutated = text[:position] + char + text[position:]
        if not stdlib_rejects(mutated):
            mutated = mutated + "}"  # an edit that kept it JSON: a trailing brace makes it not JSON
        return kind, mutated.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "non_object":
        document = draw(st.one_of(st.just([example.document]), _JSON_SCALARS, st.lists(_JSON_VALUES, max_size=3)))
        return kind, dumps(document), frozenset({R.SCHEMA_INVALID}), None, example.headers()
    if kind == "empty_object":
        return kind, b"{}", frozenset({R.SCHEMA_INVALID}), None, example.headers()
    required = [name for name, info in example.model.model_fields.items()
                if info.is_required() and name in example.document]
    name = draw(st.sampled_from(required))
    return (kind, dumps(with_value(example.document, (name,), _DELETE)),
            frozenset({R.SCHEMA_INVALID}), name, example.headers())


@st.composite
def _truncated(draw, examples: list[Example], only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    style = draw(_kind("truncated", only))
    document = example.document
    if style == "raw_utf8":
        # Non-ASCII text in a string field, written raw so that a cut can fall inside a character.
        name = draw(st.sampled_from([k for k, v in document.items() if isinstance(v, str) and k not in (
            "schema_name",)]))
        document = with_value(document, (name,), document[name] + " caf\u00e9 \u2603 \U0001f600")
    data = dumps(document, ensure_ascii=style != "raw_utf8", indent=2 if style == "indented" else None)
    cut = draw(st.integers(1, len(data) - 1))
    value = data[:cut]
    return style, value, text_reason(value), None, example.headers()


def _wrong_values(value: object, annotation) -> st.SearchStrategy:
    """Values of another JSON type than `value` that no lax coercion can turn into the field's type."""
    bare = _strip_optional(annotation)
    options = []
    if value is None:
        # Only the field's type says what null stands for: a container is wrong for any scalar type and a
        # number for any container type.
        container = typing.get_origin(bare) in (list, tuple, dict, set, frozenset) or (
            isinstance(bare, type) and hasattr(bare, "model_fields"))
        options.append(st.integers() if container else _CONTAINERS)
    elif isinstance(value, list):
        options.append(st.one_of(_LETTERS, st.integers(), st.booleans(),
                                 st.dictionaries(_LETTERS, _JSON_SCALARS, max_size=2)))
    elif isinstance(value, dict):
        options.append(st.one_of(_LETTERS, st.integers(), st.booleans(), st.lists(_JSON_SCALARS, max_size=3)))
    else:
        options.append(_CONTAINERS)  # no scalar field (or scalar union) accepts a list or an object
        if bare in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            options.append(_LETTERS)
    if annotation is not None and not _accepts_null(annotation) and value is not None:
        options.append(st.none())
    return st.one_of(*options)


@st.composite
def _wrong_type(draw, examples: list[Example], only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    # Below the top level the field's type is not looked up: a nested scalar (free-form metadata takes any
    # scalar) is swapped for a container, a nested container for a scalar; a nested null is left alone.
    candidates = [(path, value) for path, value in paths(example.document)
                  if path[0] not in ("schema_name", "schema_version") and (len(path) == 1 or value is not None)]
    path, value = draw(st.sampled_from(candidates))
    annotation = _field_annotation(example.model, path[0]) if len(path) == 1 else None
    if len(path) > 1 and not isinstance(value, (dict, list)):
        replacement = draw(_CONTAINERS)
    elif len(path) > 1:
        replacement = draw(st.one_of(_LETTERS, st.integers()) if isinstance(value, list)
                           else st.one_of(_LETTERS, st.integers(), st.lists(_JSON_SCALARS, max_size=2)))
    else:
        replacement = draw(_wrong_values(value, annotation))
    kind = f"{type(value).__name__}->{type(replacement).__name__}"
    return (kind, dumps(with_value(example.document, path, replacement)), frozenset({R.SCHEMA_INVALID}),
            dotted(path), example.headers())


@st.composite
def _wrong_version(draw, examples: list[Example], spec: TopicSpec, only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    accepted = set(spec.accepted_models())
    name, version = example.document["schema_name"], example.document["schema_version"]
    others = sorted({f"{n}/v{v}" for n, v in REGISTRY.models if (n, v) not in accepted})
    kind = draw(_kind("wrong_version", only))
    document, headers = example.document, example.headers()
    if kind == "body_version":
        bad = draw(st.integers(-2**63, 2**63).filter(lambda v: (name, v) not in accepted))
        document = {**document, "schema_version": bad}
        headers = ()
    elif kind == "body_version_type":
        document = {**document, "schema_version": draw(st.sampled_from([str(version), float(version), True, None,
                                                                         [version], {"v": version}]))}
        headers = ()
    elif kind == "body_name":
        bad = draw(st.one_of(st.sampled_from(sorted({n for n, _ in REGISTRY.models} - {name})),
                             st.text(_SAFE_CHARS, max_size=20).filter(lambda s: s != name)))
        document = {**document, "schema_name": bad}
        headers = ()
    elif kind == "body_name_type":
        document = {**document, "schema_name": draw(st.sampled_from([None, 1, True, [name], {"name": name}]))}
        headers = ()
    elif kind in ("header_unknown", "header_only_unknown"):
        header = draw(st.one_of(st.sampled_from(others), st.builds(lambda v: f"{name}/v{v}",
                                                                   st.integers(3, 10**6))))
        headers = ((SCHEMA_HEADER, header.encode()),)
        if kind == "header_only_unknown":
            document = {k: v for k, v in document.items() if k not in ("schema_name", "schema_version")}
    elif kind == "header_garbled":
        header = draw(st.one_of(st.binary(max_size=30), st.sampled_from(
            [b"", b"raw_turn", b"/v2", f"{name}/v".encode(), f"{name}/v{version}x".encode(), f"{name}/v-1".encode(),
             f"{name}/v\u00b2".encode(), f"{name}/version{version}".encode(), b"\xff\xfe"])))
        if header == f"{name}/v{version}".encode():
            header = b"?"
        headers = ((SCHEMA_HEADER, header),)
    elif kind == "header_mismatch":
        other = [f"{n}/v{v}" for n, v in sorted(accepted) if (n, v) != (name, version)] + others
        headers = ((SCHEMA_HEADER, draw(st.sampled_from(other)).encode()),)
    else:  # upcast: a legacy event whose values have no meaning in the current version
        legacy = [e for e in examples if e.schema_id != spec.schema_id]
        if not legacy:
            bad = draw(st.integers(spec.model().schema_key()[1] + 1, 1000))
            return ("body_version", dumps({**document, "schema_version": bad}),
                    frozenset({R.UNKNOWN_SCHEMA}), None, example.headers())
        example = legacy[0]
        field_name = draw(st.sampled_from(["speaker", "medium"]))
        bad = draw(st.sampled_from(["supervisor", "fax", "???", "caller-ish"]))
        return (kind, dumps(with_value(example.document, (field_name,), bad)), frozenset({R.UPCAST_FAILED}),
                None, example.headers())
    return kind, dumps(document), frozenset({R.UNKNOWN_SCHEMA}), None, headers


@st.composite
def _oversize(draw, examples: list[Example], max_bytes: int, only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    over = draw(st.sampled_from([1, 2, 7, 1000, max_bytes // 2]))
    kind = draw(_kind("oversize", only))
    if kind == "padded_valid_event":
        base = example.value()
        pad = max_bytes + over - len(base) - len(', "padding": ""')
        value = dumps({**example.document, "padding": "x" * max(pad, 0)})
        assert len(value) > max_bytes
    elif kind == "garbage":
        unit = draw(st.binary(min_size=1, max_size=8))
        value = (unit * (max_bytes // len(unit) + over + 1))[: max_bytes + over]
    else:
        value = (b"\xff" + example.value()) * (max_bytes // len(example.value()) + 2)
        value = value[: max_bytes + over]
    return kind, value, frozenset({R.OVERSIZE}), None, example.headers()


@st.composite
def _wrong_encoding(draw, examples: list[Example], only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    text_fields = [k for k, v in example.document.items() if isinstance(v, str) and not k.startswith("schema")]
    name = draw(st.sampled_from(text_fields))
    document = with_value(example.document, (name,), example.document[name] + " caf\u00e9 d\u00e9j\u00e0 vu")
    text = json.dumps(document, ensure_ascii=False)
    ascii_text = json.dumps(example.document)
    kind = draw(_kind("wrong_encoding", only))
    if kind == "utf16_bom":
        value = text.encode("utf-16")
    elif kind == "utf16le_no_bom":
        value = text.encode("utf-16-le")
    elif kind == "utf16be_ascii":
        value = ascii_text.encode("utf-16-be")  # valid UTF-8 (ASCII and NULs) that is not JSON
    elif kind == "utf32":
        value = text.encode("utf-32")
    elif kind in ("latin1", "cp1252"):
        value = text.encode(kind, "replace")
    elif kind == "utf8_bom":
        value = b"\xef\xbb\xbf" + text.encode("utf-8")
        return kind, value, frozenset({R.NOT_JSON}), None, example.headers()
    elif kind == "invalid_sequence":
        data = text.encode("utf-8")
        bad = draw(st.sampled_from([b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xff", b"\xfe",
                                    b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xc3"]))
        # Splice at an ASCII position so the surrounding bytes stay whole.
        ascii_positions = [i for i, b in enumerate(data) if b < 0x80]
        at = draw(st.sampled_from(ascii_positions))
        value = data[:at] + bad + data[at:]
    elif kind == "cesu8":
        document = with_value(example.document, (name,), "smile \U0001f600")
        value = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
        value = value.replace("\U0001f600".encode(), "\ud83d\ude00".encode("utf-8", "surrogatepass"))
    elif kind == "gzip":
        value = gzip.compress(text.encode("utf-8"), mtime=0)
    else:
        value = base64.b64encode(text.encode("utf-8"))
        return kind, value, frozenset({R.NOT_JSON}), None, example.headers()
    return kind, value, text_reason(value), None, example.headers()


@st.composite
def _hostile(draw, examples: list[Example], spec: TopicSpec, only: str | None = None) -> tuple:
    example = draw(st.sampled_from(examples))
    document, text = example.document, example.value().decode()
    kind = draw(_kind("hostile", only))
    # Far beyond any recursion limit (hypothesis itself raises the limit while a test runs); nesting that
    # deep in a closed or unclosed document is refused as not_json, or as oversize when it outgrew the limit.
    if kind == "deep_array":
        depth = draw(st.integers(20_000, 200_000))
        closed = draw(st.booleans())
        return kind, b"[" * depth + (b"]" * depth if closed else b""), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "deep_object":
        depth = draw(st.integers(12_000, 40_000))
        return (kind, b'{"":' * depth + b"1" + b"}" * depth * draw(st.integers(0, 1)),
                frozenset({R.NOT_JSON}), None, example.headers())
    if kind == "deep_in_field":
        # Parses (well under the recursion limit) but no field of any schema takes a nested structure here.
        scalars = [k for k, v in document.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)
                   and not k.startswith("schema")]
        name = draw(st.sampled_from(scalars))
        depth = draw(st.integers(50, 400))
        nested: object = 1
        for _ in range(depth):
            nested = {"k": nested}
        return kind, dumps({**document, name: nested}), frozenset({R.SCHEMA_INVALID}), name, example.headers()
    if kind == "huge_int_digits":
        digits = draw(st.integers(4301, 30_000))
        where = draw(st.sampled_from(["field", "top"]))
        number = "9" * digits
        if where == "top":
            return kind, number.encode(), frozenset({R.NOT_JSON}), None, example.headers()
        name = draw(st.sampled_from(sorted(document)))
        value = text.replace(json.dumps(name) + ": " + json.dumps(document[name]), json.dumps(name) + ": " + number, 1)
        return kind, value.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind in ("float_overflow", "nan_infinity"):
        literal = draw(st.sampled_from(["1e400", "-1e400", "2e308", "1" + "0" * 400 + ".0"] if kind == "float_overflow"
                                       else ["NaN", "Infinity", "-Infinity"]))
        numeric = [k for k, v in paths(document) if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and k[0] != "schema_version"]
        if not numeric or draw(st.booleans()):
            value = text[:-1] + f', "extra_number": {literal}}}'
        else:
            path = draw(st.sampled_from(numeric))
            value = dumps(with_value(document, path, "__MARK__")).decode().replace('"__MARK__"', literal, 1)
        return kind, value.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "duplicate_key":
        name = draw(st.sampled_from(sorted(document)))
        first = draw(st.one_of(st.just(document[name]), _JSON_SCALARS))
        # The last value is the valid one: a last-wins parser would accept it, another parser would not.
        value = "{" + json.dumps(name) + ": " + json.dumps(first) + ", " + text[1:]
        return kind, value.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "duplicate_nested_key":
        nested = [p for p, v in paths(document) if isinstance(v, dict) and v]
        if not nested:
            value = text[:-1] + ', "x": {"a": 1, "a": 2}}'
        else:
            path = draw(st.sampled_from(nested))
            inner = with_value(document, path, "__MARK__")
            sub = json.dumps(_get(document, path))
            sub_name = next(iter(_get(document, path)))
            dup = "{" + json.dumps(sub_name) + ": null, " + sub[1:]
            value = json.dumps(inner).replace('"__MARK__"', dup, 1)
        return kind, value.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind in ("raw_nul", "raw_control"):
        char = "\x00" if kind == "raw_nul" else draw(st.sampled_from(
            [chr(c) for c in [*range(1, 9), 0x0b, 0x0c, *range(0x0e, 0x20)]]))
        at = draw(st.integers(0, len(text)))
        return kind, (text[:at] + char + text[at:]).encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "lone_surrogate":
        escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udc00x", "\\ud83d"]))
        strings = [p for p, v in paths(document) if isinstance(v, str)]
        path = draw(st.sampled_from(strings))
        value = dumps(with_value(document, path, "__MARK__")).decode().replace("__MARK__", escape, 1)
        return kind, value.encode(), frozenset({R.NOT_JSON}), None, example.headers()
    if kind == "long_event_id":
        length = draw(st.integers(129, 60_000))
        return (kind, dumps({**document, "event_id": "a" * length}),
                frozenset({R.SCHEMA_INVALID}), "event_id", example.headers())
    if kind == "long_producer":
        length = draw(st.integers(129, 60_000))
        return (kind, dumps({**document, "producer": "p" * length}),
                frozenset({R.SCHEMA_INVALID}), "producer", example.headers())
    if kind == "control_chars_in_id":
        char = draw(st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u202e", "\ufeff", "\n"]))
        event_id = draw(st.sampled_from(["", "evt-1"])) + char + "x"
        ensure_ascii = draw(st.booleans())
        return (kind, dumps({**document, "event_id": event_id}, ensure_ascii=ensure_ascii),
                frozenset({R.SCHEMA_INVALID}), "event_id", example.headers())
    if kind == "proto_wrapper":
        wrapper = draw(st.sampled_from(["__proto__", "constructor", "prototype", "__class__", "__dict__"]))
        return kind, dumps({wrapper: document}), frozenset({R.SCHEMA_INVALID}), None, example.headers()
    if kind == "null_value":
        return kind, None, frozenset({R.EMPTY}), None, example.headers()
    if kind == "empty_value":
        return kind, b"", frozenset({R.EMPTY}), None, example.headers()
    if kind == "blank_value":
        return (kind, draw(st.sampled_from([b" ", b"\n", b"\t\r\n ", b" " * 1000])),
                frozenset({R.NOT_JSON}), None, example.headers())
    if kind == "json_null":
        return kind, b"null", frozenset({R.SCHEMA_INVALID}), None, example.headers()
    # Two sluice-schema headers that disagree: first-wins and last-wins readers would decode differently.
    accepted = sorted(f"{n}/v{v}" for n, v in spec.accepted_models())
    others = sorted({f"{n}/v{v}" for n, v in REGISTRY.models} - set(accepted))
    pair = [example.schema_id.encode(), draw(st.sampled_from(others)).encode()]
    if draw(st.booleans()):
        pair.reverse()
    return (kind, example.value(), frozenset({R.UNKNOWN_SCHEMA}), None,
            ((SCHEMA_HEADER, pair[0]), (SCHEMA_HEADER, pair[1])))


def _get(document: object, path: tuple) -> object:
    for part in path:
        document = document[part]
    return document


def bad_records(spec: TopicSpec, max_message_bytes: int, categories: tuple[str, ...] = CATEGORIES,
                kind: str | None = None) -> st.SearchStrategy[FuzzRecord]:
    """Bad records for a consumed topic, each with the reason(s) its dead letter must carry; with `kind`,
    only that kind of the one category given."""
    assert kind is None or (len(categories) == 1 and kind in KINDS[categories[0]]), (categories, kind)
    examples = examples_for(spec)
    builders = {
        "malformed": lambda: _malformed(examples, only=kind),
        "truncated": lambda: _truncated(examples, only=kind),
        "wrong_type": lambda: _wrong_type(examples),
        "wrong_version": lambda: _wrong_version(examples, spec, only=kind),
        "oversize": lambda: _oversize(examples, max_message_bytes, only=kind),
        "wrong_encoding": lambda: _wrong_encoding(examples, only=kind),
        "hostile": lambda: _hostile(examples, spec, only=kind),
    }

    @st.composite
    def record(draw) -> FuzzRecord:
        category = draw(st.sampled_from(categories))
        kind, value, expected, field_path, schema_headers = draw(builders[category]())
        if category != "wrong_version" and kind != "conflicting_schema_headers" and draw(st.booleans()):
            schema_headers = ()  # the body names its schema; the header is optional
        if value is not None and len(value) > max_message_bytes and category != "oversize":
            # A hostile record that grew past the limit must be refused for its size, before anything else.
            expected, field_path = frozenset({R.OVERSIZE}), None
        headers = (*schema_headers, *draw(extra_headers()))
        key = draw(keys(examples[0].key))
        return FuzzRecord(category, kind, key, value, tuple(headers), expected, field_path)

    return record()


def every_kind(spec: TopicSpec, max_message_bytes: int) -> st.SearchStrategy[list[FuzzRecord]]:
    """One bad record of every kind of every category (KINDS) per draw: coverage that random draws lack."""
    return st.tuples(*(bad_records(spec, max_message_bytes, (category,), kind)
                       for category, kinds in KINDS.items() for kind in kinds)).map(list)


def tolerated_records(spec: TopicSpec) -> st.SearchStrategy[tuple[FuzzRecord, Example]]:
    """Valid events in odd but legal shapes, with the plain example they must be processed exactly like."""
    examples = examples_for(spec)

    @st.composite
    def record(draw) -> tuple[FuzzRecord, Example]:
        example = draw(st.sampled_from(examples))
        kind = draw(st.sampled_from(["extra_fields", "whitespace", "indented", "raw_unicode_order", "no_header",
                                     "null_schema_header", "garbage_trace_headers"]))
        document, headers = dict(example.document), example.headers()
        value = None
        if kind == "extra_fields":
            names = st.one_of(st.sampled_from(["__proto__", "constructor", "__class__", "__dict__", "model_config",
                                               "model_fields", "__init__", "prototype", "schema ", "EVENT_ID"]),
                              st.text(_SAFE_CHARS, min_size=1, max_size=12))
            extras = draw(st.dictionaries(names.filter(lambda n: n not in document), _JSON_VALUES, min_size=1,
                                          max_size=4))
            depth = draw(st.integers(0, 100))
            if depth:
                nested: object = []
                for _ in range(depth):
                    nested = [nested]
                extras["deep"] = nested
            value = dumps({**document, **extras})
        elif kind == "whitespace":
            value = draw(st.sampled_from([b" ", b"\n", b"\r\n", b"\t"])) + example.value() + b"\n"
        elif kind == "indented":
            value = dumps(document, indent=draw(st.integers(0, 4)), sort_keys=True)
        elif kind == "raw_unicode_order":
            value = dumps(dict(reversed(list(document.items()))), ensure_ascii=False)
        elif kind == "no_header":
            headers = ()
        elif kind == "null_schema_header":
            headers = ((SCHEMA_HEADER, None),)
        headers = (*headers, *draw(extra_headers()))
        key = draw(keys(example.key))
        return (FuzzRecord("tolerated", kind, key, value if value is not None else example.value(), tuple(headers),
                           frozenset()), example)

    return record()


def sample(strategy: st.SearchStrategy, count: int) -> list:
    """`count` examples of a strategy, the same ones on every run (for tests that cannot run per example)."""
    from hypothesis import HealthCheck, Phase, given, settings

    drawn: list = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example) -> None:
        drawn.append(example)

    collect()
    return drawn[:count]
