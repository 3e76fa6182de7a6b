"""The embedding cache encodes only unseen texts and returns rows in input order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier import embedding_cache
from tests.classifier.factories import CountingEncoder


def test_second_call_encodes_only_new_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding_cache, "cache_dir", lambda: tmp_path)
    encoder = CountingEncoder()
    first = embedding_cache.cached_embeddings(lambda: encoder, ["a", "bbb", "cc"], "pool")
    assert sorted(encoder.seen) == ["a", "bbb", "cc"]
    second = embedding_cache.cached_embeddings(lambda: encoder, ["cc", "dddd", "a"], "pool")
    assert encoder.seen[3:] == ["dddd"]
    assert np.array_equal(second[0], first[2]) and np.array_equal(second[2], first[0])
    assert second[1].argmax() == 4
