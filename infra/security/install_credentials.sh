#!/usr/bin/env bash
# The secure compose profile's `credentials` job (root, no network): copies the docker secrets onto the
# sluice-credentials volume, one directory per container, owned by that container's user and readable by it
# alone. Compose mounts file secrets with the host's owner and mode, which those users cannot read.
set -euo pipefail
src=/run/secrets
dst=/credentials
kafka_uid=1000        # appuser in the apache/kafka image
sluice_uid=10001      # the Sluice image's user (Dockerfile)
principals="admin ingestion features inference guardrails feedback drift clients"

put() {  # put OWNER MODE SOURCE TARGET
  install -o "$1" -g "$1" -m "$2" "$3" "$4.tmp"
  mv -f "$4.tmp" "$4"
}

install -d -o "$kafka_uid" -g "$kafka_uid" -m 0500 "$dst/kafka"
put "$kafka_uid" 0400 "$src/kafka_keystore" "$dst/kafka/broker-keystore.pem"
put "$kafka_uid" 0444 "$src/kafka_ca" "$dst/kafka/ca.pem"
for principal in $principals; do
  put "$kafka_uid" 0400 "$src/${principal}_password" "$dst/kafka/$principal.password"
done
# admin serves the topics and acls jobs; clients has no container here.
for principal in admin ingestion features inference guardrails feedback drift; do
  install -d -o "$sluice_uid" -g "$sluice_uid" -m 0500 "$dst/$principal"
  put "$sluice_uid" 0400 "$src/${principal}_password" "$dst/$principal/password"
  put "$sluice_uid" 0444 "$src/kafka_ca" "$dst/$principal/ca.pem"
done
echo "credentials: installed for kafka and $principals"
