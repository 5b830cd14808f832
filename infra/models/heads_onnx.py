"""Write a classifier head (dense layers + softmax) as a small ONNX graph with the `onnx` helper API.

Graph: Concat(inputs, axis=1) [only with several inputs] -> (MatMul + Add [+ Relu between layers])* -> Softmax.
Input and output names are the Triton tensor names of the model's contract, so the served model.py just feeds
the request tensors through. Used at build time only (main venv).
"""
from __future__ import annotations

import pathlib
from typing import Sequence

import numpy as np

OPSET = 17
# IR 8 keeps the file loadable by onnxruntime releases older than the one that built it (Triton's venv pins its own).
IR_VERSION = 8


def head_graph(layers: Sequence[tuple[np.ndarray, np.ndarray]], input_names: Sequence[str], input_dim: int,
               output_name: str = "PROBABILITIES", name: str = "head"):
    """layers: [(W (d_in, d_out), b (d_out,)), ...]; ReLU between layers, softmax after the last."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", input_dim]) for n in input_names]
    if len(input_names) > 1:
        nodes.append(helper.make_node("Concat", list(input_names), ["features"], axis=1))
        current = "features"
    else:
        current = input_names[0]
    for i, (weight, bias) in enumerate(layers):
        inits += [numpy_helper.from_array(np.asarray(weight, np.float32), f"W{i}"),
                  numpy_helper.from_array(np.asarray(bias, np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [current, f"W{i}"], [f"mm{i}"]),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"logits{i}"])]
        current = f"logits{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"relu{i}"]))
            current = f"relu{i}"
    nodes.append(helper.make_node("Softmax", [current], [output_name], axis=-1))
    k = int(np.asarray(layers[-1][1]).shape[0])
    output = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", k])
    graph = helper.make_graph(nodes, name, inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sluice-heads")
    model.ir_version = IR_VERSION
    return model


def save(model, path: pathlib.Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(path)  # atomic: a concurrent reader sees the old or the new head, never half a file


def layers_from_logistic(clf) -> list[tuple[np.ndarray, np.ndarray]]:
    """sklearn LogisticRegression -> one dense layer whose softmax equals predict_proba.

    Binary LR computes sigmoid(w.x + b) = softmax([0, w.x + b]), so the negative class gets a zero column.
    """
    coef, intercept = np.asarray(clf.coef_, np.float64), np.asarray(clf.intercept_, np.float64)
    if coef.shape[0] == 1:
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return [(coef.T, intercept)]


def layers_from_mlp(clf) -> list[tuple[np.ndarray, np.ndarray]]:
    """sklearn MLPClassifier (relu hidden layers, softmax output for >2 classes) -> dense layers."""
    if clf.activation != "relu" or clf.out_activation_ != "softmax":
        raise ValueError(f"only relu hidden layers with a softmax output export, got {clf.activation}/{clf.out_activation_}")
    return [(np.asarray(w), np.asarray(b)) for w, b in zip(clf.coefs_, clf.intercepts_)]
