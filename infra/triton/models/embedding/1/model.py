"""Triton python-backend model ``embedding``: TEXT (TYPE_STRING [1]) -> EMBEDDING (TYPE_FP32 [384]).

Runs all-MiniLM-L6-v2 through ``minilm.Embedder`` (infra/models/minilm.py, copied next to this file at
assembly) so Triton and in-process callers produce the same vectors. Every request of a dynamic batch goes
through ONE onnxruntime call (padded to the longest text of the whole batch), then is split back per request.
"""
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
        import triton_backend
        from triton_backend import parameter, providers_for

        self.backend = triton_backend

        max_length = int(parameter(args, "max_length", "256"))
        # 0 = onnxruntime's default (one thread per core)
        threads = int(parameter(args, "intra_op_threads", "0"))
        providers = providers_for(args)
        self.embedder = Embedder(version_dir, providers=providers, max_length=max_length, intra_op_threads=threads)
        self.logger = pb_utils.Logger
        self.logger.log_info(f"embedding: loaded {version_dir / 'model.onnx'} with {self.embedder.providers}, "
                             f"max_length={max_length}")

    def execute(self, requests):
        backend = self.backend
        texts, counts = backend.request_texts(pb_utils, requests)
        try:
            vectors = self.embedder.embed(texts)
        except Exception as error:  # noqa: BLE001 - answered per request, see error_responses
            return backend.error_responses(pb_utils, requests, "embedding", error)
        return [pb_utils.InferenceResponse(output_tensors=[
                    pb_utils.Tensor("EMBEDDING", np.ascontiguousarray(chunk, dtype=np.float32))])
                for chunk in backend.per_request(vectors, counts)]
