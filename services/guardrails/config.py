"""Guardrails settings, from SLUICE_GUARDRAILS_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GuardrailsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLUICE_GUARDRAILS_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Address the health and metrics endpoint binds to.")
    http_port: int = Field(default=8084, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics.")
    policy_path: Path | None = Field(
        default=None,
        description="Guardrail policy file (ordered checks, thresholds, phrases); defaults to "
        "contracts/policies/guardrails.yaml. Validated at start-up; edit it and restart to change behaviour.",
    )
    model_contracts_dir: Path | None = Field(
        default=None,
        description="Directory of model contracts, used to check the policy's tasks and labels and the labels of "
        "model outputs; defaults to contracts/models.",
    )
