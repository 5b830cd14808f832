"""Triton python-backend model ``embedding``: TEXT (TYPE_STRING [1]) -> EMBEDDING (TYPE_FP32 [384]).

Runs all-MiniLM-L6-v2 through ``minilm.Embedder`` (infra/models/minilm.py, copied next to this file at
assembly) so Triton and in-process callers produce the same vectors. Every request of a dynamic batch goes
through ONE onnxruntime call (padded to the longest text of the whole batch), then is split back per request.
"""
import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        version_dir = Path(args["model_repository"]) / args["model_version"]
        # The stub does not reliably put the version directory on sys.path, and minilm.py lives there.
        if str(version_dir) not in sys.path:
            sys.path.insert(0, str(version_dir))
        from minilm import Embedder

        config = json.loads(args["model_config"])
        parameters = config.get("parameters", {})
        max_length = int(parameters.get("max_length", {}).get("string_value", "256"))
        # 0 = onnxruntime's default (one thread per core)
        threads = int(parameters.get("intra_op_threads", {}).get("string_value", "0"))
        if args["model_instance_kind"] == "GPU":
            device = int(args["model_instance_device_id"])
            # No CPU fallback: a GPU instance silently running on the CPU would hide a broken CUDA setup.
            providers = [("CUDAExecutionProvider", {"device_id": device})]
        else:
            providers = ["CPUExecutionProvider"]
        self.embedder = Embedder(version_dir, providers=providers, max_length=max_length, intra_op_threads=threads)
        self.logger = pb_utils.Logger
        self.logger.log_info(f"embedding: loaded {version_dir / 'model.onnx'} with {self.embedder.providers}, "
                             f"max_length={max_length}")

    def execute(self, requests):
        texts, counts = [], []
        for request in requests:
            column = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            counts.append(len(column))
            texts.extend(value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
                         for value in column)
        try:
            vectors = self.embedder.embed(texts)
        except Exception as error:  # one bad batch must answer its requests, not kill the stub
            message = f"embedding failed: {type(error).__name__}: {error}"
            return [pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))
                    for _ in requests]
        responses, start = [], 0
        for count in counts:
            chunk = np.ascontiguousarray(vectors[start:start + count], dtype=np.float32)
            start += count
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", chunk)]))
        return responses
