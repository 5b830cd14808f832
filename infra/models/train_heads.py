"""Build step `heads`: train the sentiment, toxicity and intent classifier heads on all-MiniLM-L6-v2 embeddings.

    .venv/bin/python -m infra.models.build heads        # via the orchestrator (also assembles the repository)
    .venv/bin/python -m infra.models.train_heads [--force]

Data: infra/models/data/<task>/<task>.jsonl (synthetic, written by us; see the generators there). Records with
split=heldout (whole templates) are never used for training or model selection; they are only scored.
Outputs under .cache/models/heads/:
    <task>/<version>/model.onnx   dense layers + softmax, inputs/outputs named as in contracts/models/<task>.yaml
    metrics.json                  grouped-CV and held-out metrics, baselines
    build.json                    hash of the inputs (data, this code, the embedding model) for idempotency
Heads:
    sentiment/1, toxicity/1   LogisticRegression on EMBEDDING, C chosen by grouped 5-fold CV (macro-F1)
    intent/1 (champion)       LogisticRegression on [TURN_EMBEDDING, CONTEXT_EMBEDDING]
    intent/2 (challenger)     MLP (one ReLU layer) on the same inputs - a different model family to shadow
    injection/1               LogisticRegression on [EMBEDDING, max cosine to attack / look-alike exemplars], plus
                              the threshold of the combined rules+model score (infra/models/train_injection.py)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = pathlib.Path("infra/models/data")
OUT_DIR = pathlib.Path(".cache/models/heads")
EMBEDDING_DIR = pathlib.Path(".cache/models/embedding")

LABELS: dict[str, list[str]] = {
    "sentiment": ["negative", "neutral", "positive"],
    "toxicity": ["non_toxic", "toxic"],
    "intent": ["billing_dispute", "cancel_service", "technical_issue", "account_access", "payment_arrangement",
               "complaint_escalation", "shipping_delivery", "fraud_report", "plan_change", "general_inquiry",
               "greeting", "closing"],
    "injection": ["benign", "attack"],  # trained by infra/models/train_injection.py
}
C_GRID = [0.002, 0.01, 0.05, 0.3]  # on standardised features
CV_FOLDS = 5
SEED = 0
MAX_CONTEXT_TURNS = 3


def context_text(context: list[dict]) -> str:
    """The features stage's context_text: last 3 previous turns, oldest first, "<role>: <text>" per line."""
    return "\n".join(f"{t['role']}: {t['text']}" for t in context[-MAX_CONTEXT_TURNS:])


def load_dataset(repo_root: pathlib.Path, task: str) -> list[dict]:
    path = repo_root / DATA_DIR / task / f"{task}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    unknown = {r["label"] for r in records} - set(LABELS[task])
    if unknown:
        raise ValueError(f"{path}: labels {sorted(unknown)} are not in {LABELS[task]}")
    return records


def embed_all(embedder, texts: list[str], batch: int = 64, cache: dict | None = None) -> np.ndarray:
    """Embed in length-sorted batches (less padding), returned in the input order; `cache` maps text -> vector."""
    cache = {} if cache is None else cache
    todo = sorted({t for t in texts if t not in cache}, key=len)
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        for text, vector in zip(chunk, embedder.embed(chunk)):
            cache[text] = vector
    return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


class EmbeddingCache(dict):
    """text -> vector, kept across builds for one embedding model (keyed by its ONNX hash).

    Editing a dataset then re-embeds only the new texts. The model hash in the file name means a different
    embedding model never reuses stale vectors.
    """

    def __init__(self, path: pathlib.Path):
        super().__init__()
        self.path = path
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                self.update(zip(data["texts"].tolist(), data["vectors"]))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = sorted(self)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        np.savez(tmp, texts=np.array(texts, dtype=str), vectors=np.stack([self[t] for t in texts]).astype(np.float32))
        tmp.replace(self.path)


def features(embedder, task: str, records: list[dict], cache: dict | None = None) -> dict[str, np.ndarray]:
    """Model inputs by Triton tensor name, exactly as the inference service will feed them."""
    if task == "intent":
        both = embed_all(embedder, [r["text"] for r in records] + [context_text(r["context"]) for r in records],
                         cache=cache)
        return {"TURN_EMBEDDING": both[:len(records)], "CONTEXT_EMBEDDING": both[len(records):]}
    return {"EMBEDDING": embed_all(embedder, [r["text"] for r in records], cache=cache)}


def _concat(inputs: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    return np.concatenate([inputs[n] for n in names], axis=1)


def _make(kind: str, param):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if kind == "logreg":
        return LogisticRegression(C=param, class_weight="balanced", max_iter=2000)
    # Full-batch L-BFGS: on ~1000 rows it converges in a fraction of adam's time. No early stopping: it would carve
    # a random (not grouped) validation split out of the training data; L2 (alpha) is chosen by grouped CV instead.
    return MLPClassifier(hidden_layer_sizes=(64,), alpha=param, solver="lbfgs", max_iter=300, random_state=SEED)


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    idx = list(range(len(labels)))
    per_class = f1_score(y_true, y_pred, labels=idx, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=idx, average="macro", zero_division=0)), 4),
        "per_class_f1": {label: round(float(f), 4) for label, f in zip(labels, per_class)},
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": confusion_matrix(y_true, y_pred, labels=idx).tolist()},
    }


def grouped_cv(kind: str, grid: list, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[object, dict]:
    """Pick the hyper-parameter with the best mean macro-F1 over grouped folds (no template in two folds)."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    folds = list(StratifiedGroupKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED).split(x, y, groups))
    results = {}
    for param in grid:
        acc, f1 = [], []
        for train_idx, test_idx in folds:
            model = _make(kind, param).fit(x[train_idx], y[train_idx])
            pred = model.predict(x[test_idx])
            acc.append(accuracy_score(y[test_idx], pred))
            f1.append(f1_score(y[test_idx], pred, average="macro"))
        results[param] = {"accuracy_mean": round(float(np.mean(acc)), 4), "accuracy_std": round(float(np.std(acc)), 4),
                          "macro_f1_mean": round(float(np.mean(f1)), 4), "macro_f1_std": round(float(np.std(f1)), 4)}
    best = max(grid, key=lambda p: results[p]["macro_f1_mean"])
    return best, {"model": kind, "param": "C" if kind == "logreg" else "alpha", "chosen": best, "folds": CV_FOLDS,
                  "grid": {str(p): r for p, r in results.items()}, **results[best]}


# Keyword lexicon baseline for sentiment: what a rule-based system without a model would do.
_NEG = {"not", "never", "worst", "terrible", "ridiculous", "unacceptable", "angry", "furious", "annoyed", "fed",
        "frustrated", "upset", "disappointed", "useless", "waste", "joke", "broken", "wrong", "complaint", "sick",
        "tired", "unfortunately", "sadly", "nightmare", "disgusted", "worried", "stressed", "can't", "cant"}
_POS = {"thanks", "thank", "great", "brilliant", "perfect", "lovely", "appreciate", "happy", "pleased", "excellent",
        "awesome", "fantastic", "wonderful", "love", "glad", "welcome", "relief", "cheers", "good", "nice", "amazing"}


def lexicon_sentiment(text: str) -> int:
    words = [w.strip(".,!?:;") for w in text.lower().split()]
    score = sum(w in _POS for w in words) - sum(w in _NEG for w in words)
    return 2 if score > 0 else 0 if score < 0 else 1


def vader_sentiment_baseline(repo_root: pathlib.Path, texts: list[str]) -> list[int] | None:
    """VADER compound with its documented +-0.05 thresholds, if vaderSentiment was unpacked into .cache/baselines
    (one-off comparison, not a dependency: pip download vaderSentiment --no-deps, unzip there)."""
    vendor = repo_root / ".cache/baselines/vader"
    if not vendor.is_dir():
        return None
    sys.path.insert(0, str(vendor))
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    finally:
        sys.path.remove(str(vendor))
    analyzer = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = analyzer.polarity_scores(t)["compound"]
        out.append(2 if c >= 0.05 else 0 if c <= -0.05 else 1)
    return out


def _inputs_hash(repo_root: pathlib.Path) -> str:
    h = hashlib.sha256()
    paths = sorted((repo_root / DATA_DIR).rglob("*.jsonl")) + [
        repo_root / "infra/models/train_heads.py", repo_root / "infra/models/heads_onnx.py",
        repo_root / "infra/models/train_injection.py", repo_root / "services/runtime/injection.py",
        repo_root / EMBEDDING_DIR / "build.json"]
    for p in paths:
        h.update(p.relative_to(repo_root).as_posix().encode())
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    h.update(f"{sys.version_info[:2]}".encode())
    return h.hexdigest()


EXPECTED_OUTPUTS = ["sentiment/1/model.onnx", "toxicity/1/model.onnx", "intent/1/model.onnx", "intent/2/model.onnx",
                    "injection/1/model.onnx", "metrics.json"]


def _by_tag(records: list[dict], y: np.ndarray, pred: np.ndarray) -> dict:
    tags: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        tags.setdefault(r.get("tag", "all"), []).append(i)
    return {tag: {"n": len(idx), "accuracy": round(float(np.mean(pred[idx] == y[idx])), 4)} for tag, idx in sorted(tags.items())}


def fold_standardisation(layers: list, mean: np.ndarray, scale: np.ndarray) -> list:
    """Fold (x - mean) / scale into the first dense layer so the exported graph takes raw embeddings."""
    weight, bias = layers[0]
    weight = np.asarray(weight, np.float64)
    return [(weight / scale[:, None], np.asarray(bias, np.float64) - (mean / scale) @ weight)] + list(layers[1:])


def train_task(repo_root: pathlib.Path, embedder, task: str, out: pathlib.Path, cache: dict | None = None) -> dict:
    from infra.models import heads_onnx

    if task == "injection":  # exemplar-similarity features and a threshold: its own module
        from infra.models import train_injection

        return train_injection.train(repo_root, embedder, out, cache)
    labels = LABELS[task]
    records = load_dataset(repo_root, task)
    train = [r for r in records if r["split"] == "train"]
    held = [r for r in records if r["split"] == "heldout"]
    xs_train, xs_held = features(embedder, task, train, cache), features(embedder, task, held, cache)
    names = list(xs_train)
    y_train = np.array([labels.index(r["label"]) for r in train])
    y_held = np.array([labels.index(r["label"]) for r in held])
    groups = np.array([r["group"] for r in train])
    x_train, x_held = _concat(xs_train, names), _concat(xs_held, names)
    # Standardised features: L2-normalised embeddings have tiny per-dimension scales, which makes L-BFGS crawl;
    # the scaling is folded back into the exported weights (fold_standardisation).
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    x_train, x_held = (x_train - mean) / scale, (x_held - mean) / scale

    result: dict = {"labels": labels, "inputs": names, "n_train": len(train), "n_heldout": len(held),
                    "train_groups": int(len(set(groups))), "heldout_groups": len({r["group"] for r in held}),
                    "versions": {}, "baselines": {}}
    specs = [("1", "logreg", C_GRID)]
    if task == "intent":
        specs.append(("2", "mlp", [1.0, 10.0]))
    for version, kind, grid in specs:
        best, cv = grouped_cv(kind, grid, x_train, y_train, groups)
        model = _make(kind, best).fit(x_train, y_train)
        layers = heads_onnx.layers_from_logistic(model) if kind == "logreg" else heads_onnx.layers_from_mlp(model)
        layers = fold_standardisation(layers, mean, scale)
        path = out / task / version / "model.onnx"
        heads_onnx.save(heads_onnx.head_graph(layers, names, 384, name=f"{task}_v{version}"), path)
        # Score the exported graph, not the sklearn object: the file is what Triton serves.
        from infra.models.head_runner import OnnxHead

        probabilities = OnnxHead(path)(xs_held)
        sk = model.predict_proba(x_held)
        if not np.allclose(probabilities, sk, atol=1e-4):
            raise RuntimeError(f"{task} v{version}: ONNX export disagrees with sklearn (max diff "
                               f"{np.abs(probabilities - sk).max():.2e})")
        pred = probabilities.argmax(axis=1)
        held_scores = scores(y_held, pred, labels)
        held_scores["by_tag"] = _by_tag(held, y_held, pred)
        result["versions"][version] = {"cv": cv, "heldout": held_scores}

    if task == "sentiment":
        texts = [r["text"] for r in held]
        result["baselines"]["keyword_lexicon"] = scores(y_held, np.array([lexicon_sentiment(t) for t in texts]), labels)
        vader = vader_sentiment_baseline(repo_root, texts)
        if vader is not None:
            result["baselines"]["vader_3.3.2"] = scores(y_held, np.array(vader), labels)
    if task == "intent":
        # v1's model and C on the turn alone: what the context is worth (no CV of its own: it is a baseline).
        turn = slice(0, 384)  # TURN_EMBEDDING comes first in the concatenation
        turn_only = _make("logreg", result["versions"]["1"]["cv"]["chosen"]).fit(x_train[:, turn], y_train)
        pred = turn_only.predict(x_held[:, turn])
        result["baselines"]["turn_only_logreg"] = {**scores(y_held, pred, labels), "by_tag": _by_tag(held, y_held, pred)}
    if task == "toxicity":
        result["heldout_toxic_f1"] = result["versions"]["1"]["heldout"]["per_class_f1"]["toxic"]
    return result


def summary(metrics: dict) -> str:
    lines = [f"{'head':<22}{'CV acc':>14}{'CV macro-F1':>16}{'held acc':>10}{'held F1':>9}  notes"]
    for task, m in metrics["tasks"].items():
        for version, v in m["versions"].items():
            cv, h = v["cv"], v["heldout"]
            note = ""
            if task == "toxicity":
                note = f"F1(toxic)={h['per_class_f1']['toxic']:.3f} " + " ".join(
                    f"{t}={s['accuracy']:.3f}" for t, s in h["by_tag"].items())
            if task == "intent":
                note = " ".join(f"{t}={s['accuracy']:.3f}" for t, s in h["by_tag"].items())
            if task == "injection":
                c = m["heldout_at_threshold"]["combined"]
                note = (f"threshold={m['threshold']['value']} held-out recall={c['overall']['recall']:.3f} "
                        f"FPR={c['overall']['fpr']:.3f} look-alike FPR={c.get('lookalike_fpr', 0):.3f}")
            lines.append(f"{task + '/' + version + ' ' + cv['model']:<22}"
                         f"{cv['accuracy_mean']:>8.3f}±{cv['accuracy_std']:.3f}{cv['macro_f1_mean']:>10.3f}±{cv['macro_f1_std']:.3f}"
                         f"{h['accuracy']:>10.3f}{h['macro_f1']:>9.3f}  {note}")
        for name, b in m["baselines"].items():
            h = b.get("heldout", b)
            note = " ".join(f"{t}={s['accuracy']:.3f}" for t, s in h.get("by_tag", {}).items())
            lines.append(f"{'  baseline ' + name:<52}{h['accuracy']:>10.3f}{h['macro_f1']:>9.3f}  {note}")
    return "\n".join(lines)


def build(repo_root: pathlib.Path, force: bool = False) -> None:
    repo_root = pathlib.Path(repo_root)
    out = repo_root / OUT_DIR
    digest = _inputs_hash(repo_root)
    stamp = out / "build.json"
    if (not force and stamp.is_file() and json.loads(stamp.read_text()).get("inputs_sha256") == digest
            and all((out / p).is_file() for p in EXPECTED_OUTPUTS)):
        print(f"heads: up to date ({stamp.relative_to(repo_root)})")
        return
    sys.path.insert(0, str(repo_root))
    from infra.models.minilm import Embedder

    started = time.monotonic()
    embedder = Embedder(repo_root / EMBEDDING_DIR)
    metrics = {"embedding": json.loads((repo_root / EMBEDDING_DIR / "build.json").read_text()).get("model_onnx_sha256"),
               "tasks": {}}
    model_sha = metrics["embedding"] or "unknown"
    cache = EmbeddingCache(out / f"embedding-cache-{model_sha[:16]}.npz")
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    # One BLAS thread: these matrices are small, and a multi-threaded BLAS spent 10-50x more CPU on thread
    # hand-offs than on arithmetic here (measured with 2 busy cores). onnxruntime keeps its own threads.
    with threadpool_limits(limits=1):
        for task in LABELS:
            metrics["tasks"][task] = train_task(repo_root, embedder, task, out, cache)
    cache.save()
    metrics["build_seconds"] = round(time.monotonic() - started, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    stamp.write_text(json.dumps({"inputs_sha256": digest}, indent=2) + "\n")
    print(summary(metrics))
    if "injection" in metrics["tasks"]:
        from infra.models.train_injection import report

        print(report(metrics["tasks"]["injection"]))
    print(f"heads: built in {metrics['build_seconds']}s -> {out.relative_to(repo_root)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="retrain even if the inputs are unchanged")
    args = parser.parse_args()
    build(REPO_ROOT, force=args.force)


if __name__ == "__main__":
    main()
