#!/usr/bin/env bash
# Sets up local Triton serving, idempotently and quickly when already done:
#   - .venv-triton: Python 3.11 venv with the Triton server binary (from the nvidia-pytriton wheel) and what the
#     python-backend models import. Separate from .venv because Triton 2.51's python backend returns empty
#     outputs with numpy 2 while the services need numpy >= 2 (see infra/triton/NOTES.md).
#   - .cache/triton/backends/python/: the python backend + the 3.11 stub, copied out of the wheel.
#   - .cache/triton/repository/: built models, assembled by `.venv/bin/python -m infra.models.build`.
# Needs `bash infra/setup.sh` first (the build steps run in the main venv). Full log: .cache/triton-setup.log.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

venv=".venv-triton"
backend_dir=".cache/triton/backends/python"
log_file=".cache/triton-setup.log"
# Kept in this file (not pyproject.toml): this environment never runs Sluice itself.
requirements=("nvidia-pytriton==0.7.0" "numpy<2" "onnxruntime>=1.20" "tokenizers>=0.15")

progress() { echo "triton-setup: $*"; echo "[$(date -u +%FT%TZ)] $*" >> "$log_file"; }
fail() {
  echo "triton-setup: $* (full log: $log_file)" >&2
  tail -n 20 "$log_file" >&2 || true
  exit 1
}

mkdir -p .cache
: > "$log_file"
[[ -x .venv/bin/python ]] || fail "the main venv is missing; run 'bash infra/setup.sh' first"

python_bin=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python_bin="$(command -v "$candidate")"; break
  fi
done
[[ -n "$python_bin" ]] || fail "Python 3.11 is required (python3.11 or python3 on PATH)"

# The stamp keys on the requirement list and this script, so editing either reinstalls.
stamp="$venv/.sluice-installed"
want="$( { printf '%s\n' "${requirements[@]}"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
  progress "creating $venv with $python_bin"
  "$python_bin" -m venv "$venv" >> "$log_file" 2>&1 || fail "could not create $venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  progress "installing ${requirements[*]} into $venv (~120 MB download on a fresh machine)"
  { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
    && "$venv/bin/python" -m pip install --disable-pip-version-check "${requirements[@]}"; } >> "$log_file" 2>&1 \
    || fail "pip install into $venv failed"
  rm -rf "$backend_dir"   # a new wheel may ship a new backend: recopy it below
  echo "$want" > "$stamp"
fi

pytriton_dir="$("$venv/bin/python" -c 'import pathlib, pytriton; print(pathlib.Path(pytriton.__file__).parent)')" \
  || fail "pytriton is not importable from $venv"
server_dir="$pytriton_dir/tritonserver"
if [[ ! -f "$backend_dir/.complete" ]]; then
  progress "copying the python backend and the 3.11 stub into $backend_dir"
  rm -rf "$backend_dir.tmp"
  mkdir -p "$backend_dir.tmp"
  cp "$server_dir/backends/python/libtriton_python.so" "$server_dir/backends/python/triton_python_backend_utils.py" \
     "$server_dir/python_backend_stubs/3.11/triton_python_backend_stub" "$backend_dir.tmp/" >> "$log_file" 2>&1 \
    || fail "the nvidia-pytriton wheel lacks the python backend files expected under $server_dir"
  rm -rf "$backend_dir"
  mv "$backend_dir.tmp" "$backend_dir"
  touch "$backend_dir/.complete"
fi
[[ -x "$server_dir/bin/tritonserver" ]] || fail "no tritonserver binary at $server_dir/bin/tritonserver"

progress "building models and assembling .cache/triton/repository (first run: minutes)"
.venv/bin/python -m infra.models.build >> "$log_file" 2>&1 || fail "model build failed"
progress "ready ($(grep -c '^assembled ' "$log_file" || true) model(s) assembled; start with: bash infra/triton/triton.sh start)"
