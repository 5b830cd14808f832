"""Settings every service shares (connectivity, tracing, limits), read from SLUICE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    delivery: Literal["exactly_once", "at_least_once"] = Field(
        default="exactly_once",
        description="exactly_once (default): each record's outputs, dead letters, state entries and source offset "
        "commit together in one Kafka transaction every transaction_interval_ms (readers use "
        "isolation_level=read_committed), so a crash neither loses nor repeats anything on any topic. "
        "at_least_once: outputs are confirmed before the offset commits, no transactions and no added latency; a "
        "crash may republish a record with the same event id and content, which readers drop. Every service of "
        "a deployment must use the same mode.",
    )
    transaction_interval_ms: int = Field(
        default=100, ge=5, le=10_000,
        description="exactly_once: how often the open transaction commits. Each hop adds up to this much latency; "
        "shorter intervals cost more broker round trips per record.",
    )
    instance_id: str = Field(
        default="0", pattern=r"^[A-Za-z0-9._-]+$",
        description="Stable identity of this service instance: its transactional id is "
        "<namespace>.<service>.<instance_id>, so a restarted instance fences its crashed predecessor and aborts "
        "its open transaction at once. Give each replica of a service its own, stable value.",
    )
    static_membership: bool = Field(
        default=True,
        description="Join the consumer group as a static member (KIP-345, group.instance.id "
        "<service>.<instance_id>): a restarted instance gets its partitions back at once instead of after the "
        "dead one's session timeout (fault suite: killed stages caught up in 3.7-5.3 s instead of 8.1-11.4 s), "
        "and a graceful restart does not rebalance the group. Needs a distinct instance_id per replica (a "
        "duplicate fences the other); a replica removed for good holds its partitions until session_timeout_s passes. false: dynamic "
        "membership.",
    )
    trace_exporter: Literal["none", "console", "otlp", "file"] = Field(
        default="none", description="Where spans go: nowhere, stdout, an OTLP/HTTP collector (otlp_endpoint), "
        "or JSON lines in trace_file."
    )
    otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318/v1/traces", description="OTLP/HTTP traces endpoint when trace_exporter=otlp."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    trace_file: Path | None = Field(
        default=None, description="File the `file` trace exporter appends spans to, one JSON object per line "
        "(trace_id, span_id, parent_span_id, name, service, start_ns, end_ns, attributes, links); `{service}` in "
        "the path becomes the service name. Required when trace_exporter=file."
    )
    security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to Kafka: PLAINTEXT (the local default) or SASL_SSL "
        "(the secure profile: TLS plus a SASL login; see services/runtime/kafka_security.py)."
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when security_protocol=SASL_SSL."
    )
    sasl_username: str | None = Field(
        default=None, description="SASL user (the Kafka principal User:<name>); services use their own name, "
        "e.g. ingestion. Required when security_protocol=SASL_SSL."
    )
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password. Wins over sasl_password_file when both are set; prefer the "
        "file (a docker secret) so the password stays out of the process environment."
    )
    sasl_password_file: Path | None = Field(
        default=None, description="File holding the SASL password (trailing newline ignored), e.g. "
        "/run/secrets/<service>_password; used when sasl_password is not set."
    )
    ssl_cafile: Path | None = Field(
        default=None, description="PEM CA bundle that signed the broker certificate (the secure profile's "
        ".data/security/certs/ca.pem); unset means the system's trusted CAs."
    )
