"""Asynchronous Triton (gRPC) client with the runtime's failure semantics.

Errors are sorted into the two kinds the fetch step understands (services/runtime/fetch.py):
the server being away, slow or still loading a model is `DependencyUnavailable` (wait, never
dead-letter); a request the server refuses is `BatchRejected` (isolate the bad input). Short
transient faults are retried here with backoff first, so a blip does not count as an outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.runtime.fetch import BatchRejected, DependencyUnavailable

log = logging.getLogger("sluice.triton")

# gRPC status codes that mean "not now" rather than "not this input".
_UNAVAILABLE_CODES = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED",
                      "NOT_FOUND", "UNKNOWN"}
_NUMPY_TO_TRITON = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64",
                    np.dtype(np.int32): "INT32", np.dtype(object): "BYTES", np.dtype(np.bool_): "BOOL"}


@dataclass(frozen=True)
class InferResult:
    outputs: dict[str, np.ndarray]
    latency_ms: float


def status_name(exc: Exception) -> str:
    """The gRPC status of a tritonclient error, e.g. 'UNAVAILABLE' (tritonclient reports 'StatusCode.X')."""
    status = getattr(exc, "status", None)
    text = str(status() if callable(status) else status or "")
    return text.rsplit(".", 1)[-1].upper()


def text_tensor(texts: Sequence[str]) -> np.ndarray:
    """Texts as Triton BYTES of shape [batch, 1]."""
    return np.array([[text.encode("utf-8")] for text in texts], dtype=object)


class TritonClient:
    """One gRPC channel to one Triton server; created in a composition root, connected on first use."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, attempts: int = 3, backoff_s: float = 0.05):
        self.url = url
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client = None

    def _connection(self):
        if self._client is None:
            # Imported here: the gRPC stack is heavy and only services that call models need it.
            from tritonclient.grpc import aio as grpc_aio

            self._client = grpc_aio.InferenceServerClient(url=self.url)
        return self._client

    async def infer(self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str], *,
                    version: str = "", timeout_s: float | None = None) -> InferResult:
        from tritonclient.grpc import InferInput, InferRequestedOutput
        from tritonclient.utils import InferenceServerException

        request_inputs = []
        for name, array in inputs.items():
            tensor = InferInput(name, list(array.shape), _NUMPY_TO_TRITON[array.dtype])
            tensor.set_data_from_numpy(array)
            request_inputs.append(tensor)
        requested = [InferRequestedOutput(name) for name in outputs]
        timeout = timeout_s or self.timeout_s
        attempt = 1
        while True:
            started = time.perf_counter()
            try:
                result = await self._connection().infer(
                    model, request_inputs, model_version=version, outputs=requested, client_timeout=timeout,
                )
                latency_ms = (time.perf_counter() - started) * 1000.0
                return InferResult({name: result.as_numpy(name) for name in outputs}, latency_ms)
            except InferenceServerException as exc:
                code = status_name(exc)
                if code not in _UNAVAILABLE_CODES and "unavailable" not in str(exc).lower():
                    raise BatchRejected(f"{model} v{version or 'default'}: {code}: {exc.message()}") from exc
                if attempt >= self.attempts:
                    raise DependencyUnavailable(f"{model} at {self.url}: {code}: {exc.message()}") from exc
            except (OSError, asyncio.TimeoutError) as exc:
                if attempt >= self.attempts:
                    raise DependencyUnavailable(f"{model} at {self.url}: {exc!r}") from exc
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            attempt += 1

    async def is_ready(self) -> bool:
        try:
            return bool(await self._connection().is_server_ready(client_timeout=self.timeout_s))
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
