"""Run a classifier head's ONNX graph: in-process (tests, evaluation) and as a Triton python-backend model.

Copied next to model.py of the sentiment, toxicity and intent models at assembly (build.yaml `modules`), whose
model.py is then only `from head_runner import TritonHeadModel as TritonPythonModel`. Runs with numpy 1.26
(Triton's venv) and numpy 2 (main venv).
"""
from __future__ import annotations

import json
import pathlib
from typing import Mapping, Sequence

import numpy as np


class OnnxHead:
    """One head graph: named float32 (n, d) inputs -> (n, k) probabilities."""

    def __init__(self, model_path: pathlib.Path, providers: Sequence | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # A head is a few thousand multiply-adds per row: one thread avoids thread-pool wake-ups that cost more
        # than the math and leaves the cores to the embedding model on the same server.
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), sess_options=options,
                                            providers=list(providers or ["CPUExecutionProvider"]))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name
        self.providers = self.session.get_providers()

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {n: np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.input_names}
        (probabilities,) = self.session.run([self.output_name], feed)
        return probabilities


class TritonHeadModel:
    """Triton python-backend model for any head: every request of a dynamic batch goes through one run."""

    def initialize(self, args):
        import triton_python_backend_utils as pb_utils

        self.pb_utils = pb_utils
        version_dir = pathlib.Path(args["model_repository"]) / args["model_version"]
        config = json.loads(args["model_config"])
        self.input_names = [i["name"] for i in config["input"]]
        self.output_name = config["output"][0]["name"]
        from triton_backend import providers_for  # copied beside this module in the served repository

        self.head = OnnxHead(version_dir / "model.onnx", providers=providers_for(args))
        if sorted(self.head.input_names) != sorted(self.input_names) or self.head.output_name != self.output_name:
            raise ValueError(f"{config['name']} v{args['model_version']}: graph I/O {self.head.input_names} -> "
                             f"{self.head.output_name} does not match config {self.input_names} -> {self.output_name}")
        pb_utils.Logger.log_info(f"{config['name']} v{args['model_version']}: loaded with {self.head.providers}")

    def execute(self, requests):
        pb_utils = self.pb_utils
        columns: dict[str, list[np.ndarray]] = {n: [] for n in self.input_names}
        counts = []
        for request in requests:
            for name in self.input_names:
                columns[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            counts.append(len(columns[self.input_names[0]][-1]))
        try:
            probabilities = self.head({n: np.concatenate(v, axis=0) for n, v in columns.items()})
        except Exception as error:  # noqa: BLE001 - answered per request, see error_responses
            from triton_backend import error_responses

            return error_responses(pb_utils, requests, "head", error)
        from triton_backend import per_request

        return [pb_utils.InferenceResponse(output_tensors=[
                    pb_utils.Tensor(self.output_name, np.ascontiguousarray(chunk, dtype=np.float32))])
                for chunk in per_request(probabilities, counts)]
