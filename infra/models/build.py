"""Build the model artefacts, then assemble Triton's servable model repository.

    .venv/bin/python -m infra.models.build [step ...] [--allow-missing] [--no-assemble] [--repository PATH]

Steps (default: all, in this order) are modules of ``infra/models`` with ``build(repo_root)``; each is
idempotent (skips work when its inputs' hash is unchanged):

    embedding  infra/models/export_minilm.py   all-MiniLM-L6-v2 -> .cache/models/embedding/
    pii_ner    infra/models/rampart.py          PII tagger       -> .cache/models/pii_ner/
    heads      infra/models/train_heads.py      classifier heads (injection: train_injection.py) -> .cache/models/heads/

A step whose module does not exist is reported and skipped (the build carries on); a step that raises stops the
build with a non-zero exit.

Assembly reads every ``infra/triton/models/<model>/build.yaml`` (format: see the model directories) and lays out
``<repository>/<model>/{config.pbtxt, configs/, <version>/{model.py, <modules>.py, <files>}}``. A model whose
build outputs are missing is an error naming the step that makes them, unless ``--allow-missing`` (then it is
left out, and ``infra/triton/triton.sh start`` refuses to start until it is built).

The repository path (default ``.cache/triton/repository``, env ``SLUICE_TRITON_REPOSITORY``) is a symlink to a
fresh directory under ``.cache/triton/repositories/``; it is swapped with one atomic rename, so a running Triton
reading it never sees half a repository. Big files are hard-linked from the build outputs when possible (a
later rebuild writes new files, never into the linked ones) and copied otherwise.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS: dict[str, str] = {
    "embedding": "infra.models.export_minilm",
    "pii_ner": "infra.models.rampart",
    "heads": "infra.models.train_heads",
}
MODELS_SOURCE = Path("infra/triton/models")
DEFAULT_REPOSITORY = Path(".cache/triton/repository")
# Unrelated to serving, or rebuilt by Python itself: never copied into the repository.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildError(RuntimeError):
    """A step or the assembly failed; the message says what to run or fix."""


def run_steps(repo_root: Path, steps: list[str]) -> list[str]:
    """Run the named steps in order; returns those skipped because their module does not exist."""
    skipped = []
    for step in steps:
        module_name = STEPS[step]
        if importlib.util.find_spec(module_name) is None:
            print(f"step {step}: skipped, {module_name.replace('.', '/')}.py does not exist")
            skipped.append(step)
            continue
        module = importlib.import_module(module_name)
        if not callable(getattr(module, "build", None)):
            raise BuildError(f"step {step}: {module_name} has no build(repo_root) function")
        started = time.monotonic()
        print(f"step {step}: running {module_name}.build", flush=True)
        module.build(repo_root)
        print(f"step {step}: done in {time.monotonic() - started:.1f}s", flush=True)
    return skipped


def load_manifest(model_dir: Path) -> dict:
    path = model_dir / "build.yaml"
    manifest = yaml.safe_load(path.read_text()) or {}
    where = path.as_posix()
    if manifest.get("step") not in STEPS:
        raise BuildError(f"{where}: step must be one of {sorted(STEPS)}, got {manifest.get('step')!r}")
    modules = manifest.setdefault("modules", []) or []
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise BuildError(f"{where}: modules must be a list of names of infra/models/<name>.py files")
    manifest["modules"] = modules
    versions = manifest.get("versions")
    if not isinstance(versions, dict) or not versions:
        raise BuildError(f"{where}: versions must map version numbers to {{files: {{...}}}}")
    for version, spec in versions.items():
        if not str(version).isdigit():
            raise BuildError(f"{where}: version {version!r} is not a positive integer (Triton's directory names)")
        files = (spec or {}).get("files") or {}
        if not isinstance(files, dict):
            raise BuildError(f"{where}: versions.{version}.files must map servable names to build output paths")
    return manifest


def missing_outputs(repo_root: Path, manifest: dict) -> list[str]:
    return sorted({path for spec in manifest["versions"].values() for path in ((spec or {}).get("files") or {}).values()
                   if not (repo_root / path).is_file()})


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def assemble_model(repo_root: Path, model_dir: Path, manifest: dict, target: Path) -> list[str]:
    """Lay one model out under ``target``; returns its versions."""
    name = model_dir.name
    if not (model_dir / "config.pbtxt").is_file():
        raise BuildError(f"model {name}: {model_dir / 'config.pbtxt'} is missing")
    target.mkdir(parents=True)
    shutil.copy2(model_dir / "config.pbtxt", target / "config.pbtxt")
    if (model_dir / "configs").is_dir():
        shutil.copytree(model_dir / "configs", target / "configs", ignore=_IGNORED)
    versions = []
    for version, spec in sorted(manifest["versions"].items(), key=lambda item: int(item[0])):
        version = str(version)
        source = model_dir / version
        if not (source / "model.py").is_file():
            raise BuildError(f"model {name}: {source / 'model.py'} is missing")
        shutil.copytree(source, target / version, ignore=_IGNORED)
        for module in manifest["modules"]:
            module_path = repo_root / "infra" / "models" / f"{module}.py"
            if not module_path.is_file():
                raise BuildError(f"model {name}: module {module_path.relative_to(repo_root)} is missing")
            shutil.copy2(module_path, target / version / f"{module}.py")
        for servable, output in ((spec or {}).get("files") or {}).items():
            destination = target / version / servable
            destination.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(repo_root / output, destination)
        versions.append(version)
    return versions


def assemble(repo_root: Path, repository: Path, allow_missing: bool = False) -> dict[str, list[str]]:
    """Assemble every model with a build.yaml; returns model -> versions of what went in."""
    source_root = repo_root / MODELS_SOURCE
    model_dirs = sorted(p for p in source_root.iterdir() if p.is_dir()) if source_root.is_dir() else []
    plan, problems = [], []
    for model_dir in model_dirs:
        if not (model_dir / "build.yaml").is_file():
            problems.append(f"model {model_dir.name}: {model_dir.relative_to(repo_root) / 'build.yaml'} is missing")
            continue
        manifest = load_manifest(model_dir)
        missing = missing_outputs(repo_root, manifest)
        if missing:
            step = manifest["step"]
            problems.append(f"model {model_dir.name}: build outputs missing ({', '.join(missing)}); they are made "
                            f"by step '{step}' ({STEPS[step].replace('.', '/')}.py): "
                            f".venv/bin/python -m infra.models.build {step}")
            continue
        plan.append((model_dir, manifest))
    if problems:
        if not allow_missing:
            raise BuildError("cannot assemble the model repository:\n  " + "\n  ".join(problems)
                             + "\n(--allow-missing assembles the other models)")
        for problem in problems:
            print(f"skipped {problem}")

    repository = repository if repository.is_absolute() else repo_root / repository
    versions_root = repository.parent / "repositories"
    versions_root.mkdir(parents=True, exist_ok=True)
    # mkdtemp: unique even for two assemblies within one second of one process.
    fresh = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%dT%H%M%S-"), dir=versions_root))
    fresh.chmod(0o755)
    assembled: dict[str, list[str]] = {}
    try:
        for model_dir, manifest in plan:
            assembled[model_dir.name] = assemble_model(repo_root, model_dir, manifest, fresh / model_dir.name)
        _swap(repository, fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    for model, versions in assembled.items():
        print(f"assembled {model} (versions {', '.join(versions)})")
    print(f"repository: {repository} -> {fresh}")
    return assembled


def _swap(repository: Path, fresh: Path) -> None:
    if repository.exists() and not repository.is_symlink():
        # A plain directory (made by hand or an older layout): replaced once; later swaps are atomic renames.
        shutil.rmtree(repository)
    link = repository.with_name(f".{repository.name}.{os.getpid()}.link")
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(fresh, repository.parent))
    previous = repository.resolve() if repository.is_symlink() else None
    os.replace(link, repository)
    # Keep the previous tree until the swap is done (a Triton loading right now reads it), then drop older ones.
    for old in fresh.parent.iterdir():
        if old != fresh and (previous is None or old != previous):
            shutil.rmtree(old, ignore_errors=True)
    if previous is not None and previous != fresh and previous.is_dir():
        shutil.rmtree(previous, ignore_errors=True)


def check(repo_root: Path, repository: Path) -> list[str]:
    """What keeps ``repository`` from serving the current sources: unassembled models, missing or stale files."""
    repository = repository if repository.is_absolute() else repo_root / repository
    source_root = repo_root / MODELS_SOURCE
    problems = []
    if not repository.is_dir():
        return [f"no model repository at {repository}; build it with: .venv/bin/python -m infra.models.build"]
    for model_dir in sorted(p for p in source_root.iterdir() if p.is_dir()) if source_root.is_dir() else []:
        name, served = model_dir.name, repository / model_dir.name
        if not (model_dir / "build.yaml").is_file():
            problems.append(f"model {name}: {MODELS_SOURCE / name / 'build.yaml'} is missing")
            continue
        manifest = load_manifest(model_dir)
        step = manifest["step"]
        remedy = f"run: .venv/bin/python -m infra.models.build {step}"
        missing = missing_outputs(repo_root, manifest)
        if missing:
            problems.append(f"model {name}: build outputs missing ({', '.join(missing)}); made by step '{step}', "
                            + remedy)
            continue
        if not served.is_dir():
            problems.append(f"model {name}: not in {repository}; " + remedy)
            continue
        # Sources edited after assembly would be served stale: compare what assembly copies.
        pairs = [(model_dir / "config.pbtxt", served / "config.pbtxt")]
        if (model_dir / "configs").is_dir():
            pairs += [(f, served / "configs" / f.name) for f in sorted((model_dir / "configs").iterdir()) if f.is_file()]
        for version, spec in manifest["versions"].items():
            version = str(version)
            pairs.append((model_dir / version / "model.py", served / version / "model.py"))
            pairs += [(repo_root / "infra" / "models" / f"{m}.py", served / version / f"{m}.py")
                      for m in manifest["modules"]]
            for servable, output in ((spec or {}).get("files") or {}).items():
                source, target = repo_root / output, served / version / servable
                if not target.is_file() or not (os.path.samefile(source, target)
                                                 or source.stat().st_size == target.stat().st_size
                                                 and source.read_bytes() == target.read_bytes()):
                    problems.append(f"model {name}: {target} differs from {output}; " + remedy)
        for source, target in pairs:
            if not target.is_file() or source.read_bytes() != target.read_bytes():
                problems.append(f"model {name}: {target} differs from {source.relative_to(repo_root)}; " + remedy)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.models.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("steps", nargs="*",
                        help=f"build steps to run (default: all of {', '.join(STEPS)})")
    parser.add_argument("--allow-missing", action="store_true",
                        help="leave out models whose build outputs are missing instead of failing")
    parser.add_argument("--no-assemble", action="store_true", help="run the steps only")
    parser.add_argument("--check", action="store_true",
                        help="run nothing; exit 1 listing why the repository does not match the sources and builds")
    parser.add_argument("--repository", type=Path,
                        default=Path(os.environ.get("SLUICE_TRITON_REPOSITORY", DEFAULT_REPOSITORY)),
                        help="servable repository path (default: $SLUICE_TRITON_REPOSITORY or %(default)s)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {unknown}; steps: {', '.join(STEPS)}")
    # Steps resolve their outputs relative to the repo root whatever the caller's working directory.
    os.chdir(REPO_ROOT)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    if args.check:
        problems = check(REPO_ROOT, args.repository)
        for problem in problems:
            print(f"build: {problem}", file=sys.stderr)
        return 1 if problems else 0
    try:
        run_steps(REPO_ROOT, args.steps or list(STEPS))
        if not args.no_assemble:
            assemble(REPO_ROOT, args.repository, allow_missing=args.allow_missing)
    except BuildError as error:
        print(f"build: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
