#!/usr/bin/env bash
# Apache Kafka (KRaft, single node) on loopback without Docker.
#
#   infra/kafka/kafka.sh fetch|start|stop|status|restart|logs
#
# Jars are resolved once from Maven Central with mvn into $SLUICE_CACHE_DIR/kafka-<version>/lib.
# Storage is formatted once per data directory and kept across restarts.
# Environment (all optional):
#   SLUICE_KAFKA_PORT             client listener port            (default 19092)
#   SLUICE_KAFKA_CONTROLLER_PORT  KRaft controller port           (default port+1)
#   SLUICE_KAFKA_DATA_DIR         log dirs, logs, pid file        (default <repo>/.data/kafka)
#   SLUICE_CACHE_DIR              jar cache                       (default <repo>/.cache)
#   SLUICE_KAFKA_HEAP             JVM heap                        (default 768m)
#   SLUICE_KAFKA_START_TIMEOUT    seconds to wait for readiness   (default 90)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
port="${SLUICE_KAFKA_PORT:-19092}"
controller_port="${SLUICE_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data_dir="${SLUICE_KAFKA_DATA_DIR:-$repo/.data/kafka}"
cache_dir="${SLUICE_CACHE_DIR:-$repo/.cache}"
lib_dir="$cache_dir/kafka-$kafka_version/lib"
heap="${SLUICE_KAFKA_HEAP:-768m}"
start_timeout="${SLUICE_KAFKA_START_TIMEOUT:-90}"
pid_file="$data_dir/kafka.pid"
props="$data_dir/server.properties"

log() { echo "kafka: $*" >&2; }

fetch() {
  if [[ -f "$lib_dir/.complete" ]]; then return 0; fi
  log "resolving Apache Kafka $kafka_version from Maven Central into $lib_dir"
  rm -rf "$lib_dir.tmp"
  mkdir -p "$cache_dir"
  if ! mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$lib_dir.tmp" > "$cache_dir/mvn-kafka.log" 2>&1; then
    tail -n 30 "$cache_dir/mvn-kafka.log" >&2
    log "mvn could not resolve Kafka $kafka_version (full log: $cache_dir/mvn-kafka.log)"
    return 1
  fi
  rm -rf "$lib_dir"
  mv "$lib_dir.tmp" "$lib_dir"
  touch "$lib_dir/.complete"
}

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"; return 0
  fi
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

java_cmd() {
  java "-Xms256m" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
       -Djava.awt.headless=true \
       "-Dkafka.logs.dir=$data_dir/logs" \
       "-Dlog4j2.configurationFile=$here/log4j2.properties" \
       -cp "$lib_dir/*" "$@"
}

configure() {
  mkdir -p "$data_dir/logs"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
      "$here/server.properties.template" > "$props"
  if [[ ! -f "$data_dir/log/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    log "formatting storage in $data_dir/log (cluster $cluster_id)"
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$props" >> "$data_dir/logs/format.log" 2>&1
  fi
}

start() {
  if pid="$(running_pid)"; then log "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if port_open "$port"; then log "port $port is taken by another process"; return 1; fi
  fetch
  configure
  # The server log survives restarts: readiness must come from a line this process writes.
  local log_offset=0
  [[ -f "$data_dir/logs/server.log" ]] && log_offset="$(stat -c %s "$data_dir/logs/server.log")"
  nohup java "-Xms256m" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      "-Dkafka.logs.dir=$data_dir/logs" "-Dlog4j2.configurationFile=$here/log4j2.properties" \
      -cp "$lib_dir/*" kafka.Kafka "$props" >> "$data_dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pid_file"
  wait_ready "$log_offset"
}

wait_ready() {
  local log_offset="$1" deadline=$((SECONDS + start_timeout)) server_log="$data_dir/logs/server.log"
  while (( SECONDS < deadline )); do
    if ! running_pid > /dev/null; then
      log "broker exited during start-up; last lines of $server_log:"
      tail -n 30 "$server_log" >&2 || true
      return 1
    fi
    if [[ -f "$server_log" ]] && (( $(stat -c %s "$server_log") < log_offset )); then log_offset=0; fi
    if port_open "$port" && tail -c "+$((log_offset + 1))" "$server_log" 2>/dev/null | grep -q "Kafka Server started"; then
      log "ready on 127.0.0.1:$port (pid $(cat "$pid_file"))"
      return 0
    fi
    sleep 0.2
  done
  log "not ready after ${start_timeout}s; see $server_log"
  return 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then log "not running"; rm -f "$pid_file"; return 0; fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "still running after 60s, killing"; kill -KILL "$pid"; fi
  rm -f "$pid_file"
  log "stopped"
}

status() {
  if pid="$(running_pid)"; then
    if port_open "$port"; then echo "running pid=$pid bootstrap=127.0.0.1:$port data=$data_dir"; return 0; fi
    echo "starting pid=$pid"; return 1
  fi
  echo "stopped"; return 3
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  logs) tail -n "${2:-100}" "$data_dir/logs/server.log" ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|logs [N]" >&2; exit 2 ;;
esac
