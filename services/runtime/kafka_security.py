"""Kafka client security from RuntimeSettings: one place that turns settings into faust credentials and
aiokafka client options, so services, the CLI and the admin helpers authenticate the same way.

Password precedence: SLUICE_SASL_PASSWORD, else the file SLUICE_SASL_PASSWORD_FILE (a docker secret);
with SASL_SSL and neither set, the client refuses to start instead of trying an empty password.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    import faust


class KafkaSecurityError(ValueError):
    """The security settings are incomplete or point at something unreadable."""


def read_secret_file(path: Path) -> str:
    """The secret in `path` without its trailing newline (editors and `echo` add one; docker secrets keep it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaSecurityError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
    secret = text.rstrip("\r\n")
    if not secret:
        raise KafkaSecurityError(f"secret file {path} is empty")
    return secret


def sasl_password(settings: RuntimeSettings) -> str:
    if settings.sasl_password is not None and settings.sasl_password.get_secret_value():
        return settings.sasl_password.get_secret_value()
    if settings.sasl_password_file is not None:
        return read_secret_file(settings.sasl_password_file)
    raise KafkaSecurityError(
        "security_protocol=SASL_SSL needs a password: set SLUICE_SASL_PASSWORD_FILE (or SLUICE_SASL_PASSWORD)"
    )


def ssl_context(settings: RuntimeSettings) -> ssl.SSLContext:
    """Verifies the broker certificate and its host name against ssl_cafile (or the system's CAs)."""
    cafile = settings.ssl_cafile
    if cafile is not None and not Path(cafile).is_file():
        raise KafkaSecurityError(f"SLUICE_SSL_CAFILE {cafile} is not a file")
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile is not None else None)
    except ssl.SSLError as exc:
        raise KafkaSecurityError(f"SLUICE_SSL_CAFILE {cafile} is not a PEM CA bundle: {exc}") from None


def _username(settings: RuntimeSettings) -> str:
    if not settings.sasl_username:
        raise KafkaSecurityError("security_protocol=SASL_SSL needs SLUICE_SASL_USERNAME (the Kafka principal)")
    return settings.sasl_username


def aiokafka_security(settings: RuntimeSettings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
    if settings.security_protocol == "PLAINTEXT":
        return {}
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_plain_username": _username(settings),
        "sasl_plain_password": sasl_password(settings),
        "ssl_context": ssl_context(settings),
    }


def faust_credentials(settings: RuntimeSettings) -> faust.SASLCredentials | None:
    """`broker_credentials` for faust.App; None keeps faust's PLAINTEXT default."""
    if settings.security_protocol == "PLAINTEXT":
        return None
    import faust

    return faust.SASLCredentials(
        username=_username(settings), password=sasl_password(settings), ssl_context=ssl_context(settings),
        mechanism=settings.sasl_mechanism,
    )
