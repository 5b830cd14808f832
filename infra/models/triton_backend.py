"""Plumbing every Sluice python-backend model shares: instance kind -> onnxruntime providers, config
parameters, text inputs of a dynamic batch, and per-request answers. Copied next to each model.py at assembly
(build.yaml `modules`); imports nothing from Triton so it also loads in-process.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Sequence


def providers_for(args: dict) -> list:
    """onnxruntime providers for the instance Triton created: CUDA on a GPU instance, else the CPU."""
    if args["model_instance_kind"] == "GPU":
        # No CPU fallback: a GPU instance silently running on the CPU would hide a broken CUDA setup.
        return [("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])})]
    return ["CPUExecutionProvider"]


def parameter(args: dict, key: str, default: str) -> str:
    """A `parameters { key: ... value: { string_value: ... } }` entry of the model's config.pbtxt."""
    parameters = json.loads(args["model_config"]).get("parameters", {})
    return parameters.get(key, {}).get("string_value", default)


def request_texts(pb_utils: Any, requests: Sequence[Any], name: str = "TEXT") -> tuple[list[str], list[int]]:
    """Every text of every request of a dynamic batch, and how many each request sent."""
    texts: list[str] = []
    counts: list[int] = []
    for request in requests:
        column = pb_utils.get_input_tensor_by_name(request, name).as_numpy().reshape(-1)
        counts.append(len(column))
        texts.extend(value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
                     for value in column)
    return texts, counts


def per_request(rows: Sequence[Any], counts: Sequence[int]) -> Iterator[Sequence[Any]]:
    """Split a batch's rows back into each request's share."""
    start = 0
    for count in counts:
        yield rows[start:start + count]
        start += count


def error_responses(pb_utils: Any, requests: Sequence[Any], model: str, error: Exception) -> list:
    """One failed batch answers each of its requests with the error instead of killing the stub."""
    message = f"{model} failed: {type(error).__name__}: {error}"
    return [pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message)) for _ in requests]
