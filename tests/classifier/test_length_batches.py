"""Texts are batched by the word pieces they are padded to, not by characters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.encoder import encode_normalized, length_sorted_batches, token_counts
from tests.classifier.factories import CountingEncoder

# few characters, many pieces (symbols and codes split apart) / many characters, few pieces
DENSE = "#a1b2c3 @x9 !!??"
SPARSE = "internationalization understanding"


def test_token_counts_count_word_pieces_with_the_special_tokens() -> None:
    assert token_counts([SPARSE, DENSE, "ok", ""]) == [5, 15, 3, 2]
    assert token_counts([]) == []
    assert token_counts(["word " * 1000]) == [256]  # cut where the encoder cuts


def test_batches_group_texts_by_token_count_longest_first() -> None:
    texts = ["ok", SPARSE, DENSE, "fine"]
    assert len(SPARSE) > len(DENSE) and token_counts([SPARSE])[0] < token_counts([DENSE])[0]
    assert length_sorted_batches(texts, 2) == [[2, 1], [0, 3]]  # ties ("ok", "fine") keep input order


class RecordingEncoder(CountingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().encode_batch(texts)


def test_encoding_returns_rows_in_input_order_whatever_the_batches() -> None:
    encoder = RecordingEncoder()
    texts = ["ok", SPARSE, DENSE, "fine", "a much longer sentence about a failed card payment"]
    rows = encode_normalized(encoder, texts, batch_size=2)
    assert encoder.batches[0][0] == DENSE
    np.testing.assert_array_equal(rows, CountingEncoder().encode_batch(texts))
