"""Callers that do not choose a batch size get the backend's own; a caller's choice wins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.analysis import Analyzer
from tests.classifier.factories import CountingEncoder, tiny_artifact


class CallSizeEncoder(CountingEncoder):
    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.calls: list[int] = []

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().encode_batch(texts)


def analyzer_with(encoder: CountingEncoder) -> Analyzer:
    return Analyzer(encoder, tiny_artifact(), cache_entries=0)


TEXTS = [f"report number {number}" for number in range(10)]


def test_analysis_and_embedding_use_the_backends_batch_size_by_default() -> None:
    encoder = CallSizeEncoder(batch_size=4)
    analyzer = analyzer_with(encoder)
    assert analyzer.batch_size == 4
    analyzer.analyze(TEXTS)
    analyzer.embed(TEXTS)
    assert encoder.calls == [4, 4, 2, 4, 4, 2]


def test_a_callers_batch_size_wins() -> None:
    encoder = CallSizeEncoder(batch_size=4)
    analyzer_with(encoder).analyze(TEXTS, batch_size=5)
    assert encoder.calls == [5, 5]
