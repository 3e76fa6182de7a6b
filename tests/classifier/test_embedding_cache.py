"""The embedding cache encodes only unseen texts and returns rows in input order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from classifier import embedding_cache


class CountingEncoder:
    """Fake encoder: a deterministic unit vector per text, counting what it was asked to encode."""

    name = "fake"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, len(text) % 384] = 1.0
        return vectors


def test_second_call_encodes_only_new_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding_cache, "cache_dir", lambda: tmp_path)
    encoder = CountingEncoder()
    first = embedding_cache.cached_embeddings(lambda: encoder, ["a", "bbb", "cc"], "pool")
    assert sorted(encoder.seen) == ["a", "bbb", "cc"]
    second = embedding_cache.cached_embeddings(lambda: encoder, ["cc", "dddd", "a"], "pool")
    assert encoder.seen[3:] == ["dddd"]
    assert np.array_equal(second[0], first[2]) and np.array_equal(second[2], first[0])
    assert second[1].argmax() == 4
