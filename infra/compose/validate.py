#!/usr/bin/env python3
"""Offline check of docker-compose.yml; needs no Docker engine.

1. Validates the file against the vendored Compose Specification schema (compose-spec.json,
   provenance in README.md beside this file).
2. Checks Sluice rules the schema cannot express (see ``sluice_problems``).
3. Checks the observability wiring and the files it mounts (see ``observability_problems``): the OTLP
   endpoint, the collector's trace pipeline, Prometheus scraping every service, and that every Grafana
   dashboard parses and queries only metrics the runtime exposes (services/runtime/metrics.py).
4. If a ``docker-compose`` binary is on PATH, also runs ``docker-compose -f FILE config -q``.

Prints ``compose: OK (N services)``, or one ``compose: ...`` line per problem and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_COMPOSE = REPO_ROOT / "docker-compose.yml"
DEFAULT_SCHEMA = HERE / "compose-spec.json"

SLUICE_IMAGE = "sluice:dev"
SLUICE_REPOSITORY = "sluice"
SLUICE_BUILD_CONTEXT = "."
# restart policies under which a container that exits is not started again
ONE_SHOT_RESTARTS = {"no", "on-failure"}
# A long-running service whose image cannot probe itself (no shell, no HTTP client) says so, with the reason,
# under this extension key instead of a healthcheck; nothing may wait for it to be service_healthy.
HEALTHCHECK_EXEMPT_KEY = "x-healthcheck-exempt"
CLI_TIMEOUT_S = 60


class ComposeLoadError(Exception):
    """The file cannot be read as a YAML mapping."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently; Compose v2
    refuses the file). Keys brought in by a ``<<`` merge may be overridden, as YAML intends."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let the base class report it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_compose(path: Path) -> dict[str, Any]:
    """Read a compose file, resolving anchors and ``<<`` merges."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ComposeLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        if problem and mark is not None:
            detail = f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        else:
            detail = " ".join(str(exc).split())
        raise ComposeLoadError(f"{path.name} is not valid YAML: {detail}") from exc
    if not isinstance(doc, dict):
        raise ComposeLoadError(f"{path.name} must be a YAML mapping, got {type(doc).__name__}")
    return doc


def load_schema(path: Path = DEFAULT_SCHEMA) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


# --- 1. the Compose Specification schema -------------------------------------------------------


def _where(error: ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _shorten(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_problems(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per schema violation, using whichever JSON Schema draft the schema declares."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    paths = [tuple(e.absolute_path) for e in errors]
    problems = []
    for error in errors:
        here = tuple(error.absolute_path)
        # A service is `allOf` + `unevaluatedProperties: false`, so an error inside one property
        # also marks every property of that allOf branch "unexpected". Report the inner error only.
        if error.validator == "unevaluatedProperties" and any(
            len(p) > len(here) and p[: len(here)] == here for p in paths
        ):
            continue
        # for oneOf/anyOf failures, report the branch that came closest instead of the union
        if error.context:
            error = best_match(error.context) or error
        problems.append(f"schema: {_where(error)}: {_shorten(error.message)}")
    return problems


# --- 2. Sluice rules ---------------------------------------------------------------------------


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {target: condition}; the short (list) form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(name): "service_started" for name in deps}
    if isinstance(deps, dict):
        result = {}
        for name, spec in deps.items():
            condition = spec.get("condition") if isinstance(spec, dict) else None
            result[str(name)] = condition or "service_started"
        return result
    return {}


def _build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return build
    if isinstance(build, dict):
        return str(build.get("context", "."))
    return None


def _same_context(context: str) -> bool:
    return os.path.normpath(context) == os.path.normpath(SLUICE_BUILD_CONTEXT)


def _repository(image: str) -> str:
    """Last path segment of an image reference without tag or digest: a/b/sluice:dev -> sluice."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def _has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    if test is None:
        return False
    if isinstance(test, list):
        return bool(test) and str(test[0]).upper() != "NONE"
    return bool(str(test).strip())


def _restart(service: dict[str, Any]) -> str | None:
    restart = service.get("restart")
    if restart is None:
        return None
    if restart is False:  # an unquoted YAML 1.1 `no`
        return "no"
    return str(restart).split(":", 1)[0]


def _named_volume_sources(service: dict[str, Any]) -> Iterable[str]:
    for mount in service.get("volumes") or []:
        if isinstance(mount, str):
            parts = mount.split(":")
            source = parts[0]
            if len(parts) >= 2 and source and not source.startswith((".", "/", "~", "$")):
                yield source
        elif isinstance(mount, dict) and mount.get("type", "volume") == "volume" and mount.get("source"):
            yield str(mount["source"])


def _published_ports(service: dict[str, Any]) -> Iterable[str]:
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published") is not None:
                yield f"{port.get('host_ip', '')}:{port['published']}/{port.get('protocol', 'tcp')}"
            continue
        text = str(port)
        proto = "tcp"
        if "/" in text:
            text, proto = text.rsplit("/", 1)
        parts = text.rsplit(":", 2)
        if len(parts) == 3:
            yield f"{parts[0].strip('[]')}:{parts[1]}/{proto}"
        elif len(parts) == 2 and parts[0]:
            yield f":{parts[0]}/{proto}"


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt in graph and nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def sluice_problems(doc: dict[str, Any]) -> list[str]:
    """Rules of this project that the Compose schema does not express."""
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        return ["no services defined"]
    services = {name: svc if isinstance(svc, dict) else {} for name, svc in services.items()}
    problems: list[str] = []

    deps = {name: _depends_on(svc) for name, svc in services.items()}
    completion_targets = {t for d in deps.values() for t, cond in d.items() if cond == "service_completed_successfully"}

    def is_one_shot(name: str) -> bool:
        return _restart(services[name]) == "no" or name in completion_targets

    # The Sluice image: built from the repo root and tagged sluice:dev.
    builds_sluice = False
    image_only_users = []
    for name, svc in services.items():
        context = _build_context(svc)
        build = svc.get("build")
        if isinstance(build, dict) and build.get("dockerfile", "Dockerfile") != "Dockerfile":
            continue  # another image built from the repo (e.g. infra/triton/Dockerfile), not the Sluice one
        image = svc.get("image")
        uses_sluice_image = (context is not None and _same_context(context)) or (
            isinstance(image, str) and _repository(image) == SLUICE_REPOSITORY
        )
        if not uses_sluice_image:
            continue
        if context is not None and not _same_context(context):
            problems.append(
                f"service {name}: runs the Sluice image but builds from {context!r}; use build: {SLUICE_BUILD_CONTEXT}"
            )
        if image is not None and image != SLUICE_IMAGE:
            problems.append(f"service {name}: Sluice image must be tagged image: {SLUICE_IMAGE}, not {image!r}")
        if context is not None and _same_context(context) and image == SLUICE_IMAGE:
            builds_sluice = True
        elif context is None and image == SLUICE_IMAGE:
            image_only_users.append(name)
        if not svc.get("command"):
            problems.append(
                f"service {name}: Sluice service without a command (the image's entrypoint is `sluice`, "
                'which needs one, e.g. ["run", "<service>"])'
            )
    if image_only_users and not builds_sluice:
        problems.append(
            f"image {SLUICE_IMAGE} is used by {', '.join(image_only_users)} but no service builds it "
            f"(build: {SLUICE_BUILD_CONTEXT} with image: {SLUICE_IMAGE})"
        )

    # depends_on targets exist and can deliver the condition asked for.
    for name, targets in deps.items():
        for target, condition in targets.items():
            if target not in services:
                problems.append(f"service {name}: depends_on {target!r}, which is not a defined service")
                continue
            if target == name:
                problems.append(f"service {name}: depends on itself")
            if condition == "service_healthy" and not _has_healthcheck(services[target]):
                problems.append(
                    f"service {name}: waits for {target} to be service_healthy, but {target} has no healthcheck"
                )
            if condition == "service_completed_successfully" and _restart(services[target]) not in (
                *ONE_SHOT_RESTARTS,
                None,
            ):
                problems.append(
                    f"service {name}: waits for {target} to complete, but {target} has "
                    f"restart: {services[target].get('restart')} (use restart: \"no\")"
                )
    cycle = _find_cycle({name: [t for t in d if t in services and t != name] for name, d in deps.items()})
    if cycle:
        problems.append(f"depends_on cycle: {' -> '.join(cycle)}")

    # Long-running services must report health; one-shot jobs report by exiting.
    for name, svc in services.items():
        exempt = str(svc.get(HEALTHCHECK_EXEMPT_KEY) or "").strip()
        if not is_one_shot(name) and not _has_healthcheck(svc) and not exempt:
            problems.append(f'service {name}: no healthcheck (only one-shot jobs, restart: "no", may go without; '
                            f'an image that cannot probe itself says why under {HEALTHCHECK_EXEMPT_KEY})')
        if exempt and _has_healthcheck(svc):
            problems.append(f"service {name}: has a healthcheck and {HEALTHCHECK_EXEMPT_KEY}; drop one")

    # Named volumes are declared; host ports are not published twice.
    declared_volumes = set((doc.get("volumes") or {}).keys()) if isinstance(doc.get("volumes"), dict) else set()
    published: dict[str, str] = {}
    for name, svc in services.items():
        for source in _named_volume_sources(svc):
            if source not in declared_volumes:
                problems.append(f"service {name}: mounts volume {source!r}, which is not declared under top-level volumes")
        for port in _published_ports(svc):
            host_ip, _, rest = port.partition(":")
            key = rest if not host_ip or host_ip in {"0.0.0.0", "::"} else port
            if key in published and published[key] != name:
                problems.append(f"service {name}: publishes host port {rest}, already published by {published[key]}")
            published.setdefault(key, name)
    return problems


# --- 3. observability: traces, metrics and dashboards ------------------------------------------

# Metrics of other components that dashboards may query (Triton's own, on its metrics port).
EXTERNAL_METRICS = {
    "up", "nv_inference_count", "nv_inference_exec_count", "nv_inference_request_success",
    "nv_inference_request_failure", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
    "nv_inference_compute_infer_duration_us",
}
# What the dashboards must show between them: metric (and, where given, a label value in the same query).
REQUIRED_DASHBOARD_QUERIES = {
    "throughput consumed": ("sluice_messages_consumed_total", None),
    "throughput produced": ("sluice_messages_produced_total", None),
    "consumer lag": ("sluice_consumer_lag_messages", None),
    "stage latency": ("sluice_stage_latency_seconds_bucket", None),
    "guardrail verdicts": ("sluice_decisions_total", 'service="guardrails"'),
    "drift alerts": ("sluice_messages_produced_total", 'topic="drift.alerts"'),
}
_METRIC_NAME = re.compile(r"\b((?:sluice|nv)_[A-Za-z0-9_]+|up)\b(?!\s*[=!~(])")
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
             "summary": ("", "_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",)}


def exposed_metrics() -> set[str]:
    """Every sample name a Sluice service exposes on /metrics, from services/runtime/metrics.py itself."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from services.runtime.metrics import ServiceMetrics

    names: set[str] = set()
    for family in ServiceMetrics("compose-validate").registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in map(str, env))
    env = {str(k): "" if v is None else str(v) for k, v in env.items()}
    # `${VAR:-default}` / `${VAR-default}`: judged by the default, i.e. what runs unless the host overrides it
    return {k: re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", v) for k, v in env.items()}


def _bind_mounts(service: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(host source, container target) of every bind mount given by a relative or absolute path."""
    for mount in service.get("volumes") or []:
        if isinstance(mount, str):
            parts = mount.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/")):
                yield parts[0], parts[1]
        elif isinstance(mount, dict) and mount.get("type") == "bind" and mount.get("source"):
            yield str(mount["source"]), str(mount.get("target", ""))


def _mounted_file(services: dict[str, Any], name: str, target: str, base: Path) -> Path | None:
    for source, mounted_at in _bind_mounts(services.get(name) or {}):
        if mounted_at.rstrip("/") == target.rstrip("/"):
            return (base / source).resolve()
    return None


class _BadFile(Exception):
    pass


def _load_yaml_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _BadFile(f"{path.name} cannot be read as YAML: {' '.join(str(exc).split())}") from exc


def _host(endpoint: str) -> str:
    return re.sub(r"^[a-z]+://", "", endpoint).split("/", 1)[0].rsplit(":", 1)[0]


def _panels(panels: list[Any]) -> Iterable[dict[str, Any]]:
    for panel in panels or []:
        if isinstance(panel, dict):
            yield panel
            yield from _panels(panel.get("panels") or [])


def dashboard_problems(path: Path, known_metrics: set[str], datasource_uids: set[str]) -> list[str]:
    """A dashboard JSON parses, its panels have unique ids, use provisioned data sources and query only
    metrics that exist."""
    try:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"dashboard {path.name}: not valid JSON: {exc}"]
    if not isinstance(dashboard, dict) or not dashboard.get("uid") or not dashboard.get("title"):
        return [f"dashboard {path.name}: needs a uid and a title"]
    problems = []
    ids: set[Any] = set()
    for panel in _panels(dashboard.get("panels") or []):
        title = panel.get("title", "?")
        if panel.get("id") in ids:
            problems.append(f"dashboard {path.name}: panel id {panel.get('id')} used twice")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"dashboard {path.name}: panel {title!r} has no query")
        for source in [panel.get("datasource")] + [t.get("datasource") for t in targets]:
            uid = source.get("uid") if isinstance(source, dict) else None
            if uid is not None and uid not in datasource_uids and not str(uid).startswith("$"):
                problems.append(f"dashboard {path.name}: panel {title!r} uses data source {uid!r}, "
                                f"which is not provisioned ({', '.join(sorted(datasource_uids)) or 'none'})")
        for target in targets:
            expr = str(target.get("expr") or "")
            metrics = set(_METRIC_NAME.findall(re.sub(r"\{[^}]*\}", "{}", expr)))
            if not metrics:
                problems.append(f"dashboard {path.name}: panel {title!r} query {target.get('refId')} names no metric")
            for metric in sorted(metrics - known_metrics - EXTERNAL_METRICS):
                problems.append(f"dashboard {path.name}: panel {title!r} queries {metric}, which "
                                "services/runtime/metrics.py does not expose")
    return problems


def _queries(path: Path) -> list[str]:
    try:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [str(t.get("expr") or "") for p in _panels(dashboard.get("panels") or []) for t in p.get("targets") or []]


def observability_problems(doc: dict[str, Any], compose_path: Path) -> list[str]:
    """Traces reach a collector that forwards them, Prometheus scrapes every service, and the Grafana
    dashboards parse and query metrics that exist. Parts whose service the file lacks are skipped."""
    try:
        return _observability_problems(doc, compose_path)
    except _BadFile as exc:
        return [str(exc)]


def _observability_problems(doc: dict[str, Any], compose_path: Path) -> list[str]:
    services = doc.get("services")
    if not isinstance(services, dict):
        return []
    base = compose_path.resolve().parent
    problems: list[str] = []

    for name, svc in services.items():
        for source, _ in _bind_mounts(svc if isinstance(svc, dict) else {}):
            if not (base / source).exists():
                problems.append(f"service {name}: mounts {source}, which does not exist")

    sluice_ports: dict[str, str] = {}  # Sluice service -> its HTTP (metrics) port
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        env = _environment(svc)
        command = svc.get("command") or []
        if isinstance(command, list) and len(command) == 2 and command[0] == "run":
            port = env.get(f"SLUICE_{str(command[1]).upper()}_HTTP_PORT")
            if port:
                sluice_ports[name] = port
        if env.get("SLUICE_TRACE_EXPORTER") == "otlp":
            endpoint = env.get("SLUICE_OTLP_ENDPOINT", "")
            if _host(endpoint) not in services:
                problems.append(f"service {name}: exports traces to {endpoint or '(default endpoint)'}, "
                                "which is not a service of this file")

    collector = _mounted_file(services, "otel-collector", "/etc/otelcol-contrib/config.yaml", base)
    if "otel-collector" in services:
        if collector is None or not collector.is_file():
            problems.append("service otel-collector: no config mounted at /etc/otelcol-contrib/config.yaml")
        else:
            config = _load_yaml_file(collector) or {}
            pipeline = ((config.get("service") or {}).get("pipelines") or {}).get("traces") or {}
            if "otlp" not in (pipeline.get("receivers") or []):
                problems.append("otel-collector: the traces pipeline does not receive otlp")
            exporters = config.get("exporters") or {}
            for exporter in pipeline.get("exporters") or ["(none)"]:
                endpoint = str((exporters.get(exporter) or {}).get("endpoint", ""))
                if _host(endpoint) not in services:
                    problems.append(f"otel-collector: traces exporter {exporter} sends to {endpoint or '(nowhere)'}, "
                                    "which is not a service of this file")

    prometheus = _mounted_file(services, "prometheus", "/etc/prometheus/prometheus.yml", base)
    if "prometheus" in services:
        if prometheus is None or not prometheus.is_file():
            problems.append("service prometheus: no config mounted at /etc/prometheus/prometheus.yml")
        else:
            config = _load_yaml_file(prometheus) or {}
            targets = {str(t) for job in config.get("scrape_configs") or []
                       for static in job.get("static_configs") or [] for t in static.get("targets") or []}
            wanted = {f"{name}:{port}" for name, port in sluice_ports.items()}
            triton = services.get("triton") or {}
            for arg in triton.get("command") or []:
                if str(arg).startswith("--metrics-port="):
                    wanted.add(f"triton:{str(arg).split('=', 1)[1]}")
            for target in sorted(wanted - targets):
                problems.append(f"prometheus: does not scrape {target} (a service's metrics port)")
            for target in sorted(targets - wanted - {"localhost:9090"}):
                if _host(target) not in services:
                    problems.append(f"prometheus: scrapes {target}, which is not a service of this file")

    if "grafana" in services:
        provisioning = _mounted_file(services, "grafana", "/etc/grafana/provisioning", base)
        dashboards = _mounted_file(services, "grafana", "/var/lib/grafana/dashboards", base)
        uids: set[str] = set()
        if provisioning is None or not (provisioning / "datasources").is_dir():
            problems.append("service grafana: no provisioning (datasources) mounted at /etc/grafana/provisioning")
        else:
            for file in sorted((provisioning / "datasources").glob("*.y*ml")):
                for source in (_load_yaml_file(file) or {}).get("datasources") or []:
                    uids.add(str(source.get("uid")))
                    if source.get("type") == "prometheus" and _host(str(source.get("url", ""))) not in services:
                        problems.append(f"grafana: data source {source.get('name')} points at {source.get('url')}, "
                                        "which is not a service of this file")
        files = sorted(dashboards.glob("*.json")) if dashboards is not None and dashboards.is_dir() else []
        if not files:
            problems.append("service grafana: no dashboards (*.json) mounted at /var/lib/grafana/dashboards")
        known = exposed_metrics()
        for file in files:
            problems += dashboard_problems(file, known, uids)
        queries = [q for file in files for q in _queries(file)]
        for what, (metric, label) in REQUIRED_DASHBOARD_QUERIES.items():
            if not any(metric in q and (label is None or label in q) for q in queries):
                problems.append(f"dashboards: nothing shows {what} ({metric}{'{' + label + '}' if label else ''})")
    return problems


# --- 4. the docker-compose CLI, when there is one ----------------------------------------------


def cli_problems(path: Path) -> list[str]:
    """``docker-compose -f FILE config -q`` if a docker-compose binary is installed; else nothing."""
    exe = shutil.which("docker-compose")
    if exe is None:
        return []
    path = path.resolve()
    try:
        proc = subprocess.run(
            [exe, "-f", str(path), "config", "-q"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"docker-compose config: could not run {exe}: {exc}"]
    if proc.returncode == 0:
        return []
    lines = [line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    return [f"docker-compose config: {line}" for line in lines[:10]] or [
        f"docker-compose config: exited {proc.returncode}"
    ]


# --- entry point -------------------------------------------------------------------------------


def validate(path: Path, schema_path: Path = DEFAULT_SCHEMA, run_cli: bool = True) -> tuple[list[str], int]:
    """Return (problems, number of services)."""
    try:
        doc = load_compose(path)
    except ComposeLoadError as exc:
        return [str(exc)], 0
    problems = schema_problems(doc, load_schema(schema_path))
    problems += sluice_problems(doc)
    problems += observability_problems(doc, path)
    if run_cli:
        problems += cli_problems(path)
    services = doc.get("services")
    return problems, len(services) if isinstance(services, dict) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_COMPOSE, help="compose file (default: %(default)s)")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="JSON Schema (default: %(default)s)")
    parser.add_argument("--no-cli", action="store_true", help="do not run docker-compose even if it is installed")
    args = parser.parse_args(argv)

    return report("compose", *validate(args.file, args.schema, run_cli=not args.no_cli))


def report(label: str, problems: list[str], n_services: int) -> int:
    """Print the problems (or OK) under `label`; the exit status for them."""
    for problem in problems:
        print(f"{label}: {problem}")
    if problems:
        return 1
    print(f"{label}: OK ({n_services} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
