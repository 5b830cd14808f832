"""Ingestion settings, from SLUICE_INGESTION_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_INGESTION_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the HTTP endpoint (and /metrics) binds to.")
    http_port: int = Field(default=8081, ge=0, le=65535, description="Port of the HTTP endpoint, health and metrics.")
    dedup_window_s: float = Field(
        default=3_600.0, gt=0,
        description="An event id seen within this many seconds is a duplicate (also across restarts). Each id "
        "held costs ~320 bytes of memory: 1 h at 200 turns/s is ~720,000 ids, ~230 MB per process.",
    )
    max_text_chars: int = Field(default=20_000, ge=1, description="Longer turn texts are dead-lettered as oversize.")
    assume_utc_for_naive_times: bool = Field(
        default=True, description="Take timestamps without a UTC offset as UTC (else dead-letter them)."
    )
    max_http_batch: int = Field(default=1000, ge=1, description="Most turns one HTTP request may carry.")
    max_http_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Largest HTTP request body.")
