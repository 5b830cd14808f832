#!/usr/bin/env bash
# Apache Kafka (KRaft, single node) on loopback without Docker.
#
#   infra/kafka/kafka.sh fetch|start|stop|status|restart|logs|credentials
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
#   SLUICE_KAFKA_SECURITY         plaintext | sasl_ssl            (default plaintext)
# Security mode sasl_ssl (the secure profile, see README "Security profile"):
#   the client listener is SASL_SSL with SCRAM-SHA-512 and the broker certificate from
#   infra/security/make_certs.sh; the KRaft controller listener stays on loopback, SASL/PLAIN as admin;
#   StandardAuthorizer denies what no ACL allows (super user User:admin). The SCRAM users of
#   SLUICE_KAFKA_PRINCIPALS are created when the storage is formatted, each with the password in
#   $SLUICE_SECURITY_DIR/secrets/<principal>.password (generated once, 0600; write your own first to choose it).
#   SLUICE_SECURITY_DIR           certs/ and secrets/             (default <repo>/.data/security)
#   SLUICE_KAFKA_PRINCIPALS       SCRAM users made at format time (default admin, the six services, clients)
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
security="${SLUICE_KAFKA_SECURITY:-plaintext}"
security_dir="${SLUICE_SECURITY_DIR:-$repo/.data/security}"
principals="${SLUICE_KAFKA_PRINCIPALS:-admin ingestion features inference guardrails feedback drift clients}"
case "$security" in plaintext|sasl_ssl) ;; *) echo "kafka: SLUICE_KAFKA_SECURITY must be plaintext or sasl_ssl" >&2; exit 2 ;; esac

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

password_of() {
  local file="$security_dir/secrets/$1.password"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$security_dir/secrets"
    chmod 700 "$security_dir/secrets"
    # Hex keeps the password safe inside JAAS quotes and the --add-scram syntax.
    (umask 077; openssl rand -hex 24 > "$file.tmp" && mv "$file.tmp" "$file")
    log "generated a password for $1 in $file"
  fi
  chmod 600 "$file"
  tr -d '\r\n' < "$file"
}

secure_properties() {
  local admin_password certs="$security_dir/certs"
  admin_password="$(password_of admin)"
  "$repo/infra/security/make_certs.sh" "$certs"
  sed -i -e "s|^listeners=.*|listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port|" \
         -e "s|^advertised.listeners=.*|advertised.listeners=SASL_SSL://127.0.0.1:$port|" \
         -e "s|^inter.broker.listener.name=.*|inter.broker.listener.name=SASL_SSL|" \
         -e "s|^listener.security.protocol.map=.*|listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL|" \
         "$props"
  cat >> "$props" <<PROPS
# --- secure profile (SLUICE_KAFKA_SECURITY=sasl_ssl), written by kafka.sh ---
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
# SCRAM users live in the metadata log, which the controller must read first: its listener uses PLAIN.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_password" user_admin="$admin_password";
ssl.keystore.type=PEM
ssl.keystore.location=$certs/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
PROPS
}

configure() {
  mkdir -p "$data_dir/logs"
  (umask 077; sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
      "$here/server.properties.template" > "$props")
  chmod 600 "$props"  # the secure profile writes the admin password into it
  if [[ "$security" == sasl_ssl ]]; then secure_properties; fi
  if [[ ! -f "$data_dir/log/meta.properties" ]]; then
    local cluster_id scram=() principal
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    if [[ "$security" == sasl_ssl ]]; then
      for principal in $principals; do
        scram+=(--add-scram "SCRAM-SHA-512=[name=$principal,password=$(password_of "$principal")]")
      done
    fi
    log "formatting storage in $data_dir/log (cluster $cluster_id, security $security)"
    java_cmd kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$props" "${scram[@]}" \
        >> "$data_dir/logs/format.log" 2>&1
    echo "$security" > "$data_dir/security-mode"
  fi
  local formatted; formatted="$(cat "$data_dir/security-mode" 2>/dev/null || echo plaintext)"
  if [[ "$formatted" != "$security" ]]; then
    log "$data_dir was formatted for security $formatted, not $security (SCRAM users are made at format time);" \
        "use another SLUICE_KAFKA_DATA_DIR or remove this one"
    return 1
  fi
}

start() {
  if pid="$(running_pid)"; then log "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  if port_open "$port"; then log "port $port is taken by another process"; return 1; fi
  if port_open "$controller_port"; then
    log "controller port $controller_port is taken by another process (set SLUICE_KAFKA_CONTROLLER_PORT)"; return 1
  fi
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
  credentials)  # the secure profile's certificates and passwords, without starting anything (for compose)
    "$repo/infra/security/make_certs.sh" "$security_dir/certs"
    for principal in $principals; do password_of "$principal" > /dev/null; done ;;
  *) echo "usage: $0 fetch|start|stop|restart|status|logs [N]|credentials" >&2; exit 2 ;;
esac
