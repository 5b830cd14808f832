"""The compose observability stack (OpenTelemetry collector, Jaeger, Prometheus, Grafana) is checked offline
by infra/compose/validate.py: the repo's files pass, and copies broken in one place are refused."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
OBSERVABILITY = REPO_ROOT / "infra" / "observability"
DASHBOARD = Path("infra/observability/grafana/dashboards/sluice-pipeline.json")


def _load_validate():
    spec = importlib.util.spec_from_file_location("sluice_compose_validate_obs", REPO_ROOT / "infra/compose/validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _copy(tmp_path: Path, mutate_compose: Callable[[dict], None] = lambda doc: None,
          mutate_files: Callable[[Path], None] = lambda root: None) -> Path:
    """The compose file and infra/observability copied under tmp_path (mounts are relative), then broken."""
    shutil.copytree(OBSERVABILITY, tmp_path / "infra" / "observability")
    doc = copy.deepcopy(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))
    mutate_compose(doc)
    mutate_files(tmp_path)
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False), encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    problems, _ = validate.validate(path, run_cli=False)
    return problems


def _edit_dashboard(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / DASHBOARD
        dashboard = json.loads(path.read_text())
        edit(dashboard)
        path.write_text(json.dumps(dashboard))
    return mutate


def _panel(dashboard: dict, title_start: str) -> dict:
    return next(p for p in dashboard["panels"] if p["title"].startswith(title_start))


def test_the_repo_stack_passes_and_every_service_exports_traces_to_the_collector(tmp_path):
    assert _problems(_copy(tmp_path)) == []
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert {"otel-collector", "jaeger", "prometheus", "grafana"} <= set(services)
    for name in ("ingestion", "features", "inference", "guardrails", "feedback", "drift"):
        env = services[name]["environment"]
        assert env["SLUICE_TRACE_EXPORTER"] == "${SLUICE_TRACE_EXPORTER:-otlp}"
        assert env["SLUICE_OTLP_ENDPOINT"] == "http://otel-collector:4318/v1/traces"


def test_the_dashboard_queries_metrics_the_runtime_exposes():
    known = validate.exposed_metrics()
    assert {"sluice_stage_latency_seconds_bucket", "sluice_decisions_total", "sluice_consumer_lag_messages"} <= known
    assert validate.dashboard_problems(REPO_ROOT / DASHBOARD, known, {"prometheus", "jaeger"}) == []


@pytest.mark.parametrize(("mutate_compose", "mutate_files", "expected"), [
    (lambda doc: None,
     _edit_dashboard(lambda d: _panel(d, "Consumer lag")["targets"][0].update(expr="sum(sluice_consumer_lag)")),
     "queries sluice_consumer_lag, which services/runtime/metrics.py does not expose"),
    (lambda doc: None, lambda root: (root / DASHBOARD).write_text('{"uid": "x", '),
     "sluice-pipeline.json: not valid JSON"),
    (lambda doc: None,
     _edit_dashboard(lambda d: d.update(panels=[p for p in d["panels"] if "verdict" not in p["title"].lower()])),
     "nothing shows guardrail verdicts"),
    (lambda doc: None,
     _edit_dashboard(lambda d: _panel(d, "Records consumed")["datasource"].update(uid="prom")),
     "uses data source 'prom', which is not provisioned"),
    (lambda doc: None,
     lambda root: (root / "infra/observability/prometheus.yml").write_text(
         (root / "infra/observability/prometheus.yml").read_text().replace("          - drift:8086\n", "")),
     "prometheus: does not scrape drift:8086"),
    (lambda doc: doc["services"]["drift"]["environment"].update(SLUICE_OTLP_ENDPOINT="http://collector:4318/v1/traces"),
     lambda root: None, "service drift: exports traces to http://collector:4318/v1/traces"),
    (lambda doc: None,
     lambda root: (root / "infra/observability/otel-collector.yaml").write_text(
         (root / "infra/observability/otel-collector.yaml").read_text().replace("jaeger:4317", "tempo:4317")),
     "traces exporter otlp/jaeger sends to tempo:4317"),
    (lambda doc: doc["services"]["jaeger"].pop("x-healthcheck-exempt"), lambda root: None,
     "service jaeger: no healthcheck"),
    (lambda doc: None, lambda root: shutil.rmtree(root / "infra/observability/grafana/provisioning"),
     "mounts ./infra/observability/grafana/provisioning, which does not exist"),
    (lambda doc: None, lambda root: (root / "infra/observability/prometheus.yml").write_text("a: [b"),
     "prometheus.yml cannot be read as YAML"),
], ids=["unknown-metric", "bad-json", "no-verdict-panel", "unknown-datasource", "unscraped-service",
        "otlp-endpoint-not-a-service", "collector-exports-nowhere", "no-healthcheck-no-exemption", "missing-mount",
        "bad-yaml"])
def test_a_broken_stack_is_refused(tmp_path, mutate_compose, mutate_files, expected):
    problems = _problems(_copy(tmp_path, mutate_compose, mutate_files))
    assert any(expected in p for p in problems), problems
