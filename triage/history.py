"""How often each kind of complaint is normal: the baseline detection compares with.

Every problem report of the last ``baseline_hours`` is kept as (time,
embedding) in a ring. The baseline of a cluster is the *share* of all
complaints that resemble it, not a raw rate: a share stays meaningful at 3 am
and at 3 pm, so time of day is accounted for by the current overall volume
without needing weeks of history, and a prior share covers the first hours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_DIMENSIONS = 384


class ComplaintHistory:
    """A time-ordered ring of problem-report embeddings with bounded memory."""

    def __init__(self, horizon_seconds: float, dimensions: int = _DIMENSIONS) -> None:
        self.horizon_seconds = horizon_seconds
        self._times = np.empty(1024, dtype=np.float64)
        self._vectors = np.empty((1024, dimensions), dtype=np.float32)
        self._start = 0
        self._end = 0
        self._first_time: float | None = None
        self._mean_cache: tuple[tuple[int, int], np.ndarray] | None = None

    @property
    def first_time(self) -> float | None:
        """When the oldest complaint ever added arrived (forgetting does not move it)."""
        return self._first_time

    def __len__(self) -> int:
        return self._end - self._start

    def add(self, time: float, embedding: np.ndarray) -> None:
        if self._first_time is None:
            self._first_time = time
        if self._end == len(self._times):
            self._compact_or_grow()
        self._times[self._end] = time
        self._vectors[self._end] = embedding
        self._end += 1

    def count_matching(self, direction: np.ndarray, threshold: float, since: float, until: float) -> int:
        """How many complaints, centred on the current mean, have ``centred · direction >= threshold``:
        the same test a post passes to join a cluster whose recent mean is ``direction``."""
        return self.count_matching_levels(direction, (threshold,), since, until)[0]

    def count_matching_levels(
        self,
        direction: np.ndarray,
        thresholds: Sequence[float],
        since: float,
        until: float,
        centred: bool = True,
    ) -> list[int]:
        """:meth:`count_matching` at several thresholds for the price of one pass over the span
        (``centred=False``: plain cosine of the stored embeddings to ``direction``)."""
        span = self._span(since, until)
        if span.stop <= span.start:
            return [0 for _ in thresholds]
        vectors = self._vectors[span]
        if centred:
            mean = self.mean_vector()
            norms = np.sqrt(np.maximum(1.0 - 2.0 * (vectors @ mean) + float(mean @ mean), 1e-12))
            similarities = (vectors @ direction - float(mean @ direction)) / norms
        else:
            similarities = vectors @ direction
        return [int(np.count_nonzero(similarities >= threshold)) for threshold in thresholds]

    def mean_vector(self) -> np.ndarray:
        """The mean of the complaints held: the direction every complaint of this stream shares."""
        if self._end == self._start:
            return np.zeros(self._vectors.shape[1], dtype=np.float32)
        if self._mean_cache is None or self._mean_cache[0] != (self._start, self._end):
            self._mean_cache = ((self._start, self._end), self._vectors[self._start : self._end].mean(axis=0))
        return self._mean_cache[1]

    def forget_before(self, time: float) -> None:
        times = self._times[self._start : self._end]
        self._start += int(np.searchsorted(times, time, side="left"))

    def _compact_or_grow(self) -> None:
        live = self._end - self._start
        capacity = len(self._times)
        if live * 2 > capacity:
            capacity *= 2
        times = np.empty(capacity, dtype=np.float64)
        vectors = np.empty((capacity, self._vectors.shape[1]), dtype=np.float32)
        times[:live] = self._times[self._start : self._end]
        vectors[:live] = self._vectors[self._start : self._end]
        self._times, self._vectors, self._start, self._end = times, vectors, 0, live

    def _span(self, since: float, until: float) -> slice:
        times = self._times[self._start : self._end]
        first = int(np.searchsorted(times, since, side="left"))
        last = int(np.searchsorted(times, until, side="left"))
        return slice(self._start + first, self._start + last)

    def count(self, since: float, until: float) -> int:
        span = self._span(since, until)
        return span.stop - span.start
