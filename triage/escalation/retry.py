"""Pacing of deliveries: a token bucket per target and route, and the backoff between attempts.

Both take time as an argument (the worker's injected clock) and randomness as
an injected ``random.Random``, so tests and replays are exact and never sleep.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from tenacity import RetryCallState
from tenacity.wait import wait_base

from triage.escalation.base import RetryableDeliveryError
from triage.escalation.settings import EscalationSettings


class RateLimiter:
    """Token buckets per (target, route): ``burst`` at once, then ``rate_per_minute``."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str | None], tuple[float, datetime]] = {}

    def acquire(
        self, key: tuple[str, str | None], rate_per_minute: float, burst: int, now: datetime
    ) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        tokens, seen = self._buckets.get(key, (float(burst), now))
        per_second = rate_per_minute / 60.0
        tokens = min(float(burst), tokens + max(0.0, (now - seen).total_seconds()) * per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / per_second


class BackoffWait(wait_base):
    """Exponential backoff with jitter over a message's *total* attempts; Retry-After wins.

    The wait for attempt n is uniform in [h/2, h] with h = min(max, initial * 2**(n-1)) ("equal
    jitter": spread out, yet never an immediate hammering retry). A ``Retry-After`` from the
    receiver is honoured as given, even above the maximum.
    """

    def __init__(self, settings: EscalationSettings, attempts: Callable[[], int], rng: random.Random) -> None:
        self.settings = settings
        self.attempts = attempts
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RetryableDeliveryError) and error.retry_after is not None:
            return error.retry_after
        exponent = max(0, self.attempts() - 1)
        high = min(self.settings.backoff_max_seconds, self.settings.backoff_initial_seconds * 2.0**exponent)
        return self.rng.uniform(high / 2, high)
