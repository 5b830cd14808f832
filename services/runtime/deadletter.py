"""Building dead-letter records: the reason plus everything needed to inspect and replay the original."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from schemas.dead_letter.v1 import DeadLetterReason, DeadLetterV1, FieldError, OriginalHeader

_DLQ_NAMESPACE = uuid.UUID("6b1f1a52-5f0e-4c4b-9a51-0c2f3f1d7e11")


@dataclass(frozen=True)
class InboundMessage:
    """A consumed Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _text(text: str) -> str:
    """Text that can be encoded as UTF-8: an unpaired surrogate (e.g. from a handler's exception message)
    would make the dead letter itself unpublishable, and the service would crash on the record instead."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def dead_letter_for(
    message: InboundMessage,
    *,
    service: str,
    code: DeadLetterReason,
    reason: str,
    now: datetime,
    field_errors: list[FieldError] | None = None,
    exception: BaseException | None = None,
    attempts: int = 1,
    max_original_bytes: int = 2 * 1024 * 1024,
) -> DeadLetterV1:
    # Deterministic id: dead-lettering the same record again (after a crash) repeats the same event id.
    event_id = str(uuid.uuid5(_DLQ_NAMESPACE, f"{service}|{message.topic}|{message.partition}|{message.offset}"))
    return DeadLetterV1(
        event_id=event_id,
        occurred_at=now,
        reason_code=code,
        reason=_text(reason[:4000]),
        field_errors=[FieldError(loc=_text(e.loc), msg=_text(e.msg), type=e.type) for e in field_errors or []],
        exception_type=None if exception is None else f"{type(exception).__module__}.{type(exception).__qualname__}",
        service=service,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        source_timestamp=None
        if message.timestamp is None
        else datetime.fromtimestamp(message.timestamp, tz=timezone.utc),
        original_key_b64=_b64(message.key),
        original_value_b64=_b64(None if message.value is None else message.value[:max_original_bytes]),
        original_value_size=None if message.value is None else len(message.value),
        original_value_sha256=None if message.value is None else hashlib.sha256(message.value).hexdigest(),
        original_value_truncated=message.value is not None and len(message.value) > max_original_bytes,
        original_headers=[OriginalHeader(key=_text(k), value_b64=_b64(v)) for k, v in message.headers],
        attempts=attempts,
    )


def original_value(record: DeadLetterV1) -> bytes | None:
    return None if record.original_value_b64 is None else base64.b64decode(record.original_value_b64)


def original_key(record: DeadLetterV1) -> bytes | None:
    return None if record.original_key_b64 is None else base64.b64decode(record.original_key_b64)
