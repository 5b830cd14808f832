"""Guardrails' composition root: wiring only (settings, policy, model contracts, PII detector)."""

from __future__ import annotations

from services.guardrails.config import GuardrailsSettings
from services.guardrails.handlers import Guardrails, make_guardrails_handler
from services.guardrails.policy import load_policy
from services.runtime.model_contracts import load_model_contracts, served_task_labels
from services.runtime.pii import PiiDetector
from services.runtime.service import Route, StreamService
from services.runtime.settings import RuntimeSettings

SERVICE = "guardrails"
SOURCE = "predictions"


def build_guardrails(config: GuardrailsSettings) -> Guardrails:
    contracts = load_model_contracts(config.model_contracts_dir)
    policy = load_policy(config.policy_path, contracts)
    task_labels = served_task_labels(contracts)
    return Guardrails(policy, PiiDetector(), task_labels)


def build_service(
    runtime: RuntimeSettings | None = None, config: GuardrailsSettings | None = None, **overrides
) -> StreamService:
    runtime = runtime or RuntimeSettings()
    config = config or GuardrailsSettings()
    route = Route(SOURCE, make_guardrails_handler(build_guardrails(config)))
    return StreamService(
        name=SERVICE,
        settings=runtime,
        routes=[route],
        http_host=config.http_host,
        http_port=config.http_port,
        **overrides,
    )


def main() -> None:
    build_service().run()
