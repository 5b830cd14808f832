"""The torch-free ONNX export of all-MiniLM-L6-v2 reproduces the published sentence-transformers figures.

Reference: the sentence-transformers quickstart (model card of sentence-transformers/all-MiniLM-L6-v2) prints
cosine similarities 0.6660 / 0.1046 / 0.1411 for the three sentences below.
"""
from pathlib import Path

import numpy as np
import pytest

from infra.models.minilm import Embedder

MODEL_DIR = Path(__file__).resolve().parents[2] / ".cache" / "models" / "embedding"
SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
PUBLISHED = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}

pytestmark = pytest.mark.skipif(
    not (MODEL_DIR / "model.onnx").is_file(),
    reason=f"{MODEL_DIR}/model.onnx is not built; run: bash infra/triton/setup.sh "
           "(or .venv/bin/python -m infra.models.build embedding)")


@pytest.fixture(scope="module")
def embedder():
    return Embedder(MODEL_DIR)


def test_published_quickstart_similarities(embedder):
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    similarities = vectors @ vectors.T
    for (i, j), expected in PUBLISHED.items():
        assert similarities[i, j] == pytest.approx(expected, abs=0.002), (i, j, float(similarities[i, j]))


def test_rows_are_unit_length(embedder):
    norms = np.linalg.norm(embedder.embed(SENTENCES + [""]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_padding_does_not_change_a_texts_embedding(embedder):
    # Padded to the longest text of the batch: the mask must keep padding out of attention and pooling.
    alone = embedder.embed([SENTENCES[2]])
    padded = embedder.embed([SENTENCES[2], "a much longer text " * 20])[:1]
    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_texts_are_truncated_at_max_length(embedder):
    long_text = " ".join(f"word{i}" for i in range(400))
    ids, _ = embedder.token_ids([long_text])
    assert ids.shape == (1, 256)
    extended = embedder.embed([long_text + " and a different ending entirely"])
    np.testing.assert_allclose(extended, embedder.embed([long_text]), atol=1e-6)


def test_a_bare_string_is_refused(embedder):
    with pytest.raises(TypeError):
        embedder.embed("not a list")
