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
        import triton_backend
        from triton_backend import parameter, providers_for

        self.backend = triton_backend

        threshold = float(parameter(args, "threshold", "0.5"))
        # 0 = onnxruntime's default (one thread per core)
        threads = int(parameter(args, "intra_op_threads", "0"))
        providers = providers_for(args)
        self.tagger = RampartTagger(version_dir, providers=providers, threshold=threshold,
                                    intra_op_threads=threads or None)
        pb_utils.Logger.log_info(f"pii_ner: loaded {version_dir / 'model.onnx'} with "
                                 f"{self.tagger.session.get_providers()}, threshold={threshold}")

    def execute(self, requests):
        backend = self.backend
        texts, counts = backend.request_texts(pb_utils, requests)
        try:
            spans = self.tagger.tag(texts)
        except Exception as error:  # noqa: BLE001 - answered per request, see error_responses
            return backend.error_responses(pb_utils, requests, "pii_ner", error)
        responses = []
        for found in backend.per_request(spans, counts):
            encoded = [json.dumps(entry, separators=(",", ":")).encode("utf-8") for entry in found]
            tensor = np.array(encoded, dtype=np.object_).reshape(len(encoded), 1)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SPANS", tensor)]))
        return responses
