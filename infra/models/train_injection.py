"""The `injection` head (part of build step `heads`, called from infra/models/train_heads.py): prompt-injection
probability from one turn's all-MiniLM-L6-v2 embedding, plus the operating threshold of the combined score.

Features of a turn (all computed inside the exported ONNX graph, so Triton needs only EMBEDDING):
    the embedding itself (384), max cosine similarity to the attack exemplars and max cosine similarity to the
    benign look-alike exemplars of infra/models/data/injection/exemplars.jsonl (versioned corpus)
-> LogisticRegression (C by grouped 5-fold CV on the training templates) -> softmax over [benign, attack].

Texts are embedded after services.runtime.injection.model_text() (de-obfuscation), as the features service must.
Threshold: the combined score (services.runtime.injection.combine: model P(attack) + rule evidence) is computed
on out-of-fold model scores of the TRAINING records; the chosen threshold is the lowest whose false-positive rate
on benign training turns is <= CV_TARGET_FPR (half the 2% budget, as margin for new phrasings). Held-out templates
are scored only at the end.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

LABELS = ["benign", "attack"]
EXEMPLARS = pathlib.Path("infra/models/data/injection/exemplars.jsonl")
C_GRID = [0.002, 0.01, 0.05, 0.3]
CV_FOLDS = 5
SEED = 0
TARGET_FPR = 0.02       # product target on held-out benign turns
CV_TARGET_FPR = 0.01    # what the threshold is chosen for on out-of-fold training scores (margin)


def load_exemplars(repo_root: pathlib.Path) -> list[dict]:
    rows = [json.loads(line) for line in (repo_root / EXEMPLARS).read_text().splitlines() if line.strip()]
    for r in rows:
        missing = {"id", "text", "category", "label", "version"} - set(r)
        if missing or r["label"] not in LABELS:
            raise ValueError(f"{EXEMPLARS}: bad exemplar {r}")
    if len({r["id"] for r in rows}) != len(rows):
        raise ValueError(f"{EXEMPLARS}: duplicate ids")
    return rows


def exemplar_matrices(embedder, exemplars: list[dict], cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    from infra.models.train_heads import embed_all
    from services.runtime.injection import model_text

    attack = embed_all(embedder, [model_text(r["text"]) for r in exemplars if r["label"] == "attack"], cache=cache)
    benign = embed_all(embedder, [model_text(r["text"]) for r in exemplars if r["label"] == "benign"], cache=cache)
    return attack.astype(np.float64), benign.astype(np.float64)


def similarity_features(embeddings: np.ndarray, attack: np.ndarray, benign: np.ndarray) -> np.ndarray:
    """[embedding, max cos to attack exemplars, max cos to benign look-alikes] - what the ONNX graph computes."""
    e = embeddings.astype(np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return np.concatenate([e, (e @ attack.T).max(axis=1, keepdims=True), (e @ benign.T).max(axis=1, keepdims=True)],
                          axis=1)


def graph(weight: np.ndarray, bias: np.ndarray, attack: np.ndarray, benign: np.ndarray, dim: int = 384):
    """EMBEDDING -> L2-normalise -> [e, max(e.A^T), max(e.B^T)] -> MatMul + Add -> Softmax = PROBABILITIES."""
    from onnx import TensorProto, helper, numpy_helper

    from infra.models import heads_onnx

    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    inits = [numpy_helper.from_array(f32(attack.T), "attack_exemplars_T"),
             numpy_helper.from_array(f32(benign.T), "benign_exemplars_T"),
             numpy_helper.from_array(f32(weight), "W0"), numpy_helper.from_array(f32(bias), "b0")]
    nodes = [
        helper.make_node("LpNormalization", ["EMBEDDING"], ["unit"], axis=1, p=2),
        helper.make_node("MatMul", ["unit", "attack_exemplars_T"], ["sim_attack"]),
        helper.make_node("ReduceMax", ["sim_attack"], ["max_attack"], axes=[1], keepdims=1),
        helper.make_node("MatMul", ["unit", "benign_exemplars_T"], ["sim_benign"]),
        helper.make_node("ReduceMax", ["sim_benign"], ["max_benign"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["unit", "max_attack", "max_benign"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "W0"], ["mm0"]),
        helper.make_node("Add", ["mm0", "b0"], ["logits0"]),
        helper.make_node("Softmax", ["logits0"], ["PROBABILITIES"], axis=-1),
    ]
    g = helper.make_graph(nodes, "injection_v1",
                          [helper.make_tensor_value_info("EMBEDDING", TensorProto.FLOAT, ["batch", dim])],
                          [helper.make_tensor_value_info("PROBABILITIES", TensorProto.FLOAT, ["batch", 2])],
                          initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", heads_onnx.OPSET)], producer_name="sluice-heads")
    model.ir_version = heads_onnx.IR_VERSION
    return model


def threshold_for_fpr(scores: np.ndarray, y: np.ndarray, target_fpr: float) -> float:
    """Lowest threshold (score >= t is an attack) whose false-positive rate on y == 0 is <= target_fpr."""
    benign = np.sort(scores[y == 0])[::-1]
    allowed = int(np.floor(target_fpr * len(benign)))  # benign turns that may score >= t
    # t just above the (allowed+1)-th highest benign score; never below a floor that would make noise an attack.
    cut = benign[allowed] if allowed < len(benign) else -np.inf
    return float(max(np.nextafter(cut, np.inf), 0.05))


def rates(y: np.ndarray, flagged: np.ndarray) -> dict:
    tp, fp = int(np.sum(flagged & (y == 1))), int(np.sum(flagged & (y == 0)))
    fn, tn = int(np.sum(~flagged & (y == 1))), int(np.sum(~flagged & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": int(len(y)), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4), "fpr": round(fp / (fp + tn) if fp + tn else 0.0, 4)}


def breakdown(records: list[dict], y: np.ndarray, flagged: np.ndarray) -> dict:
    """Overall, benign look-alikes (FPR), all benign (FPR) and per attack category (recall)."""
    out = {"overall": rates(y, flagged)}
    lookalike = np.array([r["category"] == "lookalike" for r in records])
    if lookalike.any():
        out["lookalike_fpr"] = round(float(flagged[lookalike].mean()), 4)
        out["lookalike_n"] = int(lookalike.sum())
    out["per_category"] = {}
    for category in sorted({r["category"] for r in records}):
        idx = np.array([r["category"] == category for r in records])
        key = "recall" if y[idx][0] == 1 else "fpr"
        out["per_category"][category] = {"n": int(idx.sum()), key: round(float(flagged[idx].mean()), 4)}
    return out


def evaluate(records: list[dict], y: np.ndarray, model_scores: np.ndarray, hits: list[tuple], threshold: float) -> dict:
    from services.runtime.injection import combine, rule_score

    rule = np.array([rule_score(h) for h in hits])
    combined = np.array([combine(float(m), h) for m, h in zip(model_scores, hits)])
    return {"rules": breakdown(records, y, rule >= threshold), "model": breakdown(records, y, model_scores >= threshold),
            "combined": breakdown(records, y, combined >= threshold)}


def train(repo_root: pathlib.Path, embedder, out: pathlib.Path, cache: dict | None = None) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from infra.models import heads_onnx
    from infra.models.head_runner import OnnxHead
    from infra.models.train_heads import embed_all, fold_standardisation, load_dataset, scores
    from services.runtime.injection import INJECTION_DETECTOR_VERSION, combine, model_text, rule_hits

    records = load_dataset(repo_root, "injection")
    exemplars = load_exemplars(repo_root)
    attack_ex, benign_ex = exemplar_matrices(embedder, exemplars, cache)
    train_r = [r for r in records if r["split"] == "train"]
    held_r = [r for r in records if r["split"] == "heldout"]
    emb_train = embed_all(embedder, [model_text(r["text"]) for r in train_r], cache=cache)
    emb_held = embed_all(embedder, [model_text(r["text"]) for r in held_r], cache=cache)
    x_train = similarity_features(emb_train, attack_ex, benign_ex)
    x_held = similarity_features(emb_held, attack_ex, benign_ex)
    y_train = np.array([LABELS.index(r["label"]) for r in train_r])
    y_held = np.array([LABELS.index(r["label"]) for r in held_r])
    groups = np.array([r["group"] for r in train_r])
    hits_train = [rule_hits(r["text"]) for r in train_r]
    hits_held = [rule_hits(r["text"]) for r in held_r]
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    z_train = (x_train - mean) / scale

    # Grouped CV: out-of-fold P(attack) per C; C chosen by the recall of the COMBINED score at the CV threshold.
    folds = list(StratifiedGroupKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED).split(z_train, y_train, groups))
    grid = {}
    for c in C_GRID:
        oof = np.zeros(len(y_train))
        for tr, te in folds:
            oof[te] = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(z_train[tr], y_train[tr]) \
                .predict_proba(z_train[te])[:, 1]
        combined = np.array([combine(float(m), h) for m, h in zip(oof, hits_train)])
        t = threshold_for_fpr(combined, y_train, CV_TARGET_FPR)
        grid[c] = {"oof": oof, "combined": combined, "threshold": t, "auc_model": round(float(roc_auc_score(y_train, oof)), 4),
                   "cv_recall_combined": round(float(np.mean(combined[y_train == 1] >= t)), 4),
                   "cv_fpr_combined": round(float(np.mean(combined[y_train == 0] >= t)), 4)}
    best = max(C_GRID, key=lambda c: (grid[c]["cv_recall_combined"], grid[c]["auc_model"]))
    threshold = round(grid[best]["threshold"], 4)
    oof = grid[best]["oof"]

    model = LogisticRegression(C=best, class_weight="balanced", max_iter=3000).fit(z_train, y_train)
    [(weight, bias)] = fold_standardisation(heads_onnx.layers_from_logistic(model), mean, scale)
    path = out / "injection" / "1" / "model.onnx"
    heads_onnx.save(graph(weight, bias, attack_ex, benign_ex), path)
    probabilities = OnnxHead(path)({"EMBEDDING": emb_held})
    sk = model.predict_proba((x_held - mean) / scale)
    if not np.allclose(probabilities, sk, atol=1e-4):
        raise RuntimeError(f"injection v1: ONNX export disagrees with sklearn (max diff {np.abs(probabilities - sk).max():.2e})")
    p_held = probabilities[:, 1]

    oof_pred = (oof >= 0.5).astype(int)
    cv_argmax = scores(y_train, oof_pred, LABELS)
    cv = {"model": "logreg+exemplar-sim", "param": "C", "chosen": best, "folds": CV_FOLDS,
          "grid": {str(c): {k: v for k, v in g.items() if k not in ("oof", "combined")} for c, g in grid.items()},
          "accuracy_mean": cv_argmax["accuracy"], "accuracy_std": 0.0, "macro_f1_mean": cv_argmax["macro_f1"],
          "macro_f1_std": 0.0, "note": "accuracy/macro-F1 are of the pooled out-of-fold predictions at 0.5"}
    held = scores(y_held, (p_held >= 0.5).astype(int), LABELS)
    result = {
        "labels": LABELS, "inputs": ["EMBEDDING"], "n_train": len(train_r), "n_heldout": len(held_r),
        "train_groups": int(len(set(groups))), "heldout_groups": len({r["group"] for r in held_r}),
        "detector_version": INJECTION_DETECTOR_VERSION,
        "exemplars": {"attack": int(len(attack_ex)), "benign": int(len(benign_ex)),
                      "versions": sorted({r["version"] for r in exemplars})},
        "threshold": {"value": threshold, "score": "services.runtime.injection.combine(model P(attack), rule_hits)",
                      "chosen_on": "out-of-fold (grouped 5-fold) combined scores of the training records",
                      "cv_target_fpr": CV_TARGET_FPR, "target_fpr": TARGET_FPR,
                      "cv_recall": grid[best]["cv_recall_combined"], "cv_fpr": grid[best]["cv_fpr_combined"]},
        "cv_at_threshold": evaluate(train_r, y_train, oof, hits_train, threshold),
        "heldout_at_threshold": evaluate(held_r, y_held, p_held, hits_held, threshold),
        "versions": {"1": {"cv": cv, "heldout": held}}, "baselines": {},
    }
    return result


def report(result: dict) -> str:
    """The held-out table (rules / model / combined at the chosen threshold)."""
    t = result["threshold"]
    lines = [f"injection threshold {t['value']} (chosen on {t['chosen_on']}: FPR <= {t['cv_target_fpr']}; "
             f"CV recall {t['cv_recall']}, CV FPR {t['cv_fpr']})",
             f"{'held-out':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'FPR':>7}{'look-alike FPR':>16}"]
    h = result["heldout_at_threshold"]
    for name in ("rules", "model", "combined"):
        o = h[name]["overall"]
        lines.append(f"{name:<22}{o['precision']:>10.3f}{o['recall']:>8.3f}{o['f1']:>7.3f}{o['fpr']:>7.3f}"
                     f"{h[name].get('lookalike_fpr', 0):>16.3f}")
    cats = list(h["combined"]["per_category"])
    lines.append(f"{'per category (n)':<28}" + "".join(f"{n:>10}" for n in ("rules", "model", "combined")))
    for c in cats:
        row = h["combined"]["per_category"][c]
        key = "recall" if "recall" in row else "fpr"
        lines.append(f"{c + ' ' + key + ' (' + str(row['n']) + ')':<28}"
                     + "".join(f"{h[n]['per_category'][c][key]:>10.3f}" for n in ("rules", "model", "combined")))
    return "\n".join(lines)
