"""Generate and check the checked-in contracts: JSON Schema and an example per schema version,
and the topic table in README.md. `python -m schemas.contracts generate|check`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from schemas.compat import breaking_changes
from schemas.examples import EXAMPLES
from schemas.registry import REGISTRY, SchemaRegistry

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = REPO_ROOT / "contracts"
README = REPO_ROOT / "README.md"
TABLE_BEGIN = "<!-- topics:begin (generated from contracts/topics.yaml by `make contracts`) -->"
TABLE_END = "<!-- topics:end -->"


def schema_path(name: str, version: int) -> Path:
    return CONTRACTS / "schemas" / name / f"v{version}.schema.json"


def example_path(name: str, version: int) -> Path:
    return CONTRACTS / "examples" / name / f"v{version}.json"


def _dump(document: object) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_schema(name: str, version: int, registry: SchemaRegistry = REGISTRY) -> dict:
    schema = registry.model(name, version).model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"sluice:{name}/v{version}", **schema}


def topic_table(contract_path: Path = CONTRACTS / "topics.yaml") -> str:
    contract = yaml.safe_load(contract_path.read_text(encoding="utf-8"))
    namespace = contract["namespace"]
    rows = ["| topic | schema | key | partitions | retention / cleanup | producers | consumers |",
            "|---|---|---|---|---|---|---|"]
    for topic in contract["topics"]:
        config = topic.get("config", {})
        retention = config.get("retention.ms")
        policy = config.get("cleanup.policy", "delete")
        if policy == "compact":
            keep = "compacted"
        elif str(retention) == "-1":
            keep = "forever"
        else:
            keep = f"{int(retention) / 86_400_000:g} days" if retention else "broker default"
        schema = topic.get("schema", "(internal state)")
        if topic.get("accepts"):
            schema += " (accepts " + ", ".join(topic["accepts"]) + ")"
        rows.append(
            f"| `{namespace}.{topic['name']}` | `{schema}` | `{topic['key']}` | {topic['partitions']} | {keep} | "
            f"{', '.join(topic['producers'])} | {', '.join(topic['consumers'])} |"
        )
    return "\n".join(rows)


def expected_files(registry: SchemaRegistry = REGISTRY) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for name, version in sorted(registry.models):
        files[schema_path(name, version)] = _dump(json_schema(name, version, registry))
    examples = {e.schema_key(): e for e in EXAMPLES}
    missing = sorted(set(registry.models) - set(examples))
    if missing:
        raise ValueError(f"no example for {missing}: add one to schemas/examples.py")
    for (name, version), example in sorted(examples.items()):
        files[example_path(name, version)] = _dump(example.model_dump(mode="json"))
    return files


def readme_with_table(readme: str) -> str:
    if TABLE_BEGIN not in readme or TABLE_END not in readme:
        raise ValueError(f"README.md lacks the markers {TABLE_BEGIN!r} ... {TABLE_END!r}")
    head, rest = readme.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_BEGIN}\n{topic_table()}\n{TABLE_END}{tail}"


def generate() -> list[Path]:
    written = []
    for path, content in expected_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
    readme = README.read_text(encoding="utf-8")
    updated = readme_with_table(readme)
    if updated != readme:
        README.write_text(updated, encoding="utf-8")
        written.append(README)
    return written


def check(registry: SchemaRegistry = REGISTRY) -> list[str]:
    """Problems between code and checked-in contracts; each names the fix."""
    problems = []
    expected = expected_files(registry)
    for path, content in expected.items():
        relative = path.relative_to(REPO_ROOT)
        if not path.exists():
            problems.append(f"{relative}: missing; run `make contracts`")
            continue
        current = path.read_text(encoding="utf-8")
        if current == content:
            continue
        if path.name.endswith(".schema.json"):
            breaking = breaking_changes(json.loads(current), json.loads(content))
            if breaking:
                problems.append(
                    f"{relative}: BREAKING change within a version ({'; '.join(breaking)}): "
                    "keep this version as it was and add a new major version with an upcaster"
                )
                continue
        problems.append(f"{relative}: out of date (compatible change); run `make contracts`")
    for path in sorted((CONTRACTS / "schemas").glob("*/v*.schema.json")):
        if path not in expected:
            problems.append(f"{path.relative_to(REPO_ROOT)}: schema version removed from code (breaks its users)")
    readme = README.read_text(encoding="utf-8") if README.exists() else ""
    try:
        if readme_with_table(readme) != readme:
            problems.append("README.md: topic table out of date; run `make contracts`")
    except ValueError as exc:
        problems.append(f"README.md: {exc}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.contracts")
    parser.add_argument("command", choices=["generate", "check"])
    args = parser.parse_args(argv)
    if args.command == "generate":
        for path in generate():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    problems = check()
    for problem in problems:
        print(problem)
    print("contracts: OK" if not problems else f"contracts: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
