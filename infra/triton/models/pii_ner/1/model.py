"""Triton python-backend model ``pii_ner``: TEXT (TYPE_STRING [1]) -> SPANS (TYPE_STRING [1], UTF-8 JSON).

Runs Rampart through ``rampart.RampartTagger`` (infra/models/rampart.py, copied next to this file at assembly)
so Triton and in-process evaluation produce the same spans. All texts of a dynamic batch are tagged in one
``tag`` call (windows batched through onnxruntime), then answered per request. Labels are Rampart's own
(GIVEN_NAME, STREET_NAME, ...); ``services.runtime.pii.PiiDetector.parse_ner_spans`` maps them.
"""
import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        version_dir = Path(args["model_repository"]) / args["model_version"]
        # The stub does not reliably put the version directory on sys.path, and rampart.py lives there.
        if str(version_dir) not in sys.path:
            sys.path.insert(0, str(version_dir))
        from rampart import RampartTagger

        config = json.loads(args["model_config"])
        threshold = float(config.get("parameters", {}).get("threshold", {}).get("string_value", "0.5"))
        # 0 = onnxruntime's default (one thread per core)
        threads = int(config.get("parameters", {}).get("intra_op_threads", {}).get("string_value", "0"))
        if args["model_instance_kind"] == "GPU":
            device = int(args["model_instance_device_id"])
            # No CPU fallback: a GPU instance silently running on the CPU would hide a broken CUDA setup.
            providers = [("CUDAExecutionProvider", {"device_id": device})]
        else:
            providers = ["CPUExecutionProvider"]
        self.tagger = RampartTagger(version_dir, providers=providers, threshold=threshold,
                                    intra_op_threads=threads or None)
        pb_utils.Logger.log_info(f"pii_ner: loaded {version_dir / 'model.onnx'} with "
                                 f"{self.tagger.session.get_providers()}, threshold={threshold}")

    def execute(self, requests):
        texts, counts = [], []
        for request in requests:
            column = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            counts.append(len(column))
            texts.extend(value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
                         for value in column)
        try:
            spans = self.tagger.tag(texts)
        except Exception as error:  # one bad batch must answer its requests, not kill the stub
            message = f"pii_ner failed: {type(error).__name__}: {error}"
            return [pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))
                    for _ in requests]
        responses, start = [], 0
        for count in counts:
            encoded = [json.dumps(found, separators=(",", ":")).encode("utf-8")
                       for found in spans[start:start + count]]
            start += count
            tensor = np.array(encoded, dtype=np.object_).reshape(count, 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SPANS", tensor)]))
        return responses
