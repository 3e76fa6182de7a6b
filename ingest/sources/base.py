"""The one interface every source implements.

A source turns its own records into ``Post``, ``ChangeEvent`` and ``Service``
records and says where it stopped (its cursor). The runner stores the cursor
in the same transaction as the records, so a restart resumes exactly there and
a replayed page stores nothing twice (posts are unique by source and id).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.errors import InvalidRecordError, SourceConfigError
from ingest.records import ChangeEvent, Post, Service

Cursor = dict[str, Any]


@dataclass
class SourceBatch:
    """What one read of a source produced; ``cursor`` is where the next read starts."""

    posts: list[Post] = field(default_factory=list)
    changes: list[ChangeEvent] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    skipped: list[InvalidRecordError] = field(default_factory=list)
    cursor: Cursor = field(default_factory=dict)
    #: deletions and rate-limit state; empty for sources that only ever add posts
    extra: SourceChanges = field(default_factory=lambda: SourceChanges())

    @property
    def record_count(self) -> int:
        return len(self.posts) + len(self.changes) + len(self.services)


class Source(ABC):
    """A place posts (and possibly change events) come from."""

    #: the name the configuration uses for this kind of source
    kind: str
    #: True when a post already stored can change at the origin (a ticket gets a
    #: comment): the runner then updates stored posts instead of ignoring them
    posts_can_change: bool = False

    @abstractmethod
    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        """Yield batches from ``cursor`` on; each batch's cursor covers it and all before."""

    def check(self) -> str:
        """Reach the origin once with the configured credentials and say what was found.

        Raises the same errors ``read`` would (``SourceAuthError`` for a rejected
        token, ``SourceUnavailableError``, ``SourceConfigError``) and stores nothing.
        """
        return f"{self.kind}: configured (this source has no remote end to check)"

    def cursor_since(self, since: datetime, current: Cursor) -> Cursor:
        """A cursor that makes the next ``read`` start at ``since`` (for a backfill);
        ``current`` is the stored one, for sources that keep part of it.

        Reading from there stores only what is not stored yet, so a backfill
        over a span already read is harmless; sources that cannot go back say so.
        """
        raise SourceConfigError(f"the {self.kind} source cannot be read from a start time")


@dataclass(frozen=True)
class RateLimitStatus:
    """What the remote API last said about its rate limit, for the operator to see."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: datetime | None = None


@dataclass
class SourceChanges:
    """What a source with mutable records (tickets) says beyond new posts.

    Kept apart from ``SourceBatch``'s original fields so sources whose posts never
    change (files, tweets) need not know about it.
    """

    #: external ids (of this source) of posts deleted at the origin
    deleted_post_ids: list[str] = field(default_factory=list)
    #: what the API's rate-limit headers said after this batch
    rate_limit: RateLimitStatus | None = None
