"""Loads contracts/topics.yaml: the one place topic names, schemas, keys and configs are declared."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas import REGISTRY, EventModel

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONTRACT = REPO_ROOT / "contracts" / "topics.yaml"


def parse_schema_id(schema_id: str) -> tuple[str, int]:
    """'raw_turn/v2' -> ('raw_turn', 2)."""
    name, sep, version = schema_id.partition("/v")
    if not sep or not name or not version.isdigit():
        raise ValueError(f"schema id {schema_id!r} is not of the form <name>/v<N>")
    return name, int(version)


class TopicSpec(BaseModel):
    """One topic of the contract."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Logical name (without namespace).")
    description: str = Field(description="What flows on the topic.")
    schema_id: str | None = Field(default=None, alias="schema", description="Schema consumers decode into.")
    accepts: tuple[str, ...] = Field(default=(), description="Older schema ids upcast on consumption.")
    key: str = Field(description="Envelope field used as the Kafka key.")
    partitions: int = Field(ge=1, le=1000, description="Partition count.")
    config: dict[str, str] = Field(default_factory=dict, description="Topic configs set by bootstrap.")
    producers: tuple[str, ...] = Field(description="Who produces.")
    consumers: tuple[str, ...] = Field(description="Who consumes.")
    internal: bool = Field(default=False, description="Service-internal state (e.g. a table changelog).")

    @field_validator("config", mode="before")
    @classmethod
    def _configs_are_strings(cls, value: dict) -> dict:
        return {str(k): str(v) for k, v in (value or {}).items()}

    @model_validator(mode="after")
    def _schema_known(self) -> "TopicSpec":
        if self.internal:
            return self
        if self.schema_id is None:
            raise ValueError(f"topic {self.name}: a non-internal topic needs a schema")
        for schema_id in (self.schema_id, *self.accepts):
            REGISTRY.model(*parse_schema_id(schema_id))
        model = self.model()
        if self.key not in model.model_fields:
            raise ValueError(f"topic {self.name}: key field {self.key!r} is not a field of {self.schema_id}")
        return self

    def model(self) -> type[EventModel]:
        assert self.schema_id is not None, f"internal topic {self.name} has no schema"
        return _models((self.schema_id,))[parse_schema_id(self.schema_id)]

    def accepted_models(self) -> Mapping[tuple[str, int], type[EventModel]]:
        """Every schema version a consumer of this topic decodes, the current one included."""
        return _models((self.schema_id, *self.accepts) if self.schema_id else ())


@lru_cache(maxsize=256)
def _models(schema_ids: tuple[str, ...]) -> Mapping[tuple[str, int], type[EventModel]]:
    # Looked up for every message at the consumer and producer edges: resolve each id list once.
    return MappingProxyType({parse_schema_id(i): REGISTRY.model(*parse_schema_id(i)) for i in schema_ids})


class TopicContract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(description="Version of the contract file format.")
    namespace: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Default namespace.")
    topics: tuple[TopicSpec, ...] = Field(description="All topics.")

    @model_validator(mode="after")
    def _unique(self) -> "TopicContract":
        names = [t.name for t in self.topics]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"topics declared twice: {sorted(duplicates)}")
        return self

    def get(self, name: str) -> TopicSpec:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(f"topic {name!r} is not in the contract (known: {[t.name for t in self.topics]})")

    def physical(self, name: str, namespace: str | None = None) -> str:
        """Kafka topic name of a logical topic, e.g. 'sluice.turns.raw'."""
        self.get(name)
        return f"{namespace or self.namespace}.{name}"

    def consumed_by(self, service: str) -> list[TopicSpec]:
        return [t for t in self.topics if service in t.consumers]

    def produced_by(self, service: str) -> list[TopicSpec]:
        return [t for t in self.topics if service in t.producers]


def load_contract(path: Path | str | None = None) -> TopicContract:
    path = Path(path or os.environ.get("SLUICE_CONTRACT_PATH") or DEFAULT_CONTRACT)
    return _load(str(path.resolve()))


@lru_cache(maxsize=8)
def _load(path: str) -> TopicContract:
    with open(path, encoding="utf-8") as handle:
        return TopicContract.model_validate(yaml.safe_load(handle))
