"""A bounded in-memory store of embeddings by text, so a text seen again is not encoded again.

Real streams repeat themselves word for word: retweets, copy-pasted complaints,
tickets filed from one template, the same post pulled twice by overlapping
searches. The encoder is the whole cost of analysis, so a repeated text is
looked up instead. Least recently used texts are forgotten first, so memory
stays bounded (about 1.6 KB per entry at 384 float32 dimensions).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


class RecentEmbeddings:
    """Least-recently-used map from prepared text to its normalised embedding."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("the embedding cache capacity cannot be negative")
        self.capacity = capacity
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> np.ndarray | None:
        embedding = self._entries.get(text)
        if embedding is None:
            self.misses += 1
            return None
        self._entries.move_to_end(text)
        self.hits += 1
        return embedding

    def put(self, text: str, embedding: np.ndarray) -> None:
        if self.capacity == 0:
            return
        self._entries[text] = np.array(embedding, dtype=np.float32, copy=True)
        self._entries.move_to_end(text)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def split(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """Known embeddings by text, and the distinct texts still to encode (first-seen order)."""
        known: dict[str, np.ndarray] = {}
        missing: dict[str, None] = {}
        for text in texts:
            if text in known or text in missing:
                continue
            embedding = self.get(text)
            if embedding is None:
                missing[text] = None
            else:
                known[text] = embedding
        return known, list(missing)
