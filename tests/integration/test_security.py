"""The secure profile on a real broker: SASL_SSL (SCRAM-SHA-512) with ACLs derived from the contract.

This module starts its own broker (infra/kafka/kafka.sh with SLUICE_KAFKA_SECURITY=sasl_ssl) on port 29392 with
fresh storage, certificates and passwords under .data/kafka-test-secure-29392, and stops it at the end; it never
touches the session's PLAINTEXT broker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from services.runtime.acls import derive_acls, describe_acls
from services.runtime.kafka_security import aiokafka_security
from services.runtime.kafka_tools import collect, produce_records
from services.runtime.sample_traffic import valid_records
from services.runtime.settings import RuntimeSettings
from services.runtime.topics import load_contract
from tests.integration.conftest import KAFKA_SCRIPT, REPO, ServiceProcess, free_port

pytestmark = pytest.mark.integration

PORT = 29392
DATA_DIR = REPO / ".data" / f"kafka-test-secure-{PORT}"
BOOTSTRAP = f"127.0.0.1:{PORT}"
REFUSAL_TIMEOUT_S = 20


@dataclass
class SecureBroker:
    data_dir: Path
    namespace: str

    @property
    def security_dir(self) -> Path:
        return self.data_dir / "security"

    @property
    def cafile(self) -> Path:
        return self.security_dir / "certs" / "ca.pem"

    def password_file(self, user: str) -> Path:
        return self.security_dir / "secrets" / f"{user}.password"

    def settings(self, user: str, **overrides) -> RuntimeSettings:
        values = dict(bootstrap_servers=BOOTSTRAP, security_protocol="SASL_SSL", sasl_username=user,
                      sasl_password_file=self.password_file(user), ssl_cafile=self.cafile)
        return RuntimeSettings(**{**values, **overrides})

    def client(self, user: str, **overrides) -> dict:
        return aiokafka_security(self.settings(user, **overrides))

    def topic(self, logical: str) -> str:
        return load_contract().physical(logical, self.namespace)


def _script(action: str, data_dir: Path) -> None:
    env = {**os.environ, "SLUICE_KAFKA_SECURITY": "sasl_ssl", "SLUICE_KAFKA_PORT": str(PORT),
           "SLUICE_KAFKA_DATA_DIR": str(data_dir), "SLUICE_SECURITY_DIR": str(data_dir / "security")}
    subprocess.run([str(KAFKA_SCRIPT), action], env=env, check=True, timeout=180)


def _prepare(broker: SecureBroker) -> None:
    """Topics and ACLs through the CLI as admin, exactly as `make secure-up` does."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLUICE_SASL_PASSWORD")}
    env.update({"SLUICE_BOOTSTRAP_SERVERS": BOOTSTRAP, "SLUICE_NAMESPACE": broker.namespace,
                "SLUICE_SECURITY_PROTOCOL": "SASL_SSL", "SLUICE_SASL_USERNAME": "admin",
                "SLUICE_SASL_PASSWORD_FILE": str(broker.password_file("admin")),
                "SLUICE_SSL_CAFILE": str(broker.cafile)})
    for command in (["topics", "bootstrap"], ["acls", "apply"]):
        result = subprocess.run([sys.executable, "-m", "services.runtime.cli", *command], env=env, cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("acls: ") and "not in the contract" not in result.stdout, result.stdout


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[SecureBroker]:
    _script("stop", DATA_DIR)  # a broker left over by an interrupted run
    # Fresh storage every time; certificates and passwords (DATA_DIR/security) are kept, as make_certs.sh and
    # kafka.sh reuse valid ones, and the new storage gets its users from the same password files.
    for entry in DATA_DIR.glob("*"):
        if entry.name != "security":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    _script("start", DATA_DIR)
    try:
        broker = SecureBroker(DATA_DIR, f"s{uuid.uuid4().hex[:10]}")
        _prepare(broker)
        yield broker
    finally:
        _script("stop", DATA_DIR)


async def _connect_admin(**options) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000, **options)
    try:
        await asyncio.wait_for(client.start(), REFUSAL_TIMEOUT_S)
        await asyncio.wait_for(client.list_topics(), REFUSAL_TIMEOUT_S)
    finally:
        await client.close()


async def _read(options: dict, topic: str, partitions: int, expect: int = 0) -> tuple[list, bool]:
    """Records read from `topic` without a consumer group (so only topic ACLs matter) and whether the broker
    refused the topic to this principal: either the Fetch is refused (TopicAuthorizationFailedError) or, when the
    metadata request already was, aiokafka only logs and waits, and the refusal is in the client's cluster state."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False,
                                auto_offset_reset="earliest", **options)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        records: list = []
        deadline = asyncio.get_running_loop().time() + 5
        refused = False
        while asyncio.get_running_loop().time() < deadline:
            try:
                batch = await consumer.getmany(timeout_ms=200)
            except TopicAuthorizationFailedError:  # the broker refused the Fetch itself
                return records, True
            records.extend(record for rs in batch.values() for record in rs)
            refused = topic in consumer._client.cluster.unauthorized_topics
            if refused or (expect and len(records) >= expect):
                break
        return records, refused
    finally:
        await consumer.stop()


async def test_admin_authenticates_and_the_plan_is_on_the_broker(secure_broker):
    plan = derive_acls(load_contract(), secure_broker.namespace)
    client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **secure_broker.client("admin"))
    await client.start()
    try:
        assert set(await describe_acls(client, plan.principals())) == set(plan.bindings)
    finally:
        await client.close()


async def test_unauthenticated_plaintext_client_is_refused(secure_broker):
    with pytest.raises((KafkaError, OSError, asyncio.TimeoutError)):
        await _connect_admin()


async def test_wrong_password_is_refused(secure_broker):
    with pytest.raises((KafkaError, OSError, asyncio.TimeoutError)):
        await _connect_admin(**secure_broker.client("features", sasl_password="not-the-password"))
    log = (secure_broker.data_dir / "logs" / "server.log").read_text(errors="replace")
    assert "Authentication failed" in log or "SaslAuthenticationException" in log or "invalid credentials" in log


async def test_tls_with_an_untrusted_ca_is_refused(secure_broker, tmp_path):
    other_ca = tmp_path / "other-certs"
    subprocess.run([str(REPO / "infra" / "security" / "make_certs.sh"), str(other_ca)], check=True, timeout=60,
                   capture_output=True)
    with pytest.raises((KafkaError, OSError, ssl.SSLError, asyncio.TimeoutError)):
        await _connect_admin(**secure_broker.client("admin", ssl_cafile=other_ca / "ca.pem"))


async def test_only_raw_text_readers_may_read_raw_text(secure_broker):
    raw, validated = secure_broker.topic("turns.raw"), secure_broker.topic("turns.validated")
    record = valid_records(1, seed=901)[0]
    # External producers (User:clients) may write raw turns but not read them back.
    await produce_records(BOOTSTRAP, raw, [(record.key, record.value, record.headers)],
                          security=secure_broker.client("clients"))
    for user, topic in [("guardrails", raw), ("guardrails", validated), ("clients", raw), ("inference", raw),
                        ("clients", secure_broker.topic("deadletter"))]:
        records, refused = await _read(secure_broker.client(user), topic, 6)
        assert refused and not records, f"{user} could read {topic}"
    # The same read succeeds for ingestion, the consumer of raw turns.
    records, refused = await _read(secure_broker.client("ingestion"), raw, 6, expect=1)
    assert not refused and [r.value for r in records] == [record.value]
    # A principal is not denied everything: guardrails reads its own input.
    records, refused = await _read(secure_broker.client("guardrails"), secure_broker.topic("predictions"), 6)
    assert not refused
    # ...and may not write what it does not produce.
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **secure_broker.client("guardrails"))
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(validated, b"{}", key=b"k")
    finally:
        await producer.stop()


async def test_ingestion_runs_with_a_secret_file_on_the_secure_broker(secure_broker, tmp_path):
    records = valid_records(20, seed=902)
    await produce_records(BOOTSTRAP, secure_broker.topic("turns.raw"),
                          [(r.key, r.value, r.headers) for r in records], security=secure_broker.client("clients"))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLUICE_SASL_PASSWORD")}
    env.update({
        "SLUICE_BOOTSTRAP_SERVERS": BOOTSTRAP, "SLUICE_NAMESPACE": secure_broker.namespace,
        "SLUICE_STATE_DIR": str(tmp_path / "state"), "SLUICE_LOG_LEVEL": "WARNING",
        "SLUICE_INGESTION_HTTP_PORT": str(port),
        "SLUICE_SECURITY_PROTOCOL": "SASL_SSL", "SLUICE_SASL_USERNAME": "ingestion",
        "SLUICE_SASL_PASSWORD_FILE": str(secure_broker.password_file("ingestion")),
        "SLUICE_SSL_CAFILE": str(secure_broker.cafile),
    })
    service = ServiceProcess("ingestion", env, tmp_path / "ingestion.log", port)
    try:
        service.start(ready_timeout_s=60)
        # features is the principal that may read validated turns.
        validated = await collect(BOOTSTRAP, secure_broker.topic("turns.validated"), None, expect=len(records),
                                  timeout_s=45, settle_s=0, security=secure_broker.client("features"))
        assert len(validated) >= len(records), service.log_tail()
        assert service.stop() == 0, service.log_tail()
    finally:
        if service.process is not None and service.process.poll() is None:
            service.kill()
    assert "TopicAuthorizationFailed" not in service.log_tail(200)
