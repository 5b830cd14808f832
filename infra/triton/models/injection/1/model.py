"""Triton python-backend model ``injection`` version 1: the generic head runner over this version's model.onnx.

infra/models/head_runner.py is copied next to this file at assembly (build.yaml `modules`); the graph is trained
by infra/models/train_injection.py (build step heads). The stub does not reliably put the version directory on sys.path, so it is added.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from head_runner import TritonHeadModel as TritonPythonModel  # noqa: E402

__all__ = ["TritonPythonModel"]  # the name the python backend looks up
