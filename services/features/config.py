"""Features settings, from SLUICE_FEATURES_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeaturesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_FEATURES_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the health and metrics endpoint binds to.")
    http_port: int = Field(default=8082, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics.")
    triton_url: str = Field(default="127.0.0.1:18001", description="Triton gRPC address (host:port).")
    ner_model: str = Field(default="pii_ner", description="Triton model that tags personal data (names, addresses).")
    ner_model_version: str = Field(default="", description="Version of the NER model; empty = Triton's latest.")
    ner_timeout_s: float = Field(default=10.0, gt=0, description="Deadline of one NER request to Triton.")
    injection_enabled: bool = Field(
        default=True, description="Score prompt injection on the original text of turns by injection_roles."
    )
    injection_roles: tuple[str, ...] = Field(
        default=("customer",), description="Roles whose turns are scored for prompt injection (JSON list)."
    )
    embedding_model: str = Field(default="embedding", description="Triton model that embeds the text to score.")
    injection_model: str = Field(default="injection", description="Triton model: embedding -> attack probability.")
    injection_model_version: str = Field(default="1", description="Version of the injection model.")
    injection_timeout_s: float = Field(default=10.0, gt=0, description="Deadline of one embedding/injection request.")
    batch_max_size: int = Field(default=32, ge=1, le=64, description="Most turns sent to Triton in one request.")
    batch_max_wait_ms: float = Field(
        default=5.0, ge=0, description="How long a partial batch waits for more turns; adds at most this latency."
    )
    context_turns: int = Field(
        default=3, ge=0, le=10, description="Earlier turns of a conversation carried as context to the models."
    )
    conversation_ttl_s: float = Field(
        default=86_400.0, gt=0,
        description="Conversation state is forgotten this long after its last turn (restored across restarts).",
    )
