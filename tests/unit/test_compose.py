"""docker-compose.yml passes the offline compose check (infra/compose/validate.py), and broken
copies of it are refused. No Docker engine is needed."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
VALIDATE_PY = REPO_ROOT / "infra" / "compose" / "validate.py"


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sluice_compose_validate", VALIDATE_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _write_variant(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> Path:
    doc = copy.deepcopy(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))
    mutate(doc)
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False), encoding="utf-8")
    return path


def test_repo_compose_file_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    rc = validate.main([str(COMPOSE_FILE)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.strip().startswith("compose: OK ("), out

    services = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    assert {"kafka", "topics", "ingestion"} <= set(services)
    assert services["ingestion"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_broken_depends_on_target_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def break_depends_on(doc: dict[str, Any]) -> None:
        deps = doc["services"]["ingestion"]["depends_on"]
        deps["no-such-service"] = deps.pop("topics")

    path = _write_variant(tmp_path, break_depends_on)
    rc = validate.main([str(path), "--no-cli"])
    out = capsys.readouterr().out
    assert rc != 0
    assert "compose: service ingestion: depends_on 'no-such-service', which is not a defined service" in out
    assert "compose: OK" not in out


def _drop_healthcheck(doc: dict[str, Any]) -> None:
    del doc["services"]["ingestion"]["healthcheck"]


def _wrong_tag(doc: dict[str, Any]) -> None:
    doc["services"]["ingestion"]["image"] = "sluice:latest"


def _unknown_key(doc: dict[str, Any]) -> None:
    doc["services"]["kafka"]["healthcheck"]["retires"] = 3


def _undeclared_volume(doc: dict[str, Any]) -> None:
    del doc["volumes"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_healthcheck, "service ingestion: no healthcheck"),
        (_wrong_tag, "service ingestion: Sluice image must be tagged image: sluice:dev"),
        (_unknown_key, "schema: services.kafka.healthcheck: 'retires'"),
        (_undeclared_volume, "service kafka: mounts volume 'kafka-data'"),
    ],
    ids=["no-healthcheck", "wrong-image-tag", "schema-violation", "undeclared-volume"],
)
def test_other_broken_variants_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path = _write_variant(tmp_path, mutate)
    rc = validate.main([str(path), "--no-cli"])
    out = capsys.readouterr().out
    assert rc != 0
    assert expected in out, out
