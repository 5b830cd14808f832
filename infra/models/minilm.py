"""In-process all-MiniLM-L6-v2 sentence embeddings over the ONNX graph built by ``infra.models.export_minilm``.

One module for every caller: training and benchmarks import it from the main venv (numpy 2), and the Triton
``embedding`` model copies it next to its model.py (Triton's venv, numpy 1.26) — so it uses only numpy API
that behaves the same in both.

    emb = Embedder(Path(".cache/models/embedding"))
    vectors = emb.embed(["The weather is lovely today."])   # float32 (1, 384), rows L2-normalised
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

DIM = 384
# sentence-transformers' max_seq_length for this model; longer texts are truncated (special tokens included).
DEFAULT_MAX_LENGTH = 256


class Embedder:
    """Tokenise + run the exported graph; the graph does mean pooling and L2 normalisation itself."""

    def __init__(self, model_dir: Path, providers: Sequence[str] | None = None,
                 max_length: int = DEFAULT_MAX_LENGTH, intra_op_threads: int = 0, group_size: int = 32):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        model_path, tokenizer_path = model_dir / "model.onnx", model_dir / "tokenizer.json"
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing; build it with: .venv/bin/python -m infra.models.build "
                                        "embedding")
        if not 2 <= max_length <= 512:
            # 512 = the position table's size; below 2 nothing but [CLS]/[SEP] would fit.
            raise ValueError(f"max_length must be in [2, 512], got {max_length}")
        self.max_length = max_length
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # tokenizer.json ships fixed 128-token padding/truncation; the model was trained with 256, and embed()
        # pads each group of similar-length texts itself (a fixed length wastes compute).
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        self.group_size = group_size
        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(str(model_path), sess_options=options,
                                            providers=list(providers or ["CPUExecutionProvider"]))
        self.providers = self.session.get_providers()

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), int64 (n, longest), for ``texts`` after truncation."""
        encodings = self.tokenizer.encode_batch(list(texts))
        return _padded([e.ids for e in encodings])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            # A bare string would be embedded character by character.
            raise TypeError("embed() takes a list of texts, not a str")
        if len(texts) == 0:
            return np.zeros((0, DIM), dtype=np.float32)
        token_lists = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        # Padding is wasted compute (a batch runs at its longest text's length): texts are run in groups of
        # similar length, shortest first, and put back in order. Masked mean pooling makes the result the
        # same as one padded run.
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
        vectors = np.empty((len(token_lists), DIM), dtype=np.float32)
        for group in _length_groups(order, [len(t) for t in token_lists], self.group_size):
            ids, mask = _padded([token_lists[i] for i in group])
            (out,) = self.session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
            vectors[group] = out
        return vectors


def _padded(token_lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    longest = max(len(tokens) for tokens in token_lists)
    ids = np.zeros((len(token_lists), longest), dtype=np.int64)
    mask = np.zeros((len(token_lists), longest), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids[row, :len(tokens)] = tokens
        mask[row, :len(tokens)] = 1
    return ids, mask


def _length_groups(order: Sequence[int], lengths: Sequence[int], group_size: int) -> list[list[int]]:
    """Consecutive runs of the length-sorted indices: at most `group_size` each, and a new group whenever the
    next text would make the group's padding exceed a quarter of its tokens."""
    groups: list[list[int]] = []
    current: list[int] = []
    for index in order:
        if current:
            longest = lengths[index]
            real = sum(lengths[i] for i in current) + longest
            if len(current) >= group_size or (len(current) + 1) * longest > real * 1.25:
                groups.append(current)
                current = []
        current.append(index)
    if current:
        groups.append(current)
    return groups
