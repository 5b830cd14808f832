"""Prompt-injection detector quality on the held-out templates: rules alone, model alone, combined.

    .venv/bin/python -m infra.models.eval_injection [--threshold T]

Computed in-process exactly as served: texts -> services.runtime.injection.model_text -> all-MiniLM-L6-v2
(infra/models/minilm.py) -> the built injection head (.cache/models/heads/injection/1/model.onnx, the file Triton
serves) -> combine(P(attack), rule_hits(text)). Threshold: the shipped INJECTION_THRESHOLD (chosen on training
data by infra/models/train_injection.py). Build first: .venv/bin/python -m infra.models.build embedding heads

Other evaluations import `score_texts(texts) -> list[float]` (combined score, same threshold applies).
"""
from __future__ import annotations

import argparse
import functools
import pathlib
import sys

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EMBEDDING_DIR = REPO_ROOT / ".cache/models/embedding"
HEAD_PATH = REPO_ROOT / ".cache/models/heads/injection/1/model.onnx"


@functools.lru_cache(maxsize=1)
def _models():
    from infra.models.head_runner import OnnxHead
    from infra.models.minilm import Embedder

    if not HEAD_PATH.is_file():
        raise FileNotFoundError(f"{HEAD_PATH} is missing; build it with: .venv/bin/python -m infra.models.build heads")
    return Embedder(EMBEDDING_DIR), OnnxHead(HEAD_PATH)


def model_scores(texts: list[str]) -> np.ndarray:
    """P(attack) of the served head for each text (on its normalised form, as the features service feeds it)."""
    from services.runtime.injection import model_text

    if not texts:
        return np.zeros(0)
    embedder, head = _models()
    embeddings = embedder.embed([model_text(t) for t in texts])
    return head({"EMBEDDING": embeddings})[:, 1].astype(np.float64)


def score_texts(texts: list[str]) -> list[float]:
    """Combined injection score in [0, 1] per text (rules + model); compare with INJECTION_THRESHOLD."""
    from services.runtime.injection import combine, rule_hits

    texts = list(texts)
    return [combine(float(p), rule_hits(t)) for p, t in zip(model_scores(texts), texts)]


def evaluate(threshold: float | None = None, split: str = "heldout") -> dict:
    from infra.models import train_injection as ti
    from infra.models.train_heads import load_dataset
    from services.runtime.injection import INJECTION_THRESHOLD, rule_hits

    threshold = INJECTION_THRESHOLD if threshold is None else threshold
    records = [r for r in load_dataset(REPO_ROOT, "injection") if r["split"] == split]
    y = np.array([ti.LABELS.index(r["label"]) for r in records])
    texts = [r["text"] for r in records]
    return {"threshold": {"value": threshold, "chosen_on": "out-of-fold training scores (shipped INJECTION_THRESHOLD)",
                          "cv_target_fpr": ti.CV_TARGET_FPR, "cv_recall": "-", "cv_fpr": "-"},
            "heldout_at_threshold": ti.evaluate(records, y, model_scores(texts), [rule_hits(t) for t in texts], threshold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None, help="default: the shipped INJECTION_THRESHOLD")
    args = parser.parse_args()
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from infra.models.train_injection import report

    print(report(evaluate(args.threshold)))


if __name__ == "__main__":
    main()
