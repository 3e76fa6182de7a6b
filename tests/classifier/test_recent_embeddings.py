"""Texts analysed again take their embedding from the analyser's bounded memory, not the encoder."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.analysis import Analyzer
from classifier.recent_embeddings import RecentEmbeddings
from tests.classifier.factories import CountingEncoder, tiny_artifact


def analyzer_with(encoder: CountingEncoder, entries: int) -> Analyzer:
    return Analyzer(encoder, tiny_artifact(), cache_entries=entries)


def test_each_distinct_text_is_encoded_once_and_results_keep_input_order() -> None:
    encoder = CountingEncoder()
    analyzer = analyzer_with(encoder, entries=100)
    texts = ["card declined", "app down", "card declined", "login fails", "app down"]
    first = analyzer.analyze(texts, batch_size=2)
    assert sorted(encoder.seen) == ["app down", "card declined", "login fails"]
    again = analyzer.analyze(["login fails", "card declined", "new outage"])
    assert encoder.seen[3:] == ["new outage"]
    assert np.array_equal(again[0].embedding, first[3].embedding)
    assert np.array_equal(again[1].embedding, first[0].embedding)
    assert [round(result.problem_probability, 6) for result in first[:2]] == [
        round(result.problem_probability, 6) for result in (first[2], first[4])
    ]


def test_progress_counts_reused_and_encoded_texts() -> None:
    analyzer = analyzer_with(CountingEncoder(), entries=100)
    analyzer.analyze(["a b c", "d e f"])
    reported: list[int] = []
    analyzer.analyze(["a b c", "d e f", "g h i", "j k l"], batch_size=1, progress=reported.append)
    assert reported == [2, 3, 4]


def test_least_recently_used_text_is_forgotten_first() -> None:
    cache = RecentEmbeddings(2)
    vector = np.ones(384, dtype=np.float32)
    cache.put("a", vector)
    cache.put("b", vector)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", vector)
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2


def test_zero_entries_turns_the_memory_off() -> None:
    encoder = CountingEncoder()
    analyzer = analyzer_with(encoder, entries=0)
    analyzer.analyze(["same text"])
    analyzer.analyze(["same text"])
    assert encoder.seen == ["same text", "same text"]


def test_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        RecentEmbeddings(-1)
