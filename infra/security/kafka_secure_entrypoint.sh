#!/usr/bin/env bash
# Entrypoint of the secure compose profile's Kafka container (apache/kafka image): the same security as
# `SLUICE_KAFKA_SECURITY=sasl_ssl infra/kafka/kafka.sh start` (see there), with the container's listeners:
# SASL_SSL for other containers (kafka:9092) and for the host (EXTERNAL, localhost:19092), the KRaft
# controller on the container's loopback only. Credentials come from /run/sluice (the credentials job).
set -euo pipefail
creds=/run/sluice
work=/tmp/sluice
props="$work/server.properties"
principals="admin ingestion features inference guardrails feedback drift clients"
cluster_id="${CLUSTER_ID:?CLUSTER_ID must be set (docker-compose.yml sets it)}"

password() { tr -d '\r\n' < "$creds/$1.password"; }
admin="$(password admin)"
scram_jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$admin\";"

mkdir -p "$work"
chmod 700 "$work"
umask 077
cat > "$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=SASL_SSL://:9092,EXTERNAL://:19092,CONTROLLER://localhost:9093
advertised.listeners=SASL_SSL://kafka:9092,EXTERNAL://localhost:19092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,EXTERNAL:SASL_SSL
log.dirs=/var/lib/kafka/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.partition.verification.enable=false
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram_jaas
listener.name.external.scram-sha-512.sasl.jaas.config=$scram_jaas
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin";
ssl.keystore.type=PEM
ssl.keystore.location=$creds/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$creds/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
PROPS
# For the healthcheck (kafka-broker-api-versions.sh --command-config).
cat > "$work/admin-client.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram_jaas
ssl.truststore.type=PEM
ssl.truststore.location=$creds/ca.pem
PROPS

scram=()
for principal in $principals; do
  scram+=(--add-scram "SCRAM-SHA-512=[name=$principal,password=$(password "$principal")]")
done
# Users are created only when the storage is new: a password changed later needs kafka-configs.sh
# --alter --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users, or a fresh volume.
/opt/kafka/bin/kafka-storage.sh format --standalone --ignore-formatted -t "$cluster_id" -c "$props" "${scram[@]}"
exec /opt/kafka/bin/kafka-server-start.sh "$props"
