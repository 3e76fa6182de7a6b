"""The in-memory shapes triage works on: an analysed post and a change, with
times as epoch seconds (event time) so the hot loop does no datetime math."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np


def to_epoch(moment: datetime) -> float:
    """Seconds since the epoch; naive datetimes are UTC (SQLite hands aware columns back naive, and
    reading them as local time would make a replay depend on the machine's time zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def format_event_time(seconds: float) -> str:
    return from_epoch(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TriagePost:
    """A post as triage sees it: who, when, what it is about, and the classifier's view."""

    post_id: int
    external_id: str
    source: str
    author: str
    time: float
    text: str
    embedding: np.ndarray
    problem_probability: float
    category: str | None
    sentiment: str
    #: the embedding clustering compares: centred on recent complaints (set by the engine)
    match_vector: np.ndarray | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> TriagePost:
        return self  # frozen, and its arrays are never written: a copied engine shares its posts


@dataclass(frozen=True, slots=True)
class TriageChange:
    """A change event with its summary embedded, for cause ranking."""

    external_id: str
    service: str | None
    kind: str
    summary: str
    time: float
    embedding: np.ndarray

    def __deepcopy__(self, memo: dict[int, Any]) -> TriageChange:
        return self  # frozen and never written, like a post

    @property
    def can_be_cause(self) -> bool:
        return self.kind != "alert"
