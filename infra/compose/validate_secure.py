#!/usr/bin/env python3
"""Offline check of the secure compose profile (docker-compose.yml + infra/compose/docker-compose.secure.yml).

1. The override alone, and the two files merged as `docker compose -f ... -f ...` merges them, against the
   Compose Specification schema and the Sluice rules of validate.py.
2. Security rules: every container that talks to Kafka uses SASL_SSL with a username, a password file and a
   CA file, never a password in its environment; a service runs as the principal of its own name (the ACLs are
   per service) and mounts only its own credentials; Kafka runs the secure entrypoint; the ACL job runs before
   every service; every secret used is declared.
3. If a `docker-compose` binary is on PATH, `docker-compose -f BASE -f OVERRIDE config -q` as well.

Prints ``compose (secure): OK (N services)``, or one ``compose (secure): ...`` line per problem and exits 1.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_BASE = HERE.parents[1] / "docker-compose.yml"
DEFAULT_OVERRIDE = HERE / "docker-compose.secure.yml"
SECURE_ENTRYPOINT = "kafka_secure_entrypoint.sh"
ADMIN_JOBS = {"topics", "acls"}  # Sluice containers that act as the super user
# Sequences an override replaces instead of extending (Compose merge rules).
REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def _load_base_validator():
    spec = importlib.util.spec_from_file_location("sluice_compose_validate", HERE / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


base_validator = _load_base_validator()


def _volume_target(mount: Any) -> Any:
    if isinstance(mount, dict):
        return mount.get("target")
    parts = str(mount).split(":")
    return parts[1] if len(parts) >= 2 else parts[0]


def merge(base: Any, override: Any, key: str = "") -> Any:
    """`override` applied to `base` as Compose applies a later -f file: mappings merge, volumes merge by
    target, command/entrypoint/healthcheck test are replaced, other sequences are extended."""
    if isinstance(base, dict) and isinstance(override, dict):
        result = dict(base)
        for name, value in override.items():
            result[name] = merge(base[name], value, str(name)) if name in base else copy.deepcopy(value)
        return result
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED_SEQUENCES:
        if key == "volumes":
            targets = {_volume_target(m) for m in override}
            return [m for m in base if _volume_target(m) not in targets] + copy.deepcopy(override)
        return base + [item for item in override if item not in base]
    return copy.deepcopy(override)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in map(str, env))
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _credential_subpaths(service: dict[str, Any]) -> set[str]:
    return {str((m.get("volume") or {}).get("subpath")) for m in service.get("volumes") or []
            if isinstance(m, dict) and m.get("source") == "sluice-credentials"}


def security_problems(doc: dict[str, Any]) -> list[str]:
    services = doc.get("services") or {}
    problems: list[str] = []
    secrets = set((doc.get("secrets") or {}).keys())
    kafka = services.get("kafka") or {}
    if SECURE_ENTRYPOINT not in " ".join(map(str, kafka.get("entrypoint") or [])):
        problems.append(f"service kafka: does not run infra/security/{SECURE_ENTRYPOINT} (it would start PLAINTEXT)")
    for name, svc in services.items():
        for secret in svc.get("secrets") or []:
            source = secret.get("source") if isinstance(secret, dict) else secret
            if source not in secrets:
                problems.append(f"service {name}: uses secret {source!r}, not declared under top-level secrets")
        env = _environment(svc)
        if "SLUICE_BOOTSTRAP_SERVERS" not in env:
            continue
        if env.get("SLUICE_SECURITY_PROTOCOL") != "SASL_SSL":
            problems.append(f"service {name}: talks to Kafka without SLUICE_SECURITY_PROTOCOL: SASL_SSL")
            continue
        for required in ("SLUICE_SASL_USERNAME", "SLUICE_SASL_PASSWORD_FILE", "SLUICE_SSL_CAFILE"):
            if not env.get(required):
                problems.append(f"service {name}: SASL_SSL without {required}")
        if "SLUICE_SASL_PASSWORD" in env:
            problems.append(f"service {name}: a password in the environment; use SLUICE_SASL_PASSWORD_FILE")
        user = env.get("SLUICE_SASL_USERNAME", "")
        command = [str(part) for part in svc.get("command") or []]
        if command[:1] == ["run"] and command[1:2] != [user]:
            problems.append(f"service {name}: runs {' '.join(command)} as Kafka user {user!r}; the ACLs are per "
                            f"service, so it must log in as {command[1] if len(command) > 1 else '?'}")
        if command[:1] != ["run"] and name not in ADMIN_JOBS and user == "admin":
            problems.append(f"service {name}: logs in as the super user admin; only {sorted(ADMIN_JOBS)} may")
        if _credential_subpaths(svc) != {user}:
            problems.append(f"service {name}: must mount exactly its own credentials (sluice-credentials subpath "
                            f"{user!r}), mounts {sorted(_credential_subpaths(svc)) or 'none'}")
        if command[:1] == ["run"]:
            condition = (base_validator._depends_on(svc)).get("acls")
            if condition != "service_completed_successfully":
                problems.append(f"service {name}: must wait for the acls job (service_completed_successfully)")
    return problems


def cli_problems(base: Path, override: Path) -> list[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        return []
    try:
        result = subprocess.run([binary, "-f", str(base), "-f", str(override), "config", "-q"], capture_output=True,
                                text=True, timeout=base_validator.CLI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"docker-compose config could not run: {exc}"]
    if result.returncode != 0:
        return [f"docker-compose config: {line}" for line in (result.stderr or result.stdout).strip().splitlines()]
    return []


def validate(base: Path, override: Path, run_cli: bool = True) -> tuple[list[str], int]:
    try:
        base_doc = base_validator.load_compose(base)
        override_doc = base_validator.load_compose(override)
    except base_validator.ComposeLoadError as exc:
        return [str(exc)], 0
    schema = base_validator.load_schema()
    problems = [f"{override.name}: {p}" for p in base_validator.schema_problems(override_doc, schema)]
    merged = merge(base_doc, override_doc)
    problems += base_validator.schema_problems(merged, schema)
    problems += base_validator.sluice_problems(merged)
    problems += security_problems(merged)
    if run_cli:
        problems += cli_problems(base, override)
    return problems, len(merged.get("services") or {})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="base compose file (default: %(default)s)")
    parser.add_argument("--override", type=Path, default=DEFAULT_OVERRIDE, help="override (default: %(default)s)")
    parser.add_argument("--no-cli", action="store_true", help="do not run docker-compose even if it is installed")
    args = parser.parse_args(argv)
    return base_validator.report("compose (secure)", *validate(args.base, args.override, run_cli=not args.no_cli))


if __name__ == "__main__":
    sys.exit(main())
