"""Ingestion's pure logic: normalization, validation, deduplication, and HTTP request validation.

Nothing here does I/O. `handle_raw_turn` is driven by the runtime for every record on turns.raw;
`validate_http_turns` is driven by the HTTP endpoint for every request body.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from schemas import EventModel
from schemas.dead_letter.v1 import DeadLetterReason, FieldError
from schemas.raw_turn.v2 import RawTurnV2
from schemas.validated_turn.v1 import ValidatedTurnV1
from services.runtime.codec import DecodeError, parse_json, upcast_to_current, validate_document
from services.runtime.handler import HandlerContext, HandlerResult, Output, Rejected
from services.runtime.topics import TopicSpec

VALIDATED_TOPIC = "turns.validated"
_VALIDATED_ID_NAMESPACE = uuid.UUID("0f5a8f0e-3b59-4a0c-8d0e-2f1de3c9c1a7")

_WHITESPACE = re.compile(r"\s+")
# Cc/Cf characters other than whitespace (NUL, BEL, zero-width, bidi overrides...) carry no speech.
# VT, FF and NEL are whitespace (str.isspace) and become a space below, so they are not listed here.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_LANGUAGE_TAG = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?$"
)


@dataclass(frozen=True)
class IngestionRules:
    max_text_chars: int = 20_000
    assume_utc_for_naive_times: bool = True


def normalize_text(text: str) -> tuple[str, list[str]]:
    """NFC, invisible control characters removed, whitespace runs collapsed to one space, trimmed."""
    changes = []
    normalized = unicodedata.normalize("NFC", text)
    if normalized != text:
        changes.append("text_nfc")
    visible = _INVISIBLE.sub("", normalized)
    if visible != normalized:
        changes.append("control_chars_removed")
    collapsed = _WHITESPACE.sub(" ", visible).strip()
    if collapsed != visible:
        changes.append("whitespace")
    return collapsed, changes


def canonical_language(tag: str | None) -> tuple[str, list[str]]:
    """Canonical casing of a (language[-Script][-REGION]) BCP 47 tag; None or blank becomes 'und'."""
    if tag is None or not tag.strip():
        return "und", ["language_undetermined"]
    candidate = tag.strip().replace("_", "-")
    if candidate.lower() == "und":
        return "und", [] if tag == "und" else ["language_case"]
    match = _LANGUAGE_TAG.match(candidate)
    if match is None:
        raise Rejected(
            DeadLetterReason.SCHEMA_INVALID,
            f"language {tag!r} is not a BCP 47 tag like 'en', 'en-US' or 'zh-Hant-TW'",
            [FieldError(loc="language", msg="not a BCP 47 language tag", type="language_tag")],
        )
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    canonical = "-".join(parts)
    return canonical, [] if canonical == tag else ["language_case"]


def to_utc(value: datetime, field: str, rules: IngestionRules) -> tuple[datetime, list[str]]:
    if value.tzinfo is None or value.utcoffset() is None:
        if not rules.assume_utc_for_naive_times:
            raise Rejected(
                DeadLetterReason.SCHEMA_INVALID, f"{field} has no UTC offset",
                [FieldError(loc=field, msg="timestamp has no UTC offset", type="naive_datetime")],
            )
        return value.replace(tzinfo=timezone.utc), ["timezone_assumed_utc"]
    utc = value.astimezone(timezone.utc)
    return utc, [] if value.utcoffset().total_seconds() == 0 else ["timezone_converted"]


def validated_event_id(turn_id: str) -> str:
    """Deterministic: re-ingesting the same raw event yields the same validated event id."""
    return str(uuid.uuid5(_VALIDATED_ID_NAMESPACE, turn_id))


def normalize_turn(raw: RawTurnV2, rules: IngestionRules, source_schema: str, now: datetime) -> ValidatedTurnV1:
    text, changes = normalize_text(raw.text)
    if not text:
        raise Rejected(
            DeadLetterReason.SCHEMA_INVALID, "text is empty after normalization",
            [FieldError(loc="text", msg="empty after whitespace and control characters are removed", type="empty_text")],
        )
    if len(text) > rules.max_text_chars:
        raise Rejected(
            DeadLetterReason.OVERSIZE, f"text has {len(text)} characters; the limit is {rules.max_text_chars}",
            [FieldError(loc="text", msg=f"longer than {rules.max_text_chars} characters", type="text_too_long")],
        )
    language, language_changes = canonical_language(raw.language)
    started_at, started_changes = to_utc(raw.started_at, "started_at", rules)
    ended_at, ended_changes = to_utc(raw.ended_at, "ended_at", rules)
    occurred_at, occurred_changes = to_utc(raw.occurred_at, "occurred_at", rules)
    if ended_at < started_at:
        raise Rejected(
            DeadLetterReason.SCHEMA_INVALID, "ended_at is before started_at",
            [FieldError(loc="ended_at", msg="before started_at", type="time_order")],
        )
    all_changes = changes + language_changes + started_changes + ended_changes + occurred_changes
    return ValidatedTurnV1(
        event_id=validated_event_id(raw.event_id),
        occurred_at=occurred_at,
        turn_id=raw.event_id,
        conversation_id=raw.conversation_id,
        turn_index=raw.turn_index,
        role=raw.role,
        text=text,
        started_at=started_at,
        ended_at=ended_at,
        channel=raw.channel,
        language=language,
        tenant_id=raw.tenant_id,
        metadata=dict(raw.metadata),
        source_schema=source_schema,
        normalizations=sorted(set(all_changes)),
        received_at=now,
    )


def make_raw_turn_handler(rules: IngestionRules):
    """Handler for turns.raw. State: event ids seen within the dedup window (the runtime applies the TTL)."""

    def handle_raw_turn(event: EventModel, seen: Mapping[str, Any], context: HandlerContext) -> HandlerResult:
        assert isinstance(event, RawTurnV2), f"runtime decoded {type(event).__name__}, expected RawTurnV2"
        if event.event_id in seen:
            return HandlerResult(skipped="duplicate")
        validated = normalize_turn(event, rules, context.source_schema or RawTurnV2.schema_id(), context.now)
        return HandlerResult(
            outputs=(Output(VALIDATED_TOPIC, validated),),
            state_updates={event.event_id: 1},
        )

    return handle_raw_turn


# --- HTTP front door ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HttpRejection:
    status: int
    body: dict[str, Any]


def validate_http_turns(
    body: bytes, content_type: str, spec: TopicSpec, max_batch: int, new_event_id
) -> list[EventModel] | HttpRejection:
    """Validate an HTTP request body holding one turn (object) or a batch (array).

    Every turn must be valid for any to be accepted, so a client can simply resend a corrected batch.
    Turns without an event_id get one from `new_event_id()`.
    """
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        return HttpRejection(415, {"error": f"content type must be application/json, got {content_type!r}"})
    try:
        document = parse_json(body)
    except DecodeError as exc:
        return HttpRejection(400, {"error": f"body is not JSON: {exc.reason}"})
    except UnicodeDecodeError as exc:
        return HttpRejection(400, {"error": f"body is not UTF-8 JSON: {exc}"})
    items = document if isinstance(document, list) else [document]
    if not items:
        return HttpRejection(400, {"error": "empty batch"})
    if len(items) > max_batch:
        return HttpRejection(413, {"error": f"batch of {len(items)} turns; the limit is {max_batch}"})
    accepted: list[EventModel] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "errors": [{"loc": "(root)", "msg": "a turn must be a JSON object",
                                                         "type": "object_type"}]})
            continue
        if "event_id" not in item:
            item = {**item, "event_id": new_event_id()}
        try:
            event = validate_document(item, None, spec)
            # Upcasting here only checks that it will succeed; the original version is what is produced.
            upcast_to_current(event, spec)
        except DecodeError as exc:
            field_errors = exc.field_errors or [FieldError(loc="(root)", msg=exc.reason, type=exc.code.value)]
            errors.append({"index": index, "errors": [e.model_dump() for e in field_errors]})
            continue
        accepted.append(event)
    if errors:
        return HttpRejection(422, {"error": f"{len(errors)} of {len(items)} turn(s) invalid; none accepted",
                                   "invalid": errors})
    return accepted
