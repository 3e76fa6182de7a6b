"""Disk cache of encoder embeddings for training and evaluation (in the git-ignored ``.cache/``).

Keyed by a hash of the exact model input text, per named pool, so reruns of training and benchmarks skip
the encoder (the slow part on CPU: a few hundred short texts per second) for texts already seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from classifier.encoder import EMBEDDING_DIM, SentenceEncoder, encode_normalized
from classifier.paths import cache_dir

SAVE_EVERY = 8192


def text_key(text: str) -> str:
    """Stable key of one model input."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _cache_file(pool: str) -> Path:
    folder = cache_dir() / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{pool}.npz"


def cached_embeddings(
    model: Callable[[], SentenceEncoder],
    texts: Sequence[str],
    pool: str,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    width: int = EMBEDDING_DIM,
) -> np.ndarray:
    """Embeddings of ``texts`` (input order), encoding only texts missing from the ``pool`` cache.

    ``width`` is the length of ``model``'s rows (384 for embeddings; more for layer-pool features).

    ``model`` is a zero-argument loader, called only when something must be encoded, so a warm cache
    never loads the encoder at all.
    """
    path = _cache_file(pool)
    known = load_vectors(path)
    keys = [text_key(text) for text in texts]
    missing = sorted({key: index for index, key in enumerate(keys) if key not in known}.values())
    encoded = 0
    for start in range(0, len(missing), SAVE_EVERY):  # saved in chunks: an interrupted run keeps its work
        chunk = missing[start : start + SAVE_EVERY]
        vectors = encode_normalized(
            model(), [texts[index] for index in chunk], batch_size, _offset(progress, encoded), width
        )
        for index, vector in zip(chunk, vectors, strict=True):
            known[keys[index]] = vector
        encoded += len(chunk)
        save_vectors(path, known)
    if not keys:
        return np.zeros((0, width), dtype=np.float32)
    return np.stack([known[key] for key in keys]).astype(np.float32)


def _offset(progress: Callable[[int], None] | None, offset: int) -> Callable[[int], None] | None:
    """Progress callback of one chunk, reporting counts over the whole call."""
    if progress is None:
        return None
    report = progress
    return lambda done: report(offset + done)


def load_vectors(path: Path) -> dict[str, np.ndarray]:
    """A cache file's arrays by text key (empty when there is no file yet)."""
    if not path.is_file():
        return {}
    with np.load(path) as stored:
        return dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))


def save_vectors(path: Path, known: dict[str, np.ndarray]) -> None:
    """Write ``known`` (arrays of one shape) atomically: a run killed mid-write leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, keys=np.array(list(known)), vectors=np.stack(list(known.values())).astype(np.float32))
    partial.replace(path)
