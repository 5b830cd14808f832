#!/usr/bin/env python3
"""Offline check of docker-compose.yml; needs no Docker engine.

1. Validates the file against the vendored Compose Specification schema (compose-spec.json,
   provenance in README.md beside this file).
2. Checks Sluice rules the schema cannot express (see ``sluice_problems``).
3. If a ``docker-compose`` binary is on PATH, also runs ``docker-compose -f FILE config -q``.

Prints ``compose: OK (N services)``, or one ``compose: ...`` line per problem and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
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
        if not is_one_shot(name) and not _has_healthcheck(svc):
            problems.append(f'service {name}: no healthcheck (only one-shot jobs, restart: "no", may go without)')

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


# --- 3. the docker-compose CLI, when there is one ----------------------------------------------


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

    problems, n_services = validate(args.file, args.schema, run_cli=not args.no_cli)
    if problems:
        for problem in problems:
            print(f"compose: {problem}")
        return 1
    print(f"compose: OK ({n_services} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
