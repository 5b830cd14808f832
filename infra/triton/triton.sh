#!/usr/bin/env bash
# NVIDIA Triton Inference Server (2.51.0, from the nvidia-pytriton wheel) on loopback without Docker.
#
#   infra/triton/triton.sh start|stop|restart|status|logs [N]
#
# Needs `bash infra/triton/setup.sh` (venv, python backend, assembled model repository). `start` refuses to run
# when a model of infra/triton/models/ is not built or its repository copy is stale, and returns once the
# server AND every model of the repository are ready. `status` exits 0 iff that is the case.
# Environment (all optional):
#   SLUICE_TRITON_HTTP_PORT        HTTP port                              (default 18000)
#   SLUICE_TRITON_GRPC_PORT        gRPC port                              (default 18001)
#   SLUICE_TRITON_METRICS_PORT     Prometheus metrics port                (default 18002)
#   SLUICE_TRITON_HOST             address the three ports bind to        (default 127.0.0.1)
#   SLUICE_TRITON_REPOSITORY       model repository                       (default <repo>/.cache/triton/repository)
#   SLUICE_TRITON_BACKENDS         backend directory (holds python/)      (default <repo>/.cache/triton/backends)
#   SLUICE_TRITON_INSTANCE_KIND    cpu|gpu; gpu serves configs/gpu.pbtxt  (default cpu)
#   SLUICE_TRITON_DATA_DIR         pid file and server log                (default <repo>/.data/triton)
#   SLUICE_TRITON_START_TIMEOUT    seconds to wait for readiness          (default 120)
#   SLUICE_TRITON_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL    (default 30)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.venv-triton"
http_port="${SLUICE_TRITON_HTTP_PORT:-18000}"
grpc_port="${SLUICE_TRITON_GRPC_PORT:-18001}"
metrics_port="${SLUICE_TRITON_METRICS_PORT:-18002}"
host="${SLUICE_TRITON_HOST:-127.0.0.1}"
repository="${SLUICE_TRITON_REPOSITORY:-$repo/.cache/triton/repository}"
backends="${SLUICE_TRITON_BACKENDS:-$repo/.cache/triton/backends}"
kind="${SLUICE_TRITON_INSTANCE_KIND:-cpu}"
data_dir="${SLUICE_TRITON_DATA_DIR:-$repo/.data/triton}"
start_timeout="${SLUICE_TRITON_START_TIMEOUT:-120}"
stop_timeout="${SLUICE_TRITON_STOP_TIMEOUT:-30}"
pid_file="$data_dir/triton.pid"
server_log="$data_dir/triton.log"
url="http://127.0.0.1:$http_port"
log_offset=0
[[ "$host" == "127.0.0.1" || "$host" == "0.0.0.0" ]] || url="http://$host:$http_port"

log() { echo "triton: $*" >&2; }

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null && grep -q "tritonserver" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"; return 0
  fi
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { curl -fsS -o /dev/null --max-time 2 "$url$1" 2>/dev/null; }

# Models Triton must serve: every directory of the repository (explicit mode loads them all with --load-model=*).
repository_models() {
  local dir
  for dir in "$repository"/*/; do
    [[ -f "$dir/config.pbtxt" ]] && basename "$dir"
  done
  return 0
}

# Ready = server ready and every model of the repository ready; prints the models not ready yet.
not_ready() {
  if ! http_ok /v2/health/ready; then echo "server"; return 0; fi
  local model
  while read -r model; do
    [[ -n "$model" ]] && ! http_ok "/v2/models/$model/ready" && echo "$model"
  done < <(repository_models)
  return 0
}

preflight() {
  case "$kind" in cpu|gpu) ;; *) log "SLUICE_TRITON_INSTANCE_KIND must be cpu or gpu, got '$kind'"; return 1 ;; esac
  if [[ ! -x "$venv/bin/python" || ! -f "$backends/python/.complete" ]]; then
    log "Triton is not set up ($venv, $backends/python); run: bash infra/triton/setup.sh"; return 1
  fi
  if [[ -x "$repo/.venv/bin/python" ]]; then
    # A model that was never built (or whose sources changed since assembly) must stop start, not vanish.
    if ! (cd "$repo" && SLUICE_TRITON_REPOSITORY="$repository" .venv/bin/python -m infra.models.build --check); then
      log "the model repository is incomplete or stale (above); rebuild with: .venv/bin/python -m infra.models.build"
      return 1
    fi
  elif [[ -z "$(repository_models)" ]]; then
    log "no models in $repository; run: bash infra/triton/setup.sh"; return 1
  fi
}

server_env() {
  local libdir site
  libdir="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  server_bin="$site/pytriton/tritonserver/bin/tritonserver"
  # LIBDIR first: otherwise the stub loads the system libpython against this Python's stdlib (NOTES.md).
  # nvidia_pytriton.libs: the CUDA runtime the binary and the copied stub link against.
  export LD_LIBRARY_PATH="$libdir:$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The python backend finds its interpreter (numpy<2, onnxruntime, tokenizers) as the first python3 on PATH.
  export PATH="$venv/bin:$PATH"
}

start() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $url"
    wait_ready "$pid" "$SECONDS"; return
  fi
  local port
  for port in "$http_port" "$grpc_port" "$metrics_port"; do
    if port_open "$port"; then log "port $port is taken by another process"; return 1; fi
  done
  preflight
  server_env
  mkdir -p "$data_dir"
  local args=(--model-repository="$repository" --backend-directory="$backends"
              --model-control-mode=explicit --load-model='*'
              --http-address="$host" --http-port="$http_port"
              --grpc-address="$host" --grpc-port="$grpc_port"
              --metrics-address="$host" --metrics-port="$metrics_port"
              --exit-timeout-secs="$stop_timeout")
  [[ "$kind" == "gpu" ]] && args+=(--model-config-name=gpu)
  echo "==== $(date -u +%FT%TZ) start kind=$kind repository=$repository" >> "$server_log"
  log_offset="$(stat -c %s "$server_log")"
  local started="$SECONDS"
  # setsid: the server leads its own process group, so a SIGKILL in stop() also reaches its backend stubs.
  setsid nohup "$server_bin" "${args[@]}" >> "$server_log" 2>&1 < /dev/null &
  echo $! > "$pid_file"
  wait_ready "$!" "$started"
}

# Error lines this start wrote (Triton prefixes them E<mmdd>), else its last lines: the options table Triton
# prints on exit would otherwise push the one line that matters out of view.
show_errors() {
  local lines
  lines="$(tail -c "+$((log_offset + 1))" "$server_log" 2>/dev/null | grep -E '^E[0-9]{4} |^error:|Traceback|Error' \
           | grep -v 'Failed to initialize NVML' | tail -n 15 || true)"
  if [[ -n "$lines" ]]; then echo "$lines" >&2; else tail -n 20 "$server_log" >&2 || true; fi
}

wait_ready() {
  local pid="$1" started="$2" deadline=$((SECONDS + start_timeout)) pending=""
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start-up (a model that fails to load stops it); errors in $server_log:"
      show_errors
      rm -f "$pid_file"
      return 1
    fi
    pending="$(not_ready | tr '\n' ' ')"
    if [[ -z "$pending" ]]; then
      log "ready in $((SECONDS - started))s on $url (gRPC :$grpc_port, metrics :$metrics_port, kind $kind," \
          "models: $(repository_models | tr '\n' ' ')pid $pid)"
      return 0
    fi
    sleep 0.2
  done
  log "not ready after ${start_timeout}s (waiting for: $pending); still running (pid $pid), stop it with:" \
      "$0 stop; errors in $server_log:"
  show_errors
  return 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then log "not running"; rm -f "$pid_file"; return 0; fi
  kill -TERM "$pid"
  # Triton drains in-flight requests for up to --exit-timeout-secs; give it that long plus a margin.
  local deadline=$((SECONDS + stop_timeout + 5))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after $((stop_timeout + 5))s, killing its process group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$pid_file"
  log "stopped"
}

status() {
  local pid pending
  if ! pid="$(running_pid)"; then echo "stopped"; return 3; fi
  pending="$(not_ready | tr '\n' ' ')"
  if [[ -z "$pending" ]]; then
    echo "ready pid=$pid http=$url grpc=$host:$grpc_port metrics=$host:$metrics_port kind=$kind" \
         "models=$(repository_models | paste -sd, -)"
    return 0
  fi
  echo "running pid=$pid, not ready: $pending"; return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  logs) tail -n "${2:-100}" "$server_log" ;;
  *) echo "usage: $0 start|stop|restart|status|logs [N]" >&2; exit 2 ;;
esac
