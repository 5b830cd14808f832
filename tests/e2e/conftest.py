"""End-to-end tests use the same real components as the integration tests: broker, Triton, service processes."""

from tests.integration.conftest import (  # noqa: F401 - fixtures, re-exported for pytest
    kafka, namespace, service_factory, triton,
)
