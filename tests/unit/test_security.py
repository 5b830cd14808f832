"""Secure profile without a broker: ACLs derived from the contract, settings -> client options, secret files."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import faust
import pytest

from services.runtime.acls import (
    CLIENTS, RAW_TEXT_READERS, RAW_TEXT_TOPICS, AclBinding, Operation, PatternType, RawTextLeak, ResourceType,
    check_raw_text_readers, derive_acls, principal,
)
from services.runtime.kafka_security import (
    KafkaSecurityError, aiokafka_security, faust_credentials, read_secret_file, sasl_password,
)
from services.runtime.settings import RuntimeSettings
from services.runtime.topics import TopicContract, load_contract

REPO = Path(__file__).resolve().parents[2]
NS = "sluice"


@pytest.fixture(scope="module")
def contract() -> TopicContract:
    return load_contract()


def _allowed(plan, who: str, operation: Operation, resource: str) -> bool:
    return any(b.principal == principal(who) and b.operation is operation and b.resource_name == resource
               for b in plan.bindings)


# --- ACL derivation ---------------------------------------------------------------------------------------


def test_raw_text_is_readable_only_by_ingestion_and_features(contract):
    plan = derive_acls(contract, NS)
    readers = {b.principal for b in plan.bindings if b.operation is Operation.READ
               and b.resource_type is ResourceType.TOPIC
               and b.resource_name in {contract.physical(t, NS) for t in RAW_TEXT_TOPICS}}
    assert readers == {"User:ingestion", "User:features"}
    assert {"turns.raw", "turns.validated"} <= RAW_TEXT_TOPICS
    assert _allowed(plan, "ingestion", Operation.READ, "sluice.turns.raw")
    assert _allowed(plan, "features", Operation.READ, "sluice.turns.validated")
    # Dead letters keep the original record: the contract's `clients` consumer gets no READ on them.
    assert ("User:clients", "deadletter") in plan.withheld
    assert not _allowed(plan, CLIENTS, Operation.READ, "sluice.deadletter")


def test_every_contract_consumer_and_producer_is_covered(contract):
    plan = derive_acls(contract, NS)
    withheld = set(plan.withheld)
    for spec in contract.topics:
        name = contract.physical(spec.name, NS)
        for producer in spec.producers:
            assert _allowed(plan, producer, Operation.WRITE, name), (producer, spec.name)
            assert _allowed(plan, producer, Operation.DESCRIBE, name), (producer, spec.name)
        for consumer in spec.consumers:
            if (principal(consumer), spec.name) in withheld:
                continue
            assert _allowed(plan, consumer, Operation.READ, name), (consumer, spec.name)
            assert _allowed(plan, consumer, Operation.DESCRIBE, name), (consumer, spec.name)
    # ingestion's HTTP endpoint runs inside ingestion and produces as ingestion.
    assert _allowed(plan, "ingestion", Operation.WRITE, "sluice.turns.raw")
    # Changelogs belong to their service.
    assert _allowed(plan, "features", Operation.WRITE, "sluice.features.conversations-changelog")
    assert _allowed(plan, "features", Operation.READ, "sluice.features.conversations-changelog")


def test_nothing_beyond_the_contract_is_granted(contract):
    plan = derive_acls(contract, NS)
    for binding in plan.bindings:
        if binding.resource_type is not ResourceType.TOPIC:
            continue
        assert binding.pattern is PatternType.LITERAL
        spec = contract.get(binding.resource_name.removeprefix(f"{NS}."))
        names = spec.consumers if binding.operation is Operation.READ else spec.producers + spec.consumers
        assert binding.principal in {principal(n) for n in names}, binding
    assert not _allowed(plan, "guardrails", Operation.READ, "sluice.turns.raw")
    assert not _allowed(plan, "guardrails", Operation.WRITE, "sluice.turns.validated")


def test_groups_and_transactional_ids_follow_the_service_names(contract):
    plan = derive_acls(contract, "t1")
    services = ("ingestion", "features", "inference", "guardrails", "feedback", "drift")
    for service in services:
        # faust's group id is the app id, "<namespace>.<service>" (services/runtime/service.py).
        assert AclBinding(f"User:{service}", ResourceType.GROUP, f"t1.{service}", PatternType.LITERAL,
                          Operation.READ) in plan.bindings
        assert AclBinding(f"User:{service}", ResourceType.TRANSACTIONAL_ID, f"t1.{service}.", PatternType.PREFIXED,
                          Operation.WRITE) in plan.bindings
    groups = {b.resource_name for b in plan.bindings if b.resource_type is ResourceType.GROUP}
    assert groups == {f"t1.{s}" for s in services} | {"t1.clients"}
    assert set(plan.principals()) == {f"User:{s}" for s in (*services, "clients")}


def test_a_contract_giving_raw_text_to_another_service_is_refused(contract):
    leaky = contract.model_copy(update={"topics": tuple(
        spec.model_copy(update={"consumers": (*spec.consumers, "guardrails")}) if spec.name == "turns.raw" else spec
        for spec in contract.topics)})
    with pytest.raises(RawTextLeak, match="guardrails"):
        derive_acls(leaky, NS)


@pytest.mark.parametrize("binding", [
    AclBinding("User:guardrails", ResourceType.TOPIC, "sluice.turns.raw", PatternType.LITERAL, Operation.READ),
    AclBinding("User:clients", ResourceType.TOPIC, "sluice.turns.", PatternType.PREFIXED, Operation.READ),
    AclBinding("User:drift", ResourceType.TOPIC, "sluice.deadletter", PatternType.LITERAL, Operation.READ),
    AclBinding("User:inference", ResourceType.TOPIC, "*", PatternType.LITERAL, Operation.READ),
], ids=["literal", "prefix", "deadletter", "wildcard"])
def test_a_raw_text_read_for_anyone_else_is_refused(contract, binding):
    with pytest.raises(RawTextLeak):
        check_raw_text_readers([binding], contract, NS)


def test_raw_text_readers_and_writes_pass_the_check(contract):
    allowed = [
        AclBinding("User:features", ResourceType.TOPIC, "sluice.turns.validated", PatternType.LITERAL, Operation.READ),
        AclBinding("User:clients", ResourceType.TOPIC, "sluice.turns.raw", PatternType.LITERAL, Operation.WRITE),
        AclBinding("User:guardrails", ResourceType.TOPIC, "sluice.deadletter", PatternType.LITERAL, Operation.WRITE),
    ]
    check_raw_text_readers(allowed, contract, NS)
    assert RAW_TEXT_READERS == {"ingestion", "features"}


# --- settings -> client options -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run([str(REPO / "infra" / "security" / "make_certs.sh"), str(directory)], check=True,
                   capture_output=True, timeout=60)
    return directory


def _secure(**values) -> RuntimeSettings:
    return RuntimeSettings(security_protocol="SASL_SSL", **values)


def test_plaintext_needs_no_options(monkeypatch):
    for name in ("SLUICE_SECURITY_PROTOCOL", "SLUICE_SASL_USERNAME", "SLUICE_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = RuntimeSettings()
    assert settings.security_protocol == "PLAINTEXT"
    assert aiokafka_security(settings) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_settings_become_aiokafka_and_faust_options(tmp_path, certs):
    secret = tmp_path / "ingestion.password"
    secret.write_text("s3cret\n")
    settings = _secure(sasl_username="ingestion", sasl_password_file=secret, ssl_cafile=certs / "ca.pem")
    options = aiokafka_security(settings)
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ingestion", "sasl_plain_password": "s3cret",
    }
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert any("Sluice local CA" in str(ca.get("subject")) for ca in context.get_ca_certs())

    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("ingestion", "s3cret")
    # faust hands these to aiokafka unchanged.
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
    assert credentials_to_aiokafka_auth(credentials)["sasl_plain_password"] == "s3cret"


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-file")
    monkeypatch.setenv("SLUICE_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SLUICE_SASL_USERNAME", "features")
    monkeypatch.setenv("SLUICE_SASL_PASSWORD_FILE", str(secret))
    monkeypatch.delenv("SLUICE_SASL_PASSWORD", raising=False)
    settings = RuntimeSettings()
    assert (settings.security_protocol, settings.sasl_username) == ("SASL_SSL", "features")
    assert sasl_password(settings) == "from-file"
    assert "from-file" not in repr(settings)
    monkeypatch.setenv("SLUICE_SASL_PASSWORD", "from-env")
    settings = RuntimeSettings()
    assert sasl_password(settings) == "from-env"  # the documented precedence: env over file
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize(("values", "message"), [
    ({"sasl_password": "x"}, "SLUICE_SASL_USERNAME"),
    ({"sasl_username": "drift"}, "needs a password"),
    ({"sasl_username": "drift", "sasl_password": "x", "ssl_cafile": "/no/such/ca.pem"}, "is not a file"),
], ids=["no-user", "no-password", "missing-ca"])
def test_incomplete_security_settings_are_refused(values, message):
    with pytest.raises(KafkaSecurityError, match=message):
        aiokafka_security(_secure(**values))


# --- secret files and certificates ------------------------------------------------------------------------


def test_secret_file_reading(tmp_path):
    path = tmp_path / "secret"
    path.write_text("pa ss\r\n")
    assert read_secret_file(path) == "pa ss"  # inner spaces are part of the secret; the line end is not
    path.write_text("\n")
    with pytest.raises(KafkaSecurityError, match="is empty"):
        read_secret_file(path)
    with pytest.raises(KafkaSecurityError, match="cannot read secret file"):
        read_secret_file(tmp_path / "missing")


def test_make_certs_is_idempotent_and_has_the_sans(certs):
    before = {p.name: p.read_bytes() for p in certs.iterdir() if p.is_file()}
    result = subprocess.run([str(REPO / "infra" / "security" / "make_certs.sh"), str(certs)], check=True,
                            capture_output=True, text=True, timeout=60)
    assert "present and valid" in result.stderr
    assert {p.name: p.read_bytes() for p in certs.iterdir() if p.is_file()} == before
    san = subprocess.run(["openssl", "x509", "-in", str(certs / "broker.pem"), "-noout", "-ext", "subjectAltName"],
                         check=True, capture_output=True, text=True).stdout
    assert "DNS:localhost" in san and "IP Address:127.0.0.1" in san and "DNS:kafka" in san
    assert (certs / "ca.key").stat().st_mode & 0o077 == 0


# --- the secure compose override ----------------------------------------------------------------------------


def _compose_validator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sluice_validate_secure", REPO / "infra" / "compose" /
                                                  "validate_secure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_secure_compose_override_is_valid(capsys):
    validator = _compose_validator()
    assert validator.main(["--no-cli"]) == 0, capsys.readouterr().out
    merged = validator.merge(validator.base_validator.load_compose(validator.DEFAULT_BASE),
                             validator.base_validator.load_compose(validator.DEFAULT_OVERRIDE))
    kafka_mounts = [validator._volume_target(m) for m in merged["services"]["kafka"]["volumes"]]
    assert kafka_mounts.count("/var/lib/kafka/data") == 1
    assert "kafka-secure-data:/var/lib/kafka/data" in merged["services"]["kafka"]["volumes"]


def _set(path: list, value):
    def mutate(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return mutate


@pytest.mark.parametrize(("mutate", "expected"), [
    (_set(["services", "guardrails", "environment", "SLUICE_SASL_USERNAME"], "ingestion"),
     "service guardrails: runs run guardrails as Kafka user 'ingestion'"),
    (_set(["services", "features", "environment", "SLUICE_SASL_PASSWORD"], "hunter2"),
     "service features: a password in the environment"),
    (_set(["services", "drift", "depends_on"], None), "service drift: must wait for the acls job"),
    (_set(["services", "kafka", "entrypoint"], None), "service kafka: does not run infra/security/"),
    (_set(["services", "inference", "environment", "SLUICE_SECURITY_PROTOCOL"], "PLAINTEXT"),
     "service inference: talks to Kafka without SLUICE_SECURITY_PROTOCOL: SASL_SSL"),
    (_set(["services", "feedback", "volumes"], [{"type": "volume", "source": "sluice-credentials",
                                                  "target": "/run/sluice", "volume": {"subpath": "admin"}}]),
     "service feedback: must mount exactly its own credentials"),
], ids=["wrong-principal", "password-in-env", "no-acls-wait", "plaintext-kafka", "plaintext-client", "admin-creds"])
def test_broken_secure_overrides_are_refused(tmp_path, capsys, mutate, expected):
    import yaml

    validator = _compose_validator()
    doc = validator.base_validator.load_compose(validator.DEFAULT_OVERRIDE)
    mutate(doc)
    path = tmp_path / "docker-compose.secure.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert validator.main(["--no-cli", "--override", str(path)]) == 1
    out = capsys.readouterr().out
    assert expected in out, out


def test_scripts_create_a_user_for_every_principal_of_the_plan(contract):
    import re

    from services.runtime.acls import service_users

    wanted = {"admin", *service_users(derive_acls(contract, NS))}
    scripts = {"infra/kafka/kafka.sh": r'principals="\$\{SLUICE_KAFKA_PRINCIPALS:-([^}]*)\}"',
               "infra/security/kafka_secure_entrypoint.sh": r'^principals="([^"]*)"',
               "infra/security/install_credentials.sh": r'^principals="([^"]*)"'}
    for script, pattern in scripts.items():
        found = re.search(pattern, (REPO / script).read_text(), re.MULTILINE)
        assert found and set(found.group(1).split()) == wanted, script
