"""Model contracts (``contracts/models/<model>.yaml``): the single source of tensor names, dtypes, dims, labels
and of how the inference service feeds each model, checked against Triton's ``config.pbtxt`` files.

    contracts = load_model_contracts()                       # name -> ModelContract, cross-checked
    config = parse_model_config("infra/triton/models/embedding/config.pbtxt")
    assert config_mismatches(contracts["embedding"], config) == []

Format (every field):
    name            model name = file stem = Triton model directory = config.pbtxt ``name``
    description     what the model outputs, for people
    backend         Triton backend (config.pbtxt ``backend``), e.g. python
    max_batch_size  config.pbtxt ``max_batch_size`` (dims below exclude the batch dimension when > 0)
    versions        served versions, strings of digits; = config.pbtxt ``version_policy { specific { versions } }``
    inputs/outputs  [{name, data_type (Triton TYPE_*), dims}] in any order; must equal config.pbtxt's
    labels          classifiers only: class names in the order of the serving output's last dimension
    serving         absent = not called directly by the inference service; else
      task          the prediction task this model answers (e.g. intent)
      inputs        input tensor -> {field, via, output}: ``field`` of the features event; with ``via: <model>``
                    that model (one TYPE_STRING input) runs on the field and its ``output`` tensor is fed
      output        the output tensor holding the prediction (with ``labels``: the probabilities)
      champion      version whose answer is used
      challengers   versions also run (shadow) for comparison; never the champion
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ModelContract", "ModelContractError", "Serving", "ServingInput", "TensorSpec", "DEFAULT_CONTRACTS_DIR",
    "config_mismatches", "feature_fields", "load_model_contract", "load_model_contracts", "parse_model_config",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONTRACTS_DIR = REPO_ROOT / "contracts" / "models"
DEFAULT_FEATURES_SCHEMA_DIR = REPO_ROOT / "contracts" / "schemas" / "features"

DataType = Literal["TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8",
                   "TYPE_INT16", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64",
                   "TYPE_STRING", "TYPE_BF16"]


class ModelContractError(ValueError):
    """A contract file is unreadable or invalid, alone or against the other contracts."""


class _Strict(BaseModel):
    # A misspelt key (e.g. "chalengers") must fail loudly, not silently mean "absent".
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorSpec(_Strict):
    name: str = Field(min_length=1)
    data_type: DataType
    dims: list[int] = Field(min_length=1)

    @field_validator("dims")
    @classmethod
    def _dims(cls, dims: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in dims):
            raise ValueError(f"dims must be positive or -1 (variable), got {dims}")
        return dims


class ServingInput(_Strict):
    field: str = Field(min_length=1)
    via: str | None = None
    output: str | None = None

    @model_validator(mode="after")
    def _via_needs_output(self):
        if (self.via is None) != (self.output is None):
            raise ValueError("'via' and 'output' go together: which model runs on the field and which of its "
                             "outputs is fed")
        return self


class Serving(_Strict):
    task: str = Field(min_length=1)
    inputs: dict[str, ServingInput] = Field(min_length=1)
    output: str = Field(min_length=1)
    champion: str
    challengers: list[str] = Field(default_factory=list)


class ModelContract(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = Field(min_length=1)
    backend: str = Field(min_length=1)
    max_batch_size: int = Field(ge=0)
    versions: list[str] = Field(min_length=1)
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    labels: list[str] | None = None
    serving: Serving | None = None

    @field_validator("versions")
    @classmethod
    def _versions(cls, versions: list[str]) -> list[str]:
        bad = [v for v in versions if not (isinstance(v, str) and v.isdigit() and int(v) > 0)]
        if bad:
            raise ValueError(f"versions must be positive integers written as strings (Triton directories), got {bad}")
        if len(set(versions)) != len(versions):
            raise ValueError(f"versions repeat: {versions}")
        return versions

    @model_validator(mode="after")
    def _consistent(self):
        for kind, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [t.name for t in tensors]
            if len(set(names)) != len(names):
                raise ValueError(f"{kind} repeat a name: {names}")
        serving = self.serving
        if serving is not None:
            outputs = {t.name for t in self.outputs}
            if serving.output not in outputs:
                raise ValueError(f"serving.output {serving.output!r} is not among outputs {sorted(outputs)}")
            inputs = {t.name: t for t in self.inputs}
            if set(serving.inputs) != set(inputs):
                raise ValueError(f"serving.inputs must name every input exactly: contract inputs {sorted(inputs)}, "
                                 f"serving.inputs {sorted(serving.inputs)}")
            for tensor, source in serving.inputs.items():
                spec = inputs[tensor]
                if source.via is None and (spec.data_type != "TYPE_STRING" or spec.dims != [1]):
                    raise ValueError(f"serving.inputs.{tensor} feeds the raw field {source.field!r}, so input "
                                     f"{tensor} must be TYPE_STRING dims [1], not {spec.data_type} {spec.dims}")
            if serving.champion not in self.versions:
                raise ValueError(f"serving.champion {serving.champion!r} is not in versions {self.versions}")
            bad = [v for v in serving.challengers if v not in self.versions or v == serving.champion]
            if bad or len(set(serving.challengers)) != len(serving.challengers):
                raise ValueError(f"serving.challengers must be distinct versions other than the champion "
                                 f"{serving.champion!r}, among {self.versions}; got {serving.challengers}")
        if self.labels is not None:
            if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
                raise ValueError(f"labels must be at least 2 distinct names, got {self.labels}")
            target = self.classifier_output()
            if target is None:
                raise ValueError("labels need one output to describe: set serving.output or have a single output")
            if target.dims[-1] != len(self.labels):
                raise ValueError(f"{len(self.labels)} labels but output {target.name} has dims {target.dims}")
        return self

    def classifier_output(self) -> TensorSpec | None:
        """The output ``labels`` describe: serving.output, else the only output."""
        by_name = {t.name: t for t in self.outputs}
        if self.serving is not None:
            return by_name.get(self.serving.output)
        return self.outputs[0] if len(self.outputs) == 1 else None


def _format_validation(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(contract)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def load_model_contract(path: Path) -> ModelContract:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ModelContractError(f"{path}: unreadable: {error}") from error
    if not isinstance(raw, dict):
        raise ModelContractError(f"{path}: expected a mapping at the top level")
    try:
        contract = ModelContract.model_validate(raw)
    except ValidationError as error:
        raise ModelContractError(f"{path}: {_format_validation(error)}") from None
    if contract.name != path.stem:
        raise ModelContractError(f"{path}: name {contract.name!r} differs from the file name {path.stem!r}")
    return contract


def feature_fields(schema_dir: Path = DEFAULT_FEATURES_SCHEMA_DIR) -> set[str] | None:
    """Top-level fields of the newest features-event JSON schema, or None when there is none."""
    schemas = sorted(Path(schema_dir).glob("v*.schema.json"), key=lambda p: int(p.name[1:].split(".")[0]))
    if not schemas:
        return None
    return set(json.loads(schemas[-1].read_text()).get("properties", {}))


def load_model_contracts(directory: Path | None = DEFAULT_CONTRACTS_DIR,
                         features: set[str] | None = None) -> dict[str, ModelContract]:
    """Every ``*.yaml`` of ``directory``, validated one by one and against each other.

    Cross-checks: a ``via`` model exists, takes one TYPE_STRING [1] input and has the named output with the
    dtype and dims of the input it feeds; with ``features`` (field names of the features event), every
    serving ``field`` is one of them.
    """
    contracts: dict[str, ModelContract] = {}
    for path in sorted(Path(directory or DEFAULT_CONTRACTS_DIR).glob("*.yaml")):
        contract = load_model_contract(path)
        contracts[contract.name] = contract
    problems = []
    for contract in contracts.values():
        if contract.serving is None:
            continue
        for tensor, source in contract.serving.inputs.items():
            where = f"{contract.name}: serving.inputs.{tensor}"
            if features is not None and source.field not in features:
                problems.append(f"{where}: field {source.field!r} is not a field of the features event")
            if source.via is None:
                continue
            upstream = contracts.get(source.via)
            if upstream is None:
                problems.append(f"{where}: via model {source.via!r} is unknown (contracts: {sorted(contracts)})")
                continue
            if len(upstream.inputs) != 1 or upstream.inputs[0].data_type != "TYPE_STRING":
                problems.append(f"{where}: via model {source.via!r} must take a single TYPE_STRING input")
            produced = {t.name: t for t in upstream.outputs}.get(source.output)
            if produced is None:
                problems.append(f"{where}: {source.via!r} has no output {source.output!r} "
                                f"(outputs: {[t.name for t in upstream.outputs]})")
                continue
            fed = {t.name: t for t in contract.inputs}[tensor]
            if (produced.data_type, produced.dims) != (fed.data_type, fed.dims):
                problems.append(f"{where}: {source.via}.{source.output} is {produced.data_type} {produced.dims} "
                                f"but input {tensor} is {fed.data_type} {fed.dims}")
    if problems:
        raise ModelContractError("invalid model contracts:\n  " + "\n  ".join(problems))
    return contracts


def parse_model_config(path: Path):
    """config.pbtxt -> ``tritonclient.grpc.model_config_pb2.ModelConfig`` (raises ModelContractError)."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    path = Path(path)
    config = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(path.read_text(), config)
    except (OSError, text_format.ParseError) as error:
        raise ModelContractError(f"{path}: not a valid Triton model config: {error}") from error
    return config


def _tensor_mismatches(kind: str, contract_tensors: list[TensorSpec], config_tensors) -> list[str]:
    from tritonclient.grpc import model_config_pb2

    problems = []
    wanted = {t.name: t for t in contract_tensors}
    actual = {t.name: t for t in config_tensors}
    for name in sorted(set(wanted) - set(actual)):
        problems.append(f"{kind[:-1]} {name} is in the contract but missing from config.pbtxt")
    for name in sorted(set(actual) - set(wanted)):
        problems.append(f"{kind[:-1]} {name} is in config.pbtxt but not in the contract")
    for name in sorted(set(wanted) & set(actual)):
        dtype = model_config_pb2.DataType.Name(actual[name].data_type)
        if dtype != wanted[name].data_type:
            problems.append(f"{kind[:-1]} {name}: data_type {dtype} in config.pbtxt, {wanted[name].data_type} "
                            "in the contract")
        dims = list(actual[name].dims)
        if dims != wanted[name].dims:
            problems.append(f"{kind[:-1]} {name}: dims {dims} in config.pbtxt, {wanted[name].dims} in the contract")
    return problems


def config_mismatches(contract: ModelContract, config, gpu_config=None) -> list[str]:
    """Differences between a contract and its config.pbtxt (and configs/gpu.pbtxt); empty = consistent."""
    from tritonclient.grpc import model_config_pb2

    problems = []
    if config.name != contract.name:
        problems.append(f"name: {config.name!r} in config.pbtxt, {contract.name!r} in the contract")
    if config.backend != contract.backend:
        problems.append(f"backend: {config.backend!r} in config.pbtxt, {contract.backend!r} in the contract")
    if config.max_batch_size != contract.max_batch_size:
        problems.append(f"max_batch_size: {config.max_batch_size} in config.pbtxt, {contract.max_batch_size} "
                        "in the contract")
    if config.version_policy.WhichOneof("policy_choice") != "specific":
        problems.append("version_policy must be 'specific' with the contract's versions "
                        f"{contract.versions} (an implicit policy serves whatever directory is newest)")
    else:
        served = sorted(config.version_policy.specific.versions)
        if served != sorted(int(v) for v in contract.versions):
            problems.append(f"versions: {served} in config.pbtxt, {sorted(int(v) for v in contract.versions)} "
                            "in the contract")
    problems += _tensor_mismatches("inputs", contract.inputs, config.input)
    problems += _tensor_mismatches("outputs", contract.outputs, config.output)
    if contract.labels is not None:
        target = {t.name: t for t in config.output}.get(contract.classifier_output().name)
        if target is not None and (not target.dims or target.dims[-1] != len(contract.labels)):
            problems.append(f"labels: {len(contract.labels)} in the contract, output {target.name} has dims "
                            f"{list(target.dims)} in config.pbtxt")
    kinds = {model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind) for g in config.instance_group}
    if kinds != {"KIND_CPU"}:
        problems.append(f"instance_group kinds in config.pbtxt must be KIND_CPU (configs/gpu.pbtxt is the GPU "
                        f"variant), got {sorted(kinds) or 'none'}")
    if not config.HasField("dynamic_batching"):
        problems.append("dynamic_batching is missing from config.pbtxt")
    if gpu_config is not None:
        problems += [f"configs/gpu.pbtxt: {p}" for p in _gpu_variant_mismatches(config, gpu_config)]
    return problems


def _gpu_variant_mismatches(config, gpu_config) -> list[str]:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    problems = []
    kinds = {model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind) for g in gpu_config.instance_group}
    if kinds != {"KIND_GPU"}:
        problems.append(f"instance_group kinds must be KIND_GPU, got {sorted(kinds) or 'none'}")
    # Compare with the instance kinds neutralised: anything else differing is drift between the two files.
    normalised = model_config_pb2.ModelConfig()
    normalised.CopyFrom(gpu_config)
    for group in normalised.instance_group:
        group.kind = model_config_pb2.ModelInstanceGroup.KIND_CPU
    if normalised != config:
        cpu_lines = text_format.MessageToString(config).splitlines()
        gpu_lines = text_format.MessageToString(normalised).splitlines()
        import difflib
        diff = [line for line in difflib.unified_diff(cpu_lines, gpu_lines, "config.pbtxt", "configs/gpu.pbtxt",
                                                      n=0, lineterm="") if line[:1] in "+-" and line[:3] not in
                ("+++", "---")]
        problems.append("differs from config.pbtxt beyond the instance kind: " + "; ".join(diff[:10]))
    return problems


def served_task_labels(contracts: dict[str, ModelContract]) -> dict[str, tuple[str, ...]]:
    """Task -> its labels, for every model the inference service serves (a contract with a `serving` section)."""
    return {c.serving.task: tuple(c.labels or ()) for c in contracts.values() if c.serving is not None}
