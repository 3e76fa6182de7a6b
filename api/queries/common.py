"""Time on the read side: the tenant's data clock, windows and buckets.

Windows like "last 6 hours" are measured back from the tenant's newest post, not from the wall
clock, so a replayed scenario from March reads the same as a live feed does today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.storage.models import PostRow

#: the time windows offered by the pickers: label → length (None: everything)
WINDOWS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "all": None,
}

_BUCKET_STEPS = [
    timedelta(minutes=minutes) for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
]


def as_utc(moment: datetime) -> datetime:
    """SQLite returns timezone-aware columns naive; all stored times are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def data_clock(session: Session, tenant: str) -> datetime | None:
    """The newest post's time in ``tenant``: "now" for windows on the read side."""
    newest = session.scalar(select(func.max(PostRow.created_at)).where(PostRow.tenant == tenant))
    return as_utc(newest) if newest is not None else None


def oldest_post(session: Session, tenant: str) -> datetime | None:
    oldest = session.scalar(select(func.min(PostRow.created_at)).where(PostRow.tenant == tenant))
    return as_utc(oldest) if oldest is not None else None


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def window_range(session: Session, tenant: str, window: str, default_length: timedelta) -> TimeRange | None:
    """The range a window label stands for, ending at the data clock; ``None`` without posts."""
    end = data_clock(session, tenant)
    if end is None:
        return None
    length = WINDOWS.get(window, default_length)
    if length is None:
        start = oldest_post(session, tenant) or end - default_length
        return TimeRange(start, end)
    return TimeRange(end - length, end)


def bucket_step(length: timedelta, target_buckets: int = 48) -> timedelta:
    """A round bucket size that cuts ``length`` into about ``target_buckets`` buckets."""
    wanted = length / max(target_buckets, 1)
    for step in _BUCKET_STEPS:
        if step >= wanted:
            return step
    return _BUCKET_STEPS[-1]


def bucket_starts(time_range: TimeRange, step: timedelta) -> list[datetime]:
    """Bucket starts aligned to multiples of ``step`` since the epoch, covering the range."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + ((time_range.start - epoch) // step) * step
    starts = []
    current = first
    while current <= time_range.end:
        starts.append(current)
        current += step
    return starts or [first]


def bucket_counts(times: Iterable[datetime], starts: list[datetime], step: timedelta) -> list[int]:
    """How many of ``times`` fall in each bucket. Hot on the board (every member of every shown
    cluster), so naive SQLite times are compared with a naive origin instead of being converted."""
    counts = [0] * len(starts)
    origin = starts[0]
    naive_origin = origin.astimezone(UTC).replace(tzinfo=None)
    step_seconds = step.total_seconds()
    for moment in times:
        delta = moment - naive_origin if moment.tzinfo is None else moment - origin
        index = int(delta.total_seconds() // step_seconds)
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


def humanize_age(moment: datetime, now: datetime) -> str:
    """'5 min', '3 h 10 min', '2 d' — how long before ``now`` something happened."""
    seconds = max(0.0, (now - as_utc(moment)).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"
