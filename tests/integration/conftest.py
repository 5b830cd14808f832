"""Fixtures that start real components: the Kafka broker (once per test session) and service processes.

The broker is started by the test session itself, on its own port and data directory, so tests
never touch a developer's running broker. Every test gets its own namespace: unique topics and
consumer groups.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.runtime.bootstrap import bootstrap_topics
from services.runtime.topics import load_contract

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "infra" / "kafka" / "kafka.sh"
TEST_KAFKA_PORT = int(os.environ.get("SLUICE_TEST_KAFKA_PORT", "29092"))
TRITON_SCRIPT = REPO / "infra" / "triton" / "triton.sh"
TEST_TRITON_HTTP_PORT = int(os.environ.get("SLUICE_TEST_TRITON_HTTP_PORT", "28000"))


@dataclass
class Broker:
    bootstrap: str
    port: int
    data_dir: Path
    controller_port: int | None = None  # None: kafka.sh's default, port + 1

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "SLUICE_KAFKA_PORT": str(self.port), "SLUICE_KAFKA_DATA_DIR": str(self.data_dir)}
        if self.controller_port is not None:
            env["SLUICE_KAFKA_CONTROLLER_PORT"] = str(self.controller_port)
        return env

    def run(self, action: str) -> None:
        subprocess.run([str(KAFKA_SCRIPT), action], env=self._env(), check=True, timeout=180)

    def is_running(self) -> bool:
        return subprocess.run([str(KAFKA_SCRIPT), "status"], env=self._env(), capture_output=True).returncode == 0


def start_broker(port: int, data_dir: Path, controller_port: int | None = None) -> Broker:
    broker = Broker(f"127.0.0.1:{port}", port, data_dir, controller_port)
    broker.run("start")
    return broker


@pytest.fixture(scope="session")
def kafka() -> Iterator[Broker]:
    broker = Broker(f"127.0.0.1:{TEST_KAFKA_PORT}", TEST_KAFKA_PORT, REPO / ".data" / f"kafka-test-{TEST_KAFKA_PORT}")
    started_here = not broker.is_running()
    if started_here:
        # Fresh storage each session: old test namespaces would only slow the broker's start.
        shutil.rmtree(broker.data_dir, ignore_errors=True)
        broker.run("start")
    yield broker
    if started_here:
        broker.run("stop")


@dataclass
class Triton:
    """The real Triton server (CPU, from the nvidia-pytriton wheel) on test ports, driven by its launcher."""

    http_port: int
    data_dir: Path

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.http_port + 1}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "SLUICE_TRITON_HTTP_PORT": str(self.http_port),
                "SLUICE_TRITON_GRPC_PORT": str(self.http_port + 1),
                "SLUICE_TRITON_METRICS_PORT": str(self.http_port + 2),
                "SLUICE_TRITON_DATA_DIR": str(self.data_dir)}

    def run(self, action: str) -> None:
        subprocess.run([str(TRITON_SCRIPT), action], env=self._env(), check=True, timeout=240)

    def is_running(self) -> bool:
        return subprocess.run([str(TRITON_SCRIPT), "status"], env=self._env(), capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def triton() -> Iterator[Triton]:
    server = Triton(TEST_TRITON_HTTP_PORT, REPO / ".data" / f"triton-test-{TEST_TRITON_HTTP_PORT}")
    started_here = not server.is_running()
    if started_here:
        server.run("start")
    yield server
    if started_here or server.is_running():
        server.run("stop")


@pytest.fixture
def namespace(kafka: Broker) -> str:
    """A fresh namespace with every contract topic created: isolated topics and consumer groups."""
    name = f"t{uuid.uuid4().hex[:10]}"
    asyncio.run(bootstrap_topics(kafka.bootstrap, load_contract(), name))
    return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_broker_ports() -> tuple[int, int]:
    """A client and a controller port, both free now: port + 1 (kafka.sh's default controller port) is an
    ephemeral port that any outgoing connection may hold."""
    with socket.socket() as client, socket.socket() as controller:
        client.bind(("127.0.0.1", 0))
        controller.bind(("127.0.0.1", 0))
        return client.getsockname()[1], controller.getsockname()[1]


@dataclass
class ServiceProcess:
    """A service run as its own OS process, exactly as `sluice run <service>` runs it."""

    service: str
    env: dict[str, str]
    log_path: Path
    http_port: int
    process: subprocess.Popen | None = None
    restarts: int = field(default=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, ready_timeout_s: float = 90.0) -> "ServiceProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.runtime.cli", "run", self.service],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited with {self.process.returncode}; log: {self.log_tail()}")
            if self.http_get("/readyz")[0] == 200:
                return self
            time.sleep(0.1)
        raise TimeoutError(f"{self.service} not ready after {ready_timeout_s}s; log: {self.log_tail()}")

    def http_get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait: the graceful path."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> int:
        assert self.process is not None
        self.process.kill()
        return self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def service_factory(kafka: Broker, namespace: str, tmp_path: Path):
    started: list[ServiceProcess] = []

    def make(service: str, **extra_env: str) -> ServiceProcess:
        port = free_port()
        env = {
            **os.environ,
            "SLUICE_BOOTSTRAP_SERVERS": kafka.bootstrap,
            "SLUICE_NAMESPACE": namespace,
            "SLUICE_STATE_DIR": str(tmp_path / "state"),
            "SLUICE_LOG_LEVEL": "WARNING",
            f"SLUICE_{service.upper()}_HTTP_PORT": str(port),
            **extra_env,
        }
        proc = ServiceProcess(service, env, tmp_path / f"{service}.log", port)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        if proc.process is not None and proc.process.poll() is None:
            proc.kill()
