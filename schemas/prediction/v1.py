"""prediction v1: every model output for one turn, champion and shadow challengers alike."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import Channel, EventModel, Role
from schemas._parts import InjectionSignal, ModelOutput, PiiSpan


class PredictionV1(EventModel):
    """Model outputs for one turn, with what guardrails need to judge them."""

    schema_name: Literal["prediction"] = Field(default="prediction", description="Name of this event's schema.")
    schema_version: Literal[1] = Field(default=1, description="Major version of this event's schema.")
    turn_id: str = Field(description="Id of the turn (raw event id).")
    features_event_id: str = Field(description="event_id of the features event the models read.")
    conversation_id: str = Field(description="Conversation id; also the Kafka key.")
    turn_index: int = Field(ge=0, description="0-based position of the turn in its conversation.")
    role: Role = Field(description="Who spoke or wrote the turn.")
    channel: Channel = Field(description="Medium of the conversation.")
    language: str = Field(description="Canonical BCP 47 tag or 'und'.")
    tenant_id: str = Field(description="Tenant id.")
    redacted_text: str = Field(description="Redacted turn text the models saw.")
    pii: list[PiiSpan] = Field(default_factory=list, description="PII spans found upstream.")
    outputs: list[ModelOutput] = Field(description="One entry per (task, model, deployment).")
    started_at: AwareDatetime | None = Field(default=None, description="When the turn started, in UTC.")
    ended_at: AwareDatetime | None = Field(default=None, description="When the turn ended, in UTC.")
    numeric: dict[str, float] = Field(
        default_factory=dict, description="The features stage's numeric features, passed through for guardrails."
    )
    injection: InjectionSignal | None = Field(
        default=None, description="Prompt-injection signal from the features stage (computed on the original text)."
    )
    embedding_b64: str | None = Field(
        default=None,
        description="Embedding of the redacted turn text as little-endian float16, base64 (384 dims for "
        "all-MiniLM-L6-v2): for drift monitoring and semantic search downstream; never of unredacted text.",
    )
    embedding_model: str | None = Field(default=None, description="'<model>/<version>' that made embedding_b64.")
