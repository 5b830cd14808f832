"""Compatibility checker for two JSON Schemas of the same schema version.

Within one version only additive, optional changes are allowed, because producers and consumers
of a version are upgraded independently. Breaking (refused):
  - a field removed;
  - a field retyped (its set of JSON types, its const, or its object/array shape changed);
  - an optional field made required, a required field made optional, or a new required field;
  - enum values changed (old consumers refuse new values; new consumers refuse old ones).
Allowed: a new optional field; descriptions, titles, examples and defaults of optional fields.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every reason `new` would break producers or consumers of `old`; empty when compatible."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems)
    return problems


def _resolve(schema: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _variants(schema: Schema, root: Schema) -> list[Schema]:
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            out: list[Schema] = []
            for option in schema[key]:
                out.extend(_variants(option, root))
            return out
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _variants(schema["allOf"][0], root)
    return [schema]


def _kind(schema: Schema) -> str:
    if "const" in schema:
        return f"const:{schema['const']!r}"
    if "enum" in schema:
        return "enum"
    kind = schema.get("type", "any")
    return ",".join(sorted(kind)) if isinstance(kind, list) else str(kind)


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, problems: list[str]) -> None:
    where = path or "(root)"
    old_variants = {_kind(v): v for v in _variants(old, old_root)}
    new_variants = {_kind(v): v for v in _variants(new, new_root)}
    if set(old_variants) != set(new_variants):
        problems.append(f"{where}: type changed from {sorted(old_variants)} to {sorted(new_variants)}")
        return
    for kind, old_variant in old_variants.items():
        new_variant = new_variants[kind]
        if kind == "enum":
            removed = [v for v in old_variant["enum"] if v not in new_variant["enum"]]
            added = [v for v in new_variant["enum"] if v not in old_variant["enum"]]
            if removed:
                problems.append(f"{where}: enum values removed {removed}")
            if added:
                problems.append(f"{where}: enum values added {added} (old consumers would refuse them)")
        elif kind == "object":
            _compare_object(old_variant, new_variant, old_root, new_root, path, problems)
        elif kind == "array":
            _compare(old_variant.get("items", {}), new_variant.get("items", {}), old_root, new_root,
                     f"{path}[]", problems)


def _compare_object(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str,
                    problems: list[str]) -> None:
    prefix = f"{path}." if path else ""
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{prefix}{name}: field removed")
            continue
        if name in new_required and name not in old_required:
            problems.append(f"{prefix}{name}: optional field made required")
        if name in old_required and name not in new_required:
            problems.append(f"{prefix}{name}: required field made optional (old consumers rely on it)")
        _compare(old_prop, new_props[name], old_root, new_root, f"{prefix}{name}", problems)
    for name in new_props.keys() - old_props.keys():
        if name in new_required:
            problems.append(f"{prefix}{name}: new required field (old producers do not send it)")
    old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_extra, dict) and isinstance(new_extra, dict):
        _compare(old_extra, new_extra, old_root, new_root, f"{prefix}*", problems)
    elif isinstance(old_extra, dict) != isinstance(new_extra, dict):
        problems.append(f"{prefix or '(root)'}: map value schema changed")
