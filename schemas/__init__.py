"""Versioned event schemas of the Sluice pipeline (see contracts/ for the generated JSON Schema)."""

from schemas._base import Channel, EventModel, Role
from schemas.registry import REGISTRY, SchemaRegistry, UnknownSchemaError

__all__ = ["Channel", "EventModel", "REGISTRY", "Role", "SchemaRegistry", "UnknownSchemaError"]
