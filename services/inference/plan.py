"""Which models the inference service runs, read from the model contracts: no code per model.

A contract's `serving` section names the task, where each input tensor comes from (a features field,
optionally through another model such as `embedding`), the output tensor, the champion version and
the challenger versions that run in shadow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.features.v1 import FeaturesV1
from services.runtime.model_contracts import ModelContract, load_model_contracts


@dataclass(frozen=True)
class InputSource:
    tensor: str
    field: str
    via: str | None  # model run on the field first (e.g. 'embedding'), or None for the raw field
    via_output: str | None


@dataclass(frozen=True)
class Binding:
    """One model version serving one task, as champion or shadow challenger."""

    task: str
    model: str
    version: str
    deployment: str  # 'champion' | 'challenger'
    inputs: tuple[InputSource, ...]
    output: str
    labels: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.task}/{self.model}/{self.version}/{self.deployment}"


@dataclass(frozen=True)
class InferencePlan:
    bindings: tuple[Binding, ...]
    contracts: dict[str, ModelContract]

    @property
    def via_models(self) -> dict[str, tuple[str, ...]]:
        """Models run before the bindings, with the features fields each one reads."""
        needed: dict[str, list[str]] = {}
        for binding in self.bindings:
            for source in binding.inputs:
                if source.via and source.field not in needed.setdefault(source.via, []):
                    needed[source.via].append(source.field)
        return {model: tuple(fields) for model, fields in needed.items()}


def build_plan(contracts: dict[str, ModelContract], *, challengers: bool = True) -> InferencePlan:
    bindings = []
    for contract in sorted(contracts.values(), key=lambda c: c.name):
        serving = contract.serving
        if serving is None:
            continue
        inputs = tuple(
            InputSource(tensor, source.field, source.via, source.output)
            for tensor, source in serving.inputs.items()
        )
        for source in inputs:
            if source.via and source.via not in contracts:
                raise ValueError(f"model contract {contract.name}: input {source.tensor} is computed by "
                                 f"unknown model {source.via!r}")
        versions = [(serving.champion, "champion")]
        if challengers:
            versions += [(version, "challenger") for version in serving.challengers]
        for version, deployment in versions:
            bindings.append(Binding(serving.task, contract.name, str(version), deployment, inputs,
                                    serving.output, tuple(contract.labels or ())))
    if not any(b.deployment == "champion" for b in bindings):
        raise ValueError("no model contract has a serving section: the inference service would have nothing to run")
    return InferencePlan(tuple(bindings), contracts)


def load_plan(directory: Path | None = None, *, challengers: bool = True) -> InferencePlan:
    """The plan of the contracts in `directory`; a contract naming a field the features event lacks is refused."""
    fields = set(FeaturesV1.model_fields)
    contracts = load_model_contracts(directory, fields) if directory else load_model_contracts(features=fields)
    return build_plan(contracts, challengers=challengers)
