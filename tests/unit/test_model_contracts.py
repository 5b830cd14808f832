"""Every Triton model config agrees with its contract (contracts/models/<name>.yaml), and the checks that
guarantee it do report broken configs and contracts. New models are picked up from the directories."""
from pathlib import Path

import pytest
import yaml

from services.runtime.model_contracts import (
    ModelContract, ModelContractError, config_mismatches, feature_fields, load_model_contract,
    load_model_contracts, parse_model_config,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "infra" / "triton" / "models"
CONTRACTS = ROOT / "contracts" / "models"
MODEL_NAMES = sorted(p.name for p in MODELS.iterdir() if (p / "config.pbtxt").is_file())
CONTRACT_NAMES = sorted(p.stem for p in CONTRACTS.glob("*.yaml"))


@pytest.fixture(scope="module")
def contracts():
    return load_model_contracts(CONTRACTS, features=feature_fields())


def test_the_embedding_model_is_discovered():
    # Guards the parametrisation below: an empty glob would make every per-model test vanish silently.
    assert "embedding" in MODEL_NAMES and "embedding" in CONTRACT_NAMES


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_config_matches_contract(model, contracts):
    assert model in contracts, f"infra/triton/models/{model} has no contracts/models/{model}.yaml"
    gpu_path = MODELS / model / "configs" / "gpu.pbtxt"
    assert gpu_path.is_file(), f"{gpu_path} is missing (conventions: a GPU variant next to every config)"
    problems = config_mismatches(contracts[model], parse_model_config(MODELS / model / "config.pbtxt"),
                                 parse_model_config(gpu_path))
    assert problems == []


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_build_manifest_matches_contract(model, contracts):
    manifest = yaml.safe_load((MODELS / model / "build.yaml").read_text())
    assert sorted(str(v) for v in manifest["versions"]) == sorted(contracts[model].versions)
    for version in manifest["versions"]:
        assert (MODELS / model / str(version) / "model.py").is_file()


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_every_contract_has_a_model_directory(name):
    assert (MODELS / name / "config.pbtxt").is_file(), f"contract {name} has no infra/triton/models/{name}"


# ---- the checks themselves: a synthetic classifier fed by the real embedding contract ----

CLASSIFIER = {
    "name": "toy",
    "description": "test classifier",
    "backend": "python",
    "max_batch_size": 8,
    "versions": ["1", "2"],
    "inputs": [{"name": "TURN_EMBEDDING", "data_type": "TYPE_FP32", "dims": [384]}],
    "outputs": [{"name": "PROBABILITIES", "data_type": "TYPE_FP32", "dims": [3]}],
    "labels": ["a", "b", "c"],
    "serving": {
        "task": "toy",
        "inputs": {"TURN_EMBEDDING": {"field": "redacted_text", "via": "embedding", "output": "EMBEDDING"}},
        "output": "PROBABILITIES",
        "champion": "1",
        "challengers": ["2"],
    },
}
CONFIG = """
name: "toy"
backend: "python"
max_batch_size: 8
version_policy: { specific: { versions: [ 1, 2 ] } }
input [ { name: "TURN_EMBEDDING" data_type: TYPE_FP32 dims: [ 384 ] } ]
output [ { name: "PROBABILITIES" data_type: TYPE_FP32 dims: [ 3 ] } ]
instance_group [ { kind: KIND_CPU } ]
dynamic_batching { }
"""


def _config(tmp_path, text=CONFIG, name="config.pbtxt"):
    path = tmp_path / name
    path.write_text(text)
    return parse_model_config(path)


def _write_contracts(tmp_path, toy):
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(toy))
    (tmp_path / "embedding.yaml").write_text((CONTRACTS / "embedding.yaml").read_text())
    return tmp_path


def test_synthetic_pair_is_consistent(tmp_path):
    contracts = load_model_contracts(_write_contracts(tmp_path, CLASSIFIER), features={"redacted_text"})
    gpu = _config(tmp_path, CONFIG.replace("KIND_CPU", "KIND_GPU"), "gpu.pbtxt")
    assert config_mismatches(contracts["toy"], _config(tmp_path), gpu) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("data_type: TYPE_FP32 dims: [ 384 ]", "data_type: TYPE_FP16 dims: [ 384 ]"),
     "input TURN_EMBEDDING: data_type TYPE_FP16 in config.pbtxt, TYPE_FP32 in the contract"),
    (lambda t: t.replace('output [ { name: "PROBABILITIES" data_type: TYPE_FP32 dims: [ 3 ] } ]', ""),
     "output PROBABILITIES is in the contract but missing from config.pbtxt"),
    (lambda t: t.replace("versions: [ 1, 2 ]", "versions: [ 1, 3 ]"),
     "versions: [1, 3] in config.pbtxt, [1, 2] in the contract"),
    (lambda t: t.replace("version_policy: { specific: { versions: [ 1, 2 ] } }", "version_policy: { latest: { num_versions: 1 } }"),
     "version_policy must be 'specific'"),
    (lambda t: t.replace("dims: [ 3 ]", "dims: [ 4 ]"), "labels: 3 in the contract, output PROBABILITIES has dims [4]"),
    (lambda t: t.replace("dims: [ 384 ]", "dims: [ 768 ]"), "input TURN_EMBEDDING: dims [768] in config.pbtxt"),
    (lambda t: t.replace('name: "toy"', 'name: "other"'), "name: 'other' in config.pbtxt"),
    (lambda t: t.replace("max_batch_size: 8", "max_batch_size: 16"), "max_batch_size: 16 in config.pbtxt"),
    (lambda t: t.replace("dynamic_batching { }", ""), "dynamic_batching is missing"),
    (lambda t: t.replace("KIND_CPU", "KIND_GPU"), "instance_group kinds in config.pbtxt must be KIND_CPU"),
])
def test_config_defects_are_reported(tmp_path, edit, expected):
    contract = ModelContract.model_validate(CLASSIFIER)
    problems = config_mismatches(contract, _config(tmp_path, edit(CONFIG)))
    assert any(expected in p for p in problems), problems


def test_gpu_variant_may_differ_only_in_instance_kind(tmp_path):
    contract = ModelContract.model_validate(CLASSIFIER)
    config = _config(tmp_path)
    still_cpu = _config(tmp_path, CONFIG, "gpu.pbtxt")
    assert any("must be KIND_GPU" in p for p in config_mismatches(contract, config, still_cpu))
    drifted = _config(tmp_path, CONFIG.replace("KIND_CPU", "KIND_GPU").replace("max_batch_size: 8", "max_batch_size: 4"),
                      "gpu.pbtxt")
    problems = config_mismatches(contract, config, drifted)
    assert any(p.startswith("configs/gpu.pbtxt: differs from config.pbtxt") and "max_batch_size" in p
               for p in problems), problems


def _set(tree, dotted, value):
    keys = dotted.split(".")
    for key in keys[:-1]:
        tree = tree[key]
    tree[keys[-1]] = value


@pytest.mark.parametrize("path, value, expected", [
    ("serving.output", "LOGITS", "serving.output 'LOGITS' is not among outputs"),
    ("serving.champion", "3", "serving.champion '3' is not in versions"),
    ("serving.challengers", ["1"], "serving.challengers must be distinct versions other than the champion"),
    ("versions", ["v1"], "versions must be positive integers"),
    ("labels", ["a", "b"], "2 labels but output PROBABILITIES has dims [3]"),
    ("serving.inputs", {"TURN_EMBEDDING": {"field": "redacted_text", "via": "embedding"}}, "'via' and 'output' go together"),
    ("serving.chalengers", ["2"], "Extra inputs are not permitted"),
    ("inputs", [{"name": "TURN_EMBEDDING", "data_type": "TYPE_FLOAT", "dims": [384]}], "inputs.0.data_type"),
])
def test_contract_defects_are_reported(tmp_path, path, value, expected):
    toy = yaml.safe_load(yaml.safe_dump(CLASSIFIER))
    _set(toy, path, value)
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(toy))
    with pytest.raises(ModelContractError, match="toy.yaml") as caught:
        load_model_contract(tmp_path / "toy.yaml")
    assert expected in str(caught.value)


@pytest.mark.parametrize("source, features, expected", [
    ({"field": "redacted_text", "via": "sentiment", "output": "EMBEDDING"}, None, "via model 'sentiment' is unknown"),
    ({"field": "redacted_text", "via": "embedding", "output": "VECTOR"}, None, "'embedding' has no output 'VECTOR'"),
    ({"field": "transcript", "via": "embedding", "output": "EMBEDDING"}, {"redacted_text"},
     "field 'transcript' is not a field of the features event"),
])
def test_cross_contract_defects_are_reported(tmp_path, source, features, expected):
    toy = yaml.safe_load(yaml.safe_dump(CLASSIFIER))
    toy["serving"]["inputs"]["TURN_EMBEDDING"] = source
    with pytest.raises(ModelContractError) as caught:
        load_model_contracts(_write_contracts(tmp_path, toy), features=features)
    assert expected in str(caught.value)


def test_via_output_shape_must_match_the_input_it_feeds(tmp_path):
    toy = yaml.safe_load(yaml.safe_dump(CLASSIFIER))
    toy["inputs"][0]["dims"] = [768]
    with pytest.raises(ModelContractError, match=r"embedding.EMBEDDING is TYPE_FP32 \[384\] but input TURN_EMBEDDING"):
        load_model_contracts(_write_contracts(tmp_path, toy))


def test_unparsable_config_is_reported(tmp_path):
    with pytest.raises(ModelContractError, match="not a valid Triton model config"):
        _config(tmp_path, "name: toy\nbackend: [")


# ---- build manifests and assembly (infra/models/build.py) on a throw-away repo root ----

def _fake_model(root: Path, name="toy", output=".cache/models/toy/weights.bin", step="heads"):
    model = root / "infra" / "triton" / "models" / name
    (model / "1").mkdir(parents=True)
    (model / "configs").mkdir()
    (model / "config.pbtxt").write_text(CONFIG.replace('"toy"', f'"{name}"'))
    (model / "configs" / "gpu.pbtxt").write_text(CONFIG.replace("KIND_CPU", "KIND_GPU"))
    (model / "1" / "model.py").write_text("# python backend model\n")
    (model / "build.yaml").write_text(yaml.safe_dump({"step": step, "modules": [],
                                                      "versions": {"1": {"files": {"weights.bin": output}}}}))
    return model


def test_assembly_names_the_step_for_missing_outputs(tmp_path):
    from infra.models.build import BuildError, assemble
    _fake_model(tmp_path)
    with pytest.raises(BuildError, match=r"model toy: build outputs missing \(.cache/models/toy/weights.bin\); "
                                         r"they are made by step 'heads'.*-m infra.models.build heads"):
        assemble(tmp_path, Path(".cache/triton/repository"))
    assert not (tmp_path / ".cache/triton/repository").exists()
    assemble(tmp_path, Path(".cache/triton/repository"), allow_missing=True)
    assert list((tmp_path / ".cache/triton/repository").iterdir()) == []


def test_assembly_swaps_a_complete_repository_and_check_spots_stale_sources(tmp_path):
    from infra.models.build import assemble, check
    model = _fake_model(tmp_path)
    weights = tmp_path / ".cache/models/toy/weights.bin"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\x00" * 64)
    repository = tmp_path / ".cache/triton/repository"
    assemble(tmp_path, repository)
    first = repository.resolve()
    served = repository / "toy"
    assert sorted(p.name for p in served.rglob("*") if p.is_file()) == ["config.pbtxt", "gpu.pbtxt", "model.py",
                                                                         "weights.bin"]
    assert check(tmp_path, repository) == []
    (model / "1" / "model.py").write_text("# edited after assembly\n")
    assert any("model.py differs" in p for p in check(tmp_path, repository))
    assemble(tmp_path, repository)
    assert repository.resolve() != first and not first.exists()
    assert check(tmp_path, repository) == []


def test_a_step_without_its_module_is_skipped(monkeypatch):
    from infra.models import build
    monkeypatch.setitem(build.STEPS, "ghost", "infra.models.no_such_step")
    assert build.run_steps(ROOT, ["ghost"]) == ["ghost"]
