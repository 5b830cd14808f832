"""Inference settings, from SLUICE_INFERENCE_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_INFERENCE_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the health and metrics endpoint binds to.")
    http_port: int = Field(default=8083, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics.")
    triton_url: str = Field(default="127.0.0.1:18001", description="Triton gRPC address (host:port).")
    model_contracts_dir: Path | None = Field(
        default=None,
        description="Directory of model contracts (<model>.yaml); every contract with a `serving` section runs. "
        "Defaults to contracts/models. A new model or version joins the pipeline by its contract alone.",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Deadline of one Triton request, unless overridden.")
    model_timeouts_s: dict[str, float] = Field(
        default_factory=dict,
        description='Per-model request deadlines in seconds, as JSON, e.g. {"embedding": 5, "intent": 2}.',
    )
    challengers_enabled: bool = Field(
        default=True, description="Run the challenger versions named in the contracts in shadow."
    )
    batch_max_size: int = Field(
        default=32, ge=1, le=32,
        description="Most turns per client micro-batch (an embedding request carries up to two texts per turn, "
        "within the models' max_batch_size of 64).",
    )
    batch_max_wait_ms: float = Field(
        default=5.0, ge=0, description="How long a partial batch waits for more turns; adds at most this latency."
    )
    publish_embedding: bool = Field(
        default=True,
        description="Attach the embedding of the redacted turn text (float16, base64) to each prediction, for "
        "drift monitoring and search downstream (~1 KB per prediction).",
    )
    embedding_model: str = Field(
        default="embedding", description="The `via` model whose output on redacted_text is published."
    )
