"""Upcasters for raw_turn: each turns version N into version N+1, so any old event still flows."""

from __future__ import annotations

from schemas._base import Channel, Role
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2

_V1_SPEAKERS = {
    "customer": Role.CUSTOMER, "caller": Role.CUSTOMER, "client": Role.CUSTOMER,
    "agent": Role.AGENT, "rep": Role.AGENT, "representative": Role.AGENT,
    "bot": Role.BOT, "ivr": Role.BOT, "assistant": Role.BOT,
}
_V1_MEDIA = {"phone": Channel.VOICE, "voice": Channel.VOICE, "chat": Channel.CHAT, "email": Channel.EMAIL}


class UpcastError(ValueError):
    """An old-version event carries a value that has no meaning in the new version."""


def raw_turn_v1_to_v2(old: RawTurnV1) -> RawTurnV2:
    role = _V1_SPEAKERS.get(old.speaker.strip().lower())
    if role is None:
        raise UpcastError(f"speaker {old.speaker!r} is not one of {sorted(_V1_SPEAKERS)}")
    channel = _V1_MEDIA.get(old.medium.strip().lower())
    if channel is None:
        raise UpcastError(f"medium {old.medium!r} is not one of {sorted(_V1_MEDIA)}")
    return RawTurnV2(
        event_id=old.event_id,
        occurred_at=old.occurred_at,
        produced_at=old.produced_at,
        producer=old.producer,
        conversation_id=old.conversation_id,
        turn_index=old.turn_index,
        role=role,
        text=old.text,
        # v1 recorded only the end of a turn: a zero-length turn is the honest translation.
        started_at=old.timestamp,
        ended_at=old.timestamp,
        channel=channel,
        language=None,
        tenant_id=old.tenant,
        metadata=dict(old.metadata),
    )
