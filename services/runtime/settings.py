"""Settings every service shares (connectivity, tracing, limits), read from SLUICE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    """Runtime settings shared by all services; each service adds its own under SLUICE_<SERVICE>_."""

    model_config = SettingsConfigDict(env_prefix="SLUICE_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    namespace: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Prefix of every physical topic and consumer group; defaults to the contract's namespace.",
    )
    contract_path: Path | None = Field(default=None, description="Path of topics.yaml; defaults to contracts/topics.yaml.")
    state_dir: Path = Field(
        default=Path(".data/state"), description="Local directory for service state caches (tables are restored "
        "from their Kafka changelogs, so it may be lost)."
    )
    max_message_bytes: int = Field(
        default=1_048_576, ge=1024, description="Values larger than this are dead-lettered as 'oversize' before parsing."
    )
    max_publish_bytes: int = Field(
        default=4 * 1024 * 1024, ge=65536,
        description="Largest record the producer sends; dead letters keep at most half of it of the original value.",
    )
    producer_linger_ms: int = Field(
        default=0, ge=0, le=1000,
        description="How long the producer waits to fill a batch; 0 = send at once (lowest latency). 5 ms "
        "changed neither throughput nor CPU per event in `make bench` on 2 cores.",
    )
    retry_attempts: int = Field(default=3, ge=1, le=20, description="Handler attempts on a transient fault.")
    retry_backoff_s: float = Field(default=0.05, ge=0, description="First retry delay; doubles per attempt.")
    retry_backoff_max_s: float = Field(default=2.0, ge=0, description="Cap of the retry delay.")
    session_timeout_s: float = Field(
        default=10.0, ge=6.0, le=300.0,
        description="Kafka consumer-group session timeout: how long a dead instance holds its partitions.",
    )
    commit_interval_s: float = Field(default=0.5, gt=0, description="How often acknowledged offsets are committed.")
    trace_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", description="Where spans go: nowhere, stdout, or an OTLP/HTTP collector."
    )
    otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318/v1/traces", description="OTLP/HTTP traces endpoint when trace_exporter=otlp."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
