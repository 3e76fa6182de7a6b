"""The ingest stage: pull one source once into the database, resumably.

Each batch a source yields is stored together with the cursor after it in one
transaction. A crash between batches therefore resumes at the next batch, and
a crash inside one loses that batch and its cursor together, so the batch is
read again and stored once (posts are unique by source and id). A rate limit
ends the pull early with the time to come back; the runner (the CLI's
``--loop``, or a Celery beat schedule) decides how to wait, with a sleeper it
is given, so nothing here reads the wall clock or sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.errors import IngestError, RateLimitedError, SourceConfigError
from ingest.feeds.base import FeedDelivery
from ingest.records import Post
from ingest.sources.base import RateLimitStatus, Source, SourceBatch
from triage.sources_settings import SourcesSettings
from triage.storage.database import transaction
from triage.storage.intake import load_cursor, save_cursor, store_changes, store_posts, store_services
from triage.storage.models import SourceRow
from triage.storage.post_updates import (
    close_changes,
    delete_posts,
    existing_change_ids,
    existing_post_ids,
    record_source_error,
    update_posts,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: names `triage sources pull NAME` accepts, with what each reads
SOURCE_NAMES: dict[str, str] = {
    "twitter": "X recent search for the configured query (since_id polling)",
    "twitter-stream": "X filtered stream with the configured rules",
    "zendesk": "Zendesk incremental ticket export",
    "folder": "JSONL/CSV files dropped into the watched folder",
}


@dataclass
class PullResult:
    """What one pull did, for the operator and for the runner's next step."""

    name: str
    batches: int = 0
    posts_new: int = 0
    posts_seen_before: int = 0
    posts_updated: int = 0
    posts_deleted: int = 0
    changes: int = 0
    skipped: int = 0
    cursor: dict[str, Any] = field(default_factory=dict)
    rate_limit: RateLimitStatus | None = None
    #: set when the source asked us to wait; the cursor is intact
    retry_at: datetime | None = None
    retry_reason: str | None = None


BatchListener = Callable[[PullResult, SourceBatch], None]


def pull_source(
    sessions: sessionmaker[Session],
    tenant: str,
    name: str,
    source: Source,
    *,
    clock: Clock,
    on_batch: BatchListener | None = None,
) -> PullResult:
    """Read ``source`` from its stored cursor to where it is caught up (or rate limited)."""
    with transaction(sessions) as session:
        cursor = load_cursor(session, tenant, name)
    result = PullResult(name=name, cursor=cursor)
    try:
        for batch in source.read(cursor):
            with transaction(sessions) as session:
                _store_batch(session, tenant, source, batch, result)
                save_cursor(session, tenant, name, source.kind, batch.cursor, clock())
            result.batches += 1
            result.cursor = batch.cursor
            result.rate_limit = batch.extra.rate_limit or result.rate_limit
            log.info(
                "source_batch_stored source=%s posts=%d changes=%d",
                name,
                len(batch.posts),
                len(batch.changes),
            )
            if on_batch is not None:
                on_batch(result, batch)
    except RateLimitedError as error:
        result.retry_at, result.retry_reason = error.retry_at, error.reason
        log.warning("source_rate_limited source=%s retry_at=%s", name, error.retry_at.isoformat())
    except IngestError as error:
        # stored for the sources page, then raised: the runner stops rather than retrying a dead token
        with transaction(sessions) as session:
            record_source_error(session, tenant, name, source.kind, str(error), clock())
        log.error("source_failed source=%s error=%s", name, type(error).__name__)
        raise
    return result


def _store_batch(
    session: Session, tenant: str, source: Source, batch: SourceBatch, result: PullResult
) -> None:
    if source.posts_can_change:
        counts = update_posts(session, tenant, batch.posts)
        result.posts_new += counts.inserted
        result.posts_updated += counts.updated
        result.posts_seen_before += counts.unchanged
    else:
        unique = _unique(batch.posts)
        seen = _count_known(session, tenant, unique)
        store_posts(session, tenant, unique)
        result.posts_new += len(unique) - seen
        result.posts_seen_before += len(batch.posts) - len(unique) + seen
    if batch.extra.deleted_post_ids:
        # deletions name ids of the source's own posts; sources that rename themselves say so in source_name
        origin = getattr(source, "source_name", source.kind)
        result.posts_deleted += delete_posts(session, tenant, origin, batch.extra.deleted_post_ids)
    store_changes(session, tenant, batch.changes)
    store_services(session, tenant, batch.services)
    result.changes += len(batch.changes)
    result.skipped += len(batch.skipped)


def _count_known(session: Session, tenant: str, posts: list[Post]) -> int:
    """How many of ``posts`` (unique by source and id) are already stored."""
    by_source: dict[str, list[str]] = {}
    for post in posts:
        by_source.setdefault(post.source, []).append(post.external_id)
    return sum(len(existing_post_ids(session, tenant, source, ids)) for source, ids in by_source.items())


def _unique(posts: list[Post]) -> list[Post]:
    return list({(post.source, post.external_id): post for post in posts}.values())


def backfill_source(
    sessions: sessionmaker[Session],
    tenant: str,
    name: str,
    source: Source,
    since: datetime,
    *,
    clock: Clock,
    on_batch: BatchListener | None = None,
) -> PullResult:
    """Read ``source`` again from ``since`` through the ordinary pull.

    The start cursor is stored first, so a backfill cut short (a crash, a rate
    limit) is finished by the next pull; what was stored before is recognised
    and stored once.
    """
    with transaction(sessions) as session:
        start = source.cursor_since(since, load_cursor(session, tenant, name))
        save_cursor(session, tenant, name, source.kind, start, clock())
    log.info("source_backfill_started source=%s since=%s", name, since.isoformat())
    return pull_source(sessions, tenant, name, source, clock=clock, on_batch=on_batch)


@dataclass(frozen=True)
class SourceState:
    """One source as ``triage sources list`` shows it."""

    name: str
    kind: str
    description: str
    cursor: dict[str, Any]
    last_error: str | None
    updated_at: datetime | None


#: kinds of cursor rows that other commands write, named for the listing
_OTHER_KINDS = {"file": "a replayed file (`triage replay`); not pulled"}


def source_kind(session: Session, tenant: str, name: str) -> str:
    """The kind of source ``name`` is: a built-in name is its own kind, an added one was recorded."""
    if name in SOURCE_NAMES:
        return name
    kind = session.scalar(select(SourceRow.kind).where(SourceRow.tenant == tenant, SourceRow.name == name))
    if kind is None:
        raise SourceConfigError(
            f"unknown source {name!r}: use one of {', '.join(SOURCE_NAMES)}, "
            f"or add it with `triage sources add {name} --kind KIND`"
        )
    return kind


def add_source(session: Session, tenant: str, name: str, kind: str, at: datetime) -> bool:
    """Record source ``name`` of ``kind`` (read with that kind's settings); False when it was there already.

    A name is one cursor, so the same name cannot stand for two kinds.
    """
    if kind not in SOURCE_NAMES:
        raise SourceConfigError(f"unknown kind {kind!r}; kinds are {', '.join(SOURCE_NAMES)}")
    if name in SOURCE_NAMES and name != kind:
        raise SourceConfigError(f"{name!r} is the built-in {name} source; pick another name")
    row = session.scalar(select(SourceRow).where(SourceRow.tenant == tenant, SourceRow.name == name))
    if row is not None:
        if row.kind != kind:
            raise SourceConfigError(f"source {name!r} exists already as kind {row.kind!r}")
        return False
    session.add(SourceRow(tenant=tenant, name=name, kind=kind, cursor={}, updated_at=at))
    return True


def list_sources(session: Session, tenant: str) -> list[SourceState]:
    """The built-in sources (pulled or not), then every added one, with where each stopped."""
    rows = {row.name: row for row in session.scalars(select(SourceRow).where(SourceRow.tenant == tenant))}
    names = list(SOURCE_NAMES) + sorted(name for name in rows if name not in SOURCE_NAMES)
    states = []
    for name in names:
        row = rows.get(name)
        kind = row.kind if row is not None else name
        states.append(
            SourceState(
                name=name,
                kind=kind,
                description=SOURCE_NAMES.get(kind, _OTHER_KINDS.get(kind, "(unknown kind)")),
                cursor=dict(row.cursor) if row is not None else {},
                last_error=row.last_error if row is not None else None,
                updated_at=row.updated_at if row is not None else None,
            )
        )
    return states


def scheduled_sources(session: Session, tenant: str, settings: SourcesSettings) -> list[str]:
    """The sources ``triage run`` pulls: each polled kind whose settings are filled, and every
    source added with such a kind.

    The filtered stream is left out: its read never returns, so it cannot take turns on a
    schedule; it runs on its own with ``triage sources pull twitter-stream --loop``.
    """
    configured = []
    if settings.twitter_bearer_token is not None and (
        settings.twitter_query or settings.twitter_handles or settings.twitter_terms
    ):
        configured.append("twitter")
    if settings.zendesk_subdomain:
        configured.append("zendesk")
    if settings.watched_folder is not None:
        configured.append("folder")
    return configured + [
        state.name
        for state in list_sources(session, tenant)
        if state.name not in SOURCE_NAMES and state.kind in configured
    ]


def pull_loop(
    sessions: sessionmaker[Session],
    tenant: str,
    name: str,
    source: Source,
    *,
    clock: Clock,
    sleeper: Callable[[float], None],
    interval: timedelta,
    should_stop: Callable[[], bool],
    on_result: Callable[[PullResult], None] | None = None,
    on_batch: BatchListener | None = None,
) -> None:
    """Pull, wait (the interval, or until a rate limit resets), pull again, until told to stop.

    Errors that retrying cannot fix (a rejected token, a missing setting)
    propagate at once: a loop that hammers an API with a dead token helps nobody.
    """
    while not should_stop():
        result = pull_source(sessions, tenant, name, source, clock=clock, on_batch=on_batch)
        if on_result is not None:
            on_result(result)
        if should_stop():
            return
        wait = interval.total_seconds()
        if result.retry_at is not None:
            wait = max((result.retry_at - clock()).total_seconds(), 0.0) + 1.0
        sleeper(wait)


def build_source(
    name: str,
    settings: SourcesSettings,
    clock: Clock,
    sleeper: Callable[[float], None] | None = None,
    *,
    batch_lines: int | None = None,
) -> Source:
    """The configured source of kind ``name``; a missing setting is a ``SourceConfigError`` naming it.

    ``sleeper`` is how the filtered stream waits between reconnects (the runner's choice);
    ``batch_lines`` is how many lines of a dropped file are stored per transaction (default: the
    ``watched_folder_batch_lines`` setting).
    """
    if name in ("twitter", "twitter-stream") and settings.twitter_bearer_token is None:
        raise SourceConfigError("X needs a bearer token: set sources.twitter_bearer_token")
    if name == "twitter":
        from ingest.sources.twitter_search import TwitterSearchSource, build_query

        return TwitterSearchSource(
            _secret(settings.twitter_bearer_token),
            settings.twitter_query
            or build_query(
                settings.twitter_handles,
                settings.twitter_terms,
                settings.twitter_languages,
                settings.twitter_exclude_retweets,
            ),
            _secret(settings.author_hash_salt),
            clock=clock,
            page_size=settings.twitter_page_size,
        )
    if name == "twitter-stream":
        from ingest.sources.twitter_stream import TwitterStreamSource

        return TwitterStreamSource(
            _secret(settings.twitter_bearer_token),
            settings.twitter_stream_rules,
            _secret(settings.author_hash_salt),
            sleeper=sleeper or _refuse_to_sleep,
        )
    if name == "zendesk":
        from ingest.sources.zendesk import ZendeskSource

        return ZendeskSource(
            settings.zendesk_subdomain or "",
            settings.zendesk_email or "",
            _secret(settings.zendesk_token),
            clock=clock,
            start_time=settings.zendesk_start_time,
            lookback=timedelta(hours=settings.zendesk_lookback_hours),
        )
    if name == "folder":
        from ingest.sources.watched_folder import WatchedFolderSource

        if settings.watched_folder is None:
            raise SourceConfigError("the folder source needs sources.watched_folder")
        return WatchedFolderSource(
            settings.watched_folder,
            clock=clock,
            settle=timedelta(seconds=settings.watched_folder_settle_seconds),
            batch_lines=batch_lines or settings.watched_folder_batch_lines,
        )
    raise SourceConfigError(f"unknown source {name!r}; configured names are {', '.join(SOURCE_NAMES)}")


def _refuse_to_sleep(seconds: float) -> None:
    raise SourceConfigError("the X stream needs a sleeper between reconnects; pass one to build_source")


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


@dataclass(frozen=True)
class PostReceipt:
    """The answer to a batch of pushed posts: what was new, what was known already."""

    received: int
    stored: int
    duplicates: int


def receive_posts(session: Session, tenant: str, posts: list[Post]) -> PostReceipt:
    """Store pushed posts idempotently (unique by source and id, also within the batch)."""
    unique = _unique(posts)
    known = _count_known(session, tenant, unique)
    store_posts(session, tenant, unique)
    return PostReceipt(
        received=len(posts), stored=len(unique) - known, duplicates=len(posts) - len(unique) + known
    )


@dataclass(frozen=True)
class ChangeReceipt:
    received: int
    stored: int
    closed: int
    unmapped: list[str]
    ignored: str | None = None


def receive_changes(session: Session, tenant: str, delivery: FeedDelivery) -> ChangeReceipt:
    """Store a feed's changes (new ones once), close alerts that ended, and name the unmapped ones."""
    changes = list({(change.source, change.external_id): change for change in delivery.changes}.values())
    known: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for change in changes:
        by_source.setdefault(change.source, []).append(change.external_id)
    for change_source, ids in by_source.items():
        known |= {
            (change_source, found) for found in existing_change_ids(session, tenant, change_source, ids)
        }
    store_changes(session, tenant, changes)
    closed = close_changes(session, tenant, [c for c in changes if (c.source, c.external_id) in known])
    unmapped = [change.external_id for change in changes if change.service is None]
    for external_id in unmapped:
        log.warning("change_unmapped tenant=%s change=%s", tenant, external_id)
    return ChangeReceipt(
        received=len(delivery.changes),
        stored=len(changes) - len(known),
        closed=closed,
        unmapped=unmapped,
        ignored=delivery.ignored,
    )
