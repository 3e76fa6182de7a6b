"""Posts that change after they are stored, and changes that end after they start.

``store_posts`` ignores a post it has seen, which is right for tweets and file
lines. A Zendesk ticket, though, grows: a new public comment is new evidence,
so ``update_posts`` rewrites the stored post and drops its analysis, and the
analysis stage (which picks posts without an analysis) reads it again.
Deleting a ticket at the origin deletes the post; its analysis and cluster
memberships go with it by foreign-key cascade.

Alert change events arrive twice, firing then resolved; ``close_changes`` sets
the end time on the one already stored. A pull that fails for a reason a person
must fix leaves its message on the source (``record_source_error``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from ingest.records import ChangeEvent, Post
from triage.storage.intake import store_posts
from triage.storage.models import AnalysisRow, ChangeEventRow, ClusterRow, PostRow, SourceRow

_CHUNK = 500


@dataclass(frozen=True)
class PostUpdateCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def existing_post_ids(session: Session, tenant: str, source: str, external_ids: Sequence[str]) -> set[str]:
    """Which of ``external_ids`` are already stored for ``source``."""
    found: set[str] = set()
    for start in range(0, len(external_ids), _CHUNK):
        chunk = list(external_ids[start : start + _CHUNK])
        found.update(
            session.scalars(
                select(PostRow.external_id).where(
                    PostRow.tenant == tenant, PostRow.source == source, PostRow.external_id.in_(chunk)
                )
            )
        )
    return found


def update_posts(session: Session, tenant: str, posts: Sequence[Post]) -> PostUpdateCounts:
    """Insert new posts and rewrite changed ones; a changed text is analysed again."""
    if not posts:
        return PostUpdateCounts()
    latest = {(post.source, post.external_id): post for post in posts}
    rows: dict[tuple[str, str], PostRow] = {}
    keys = list(latest)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        statement = select(PostRow).where(
            PostRow.tenant == tenant, tuple_(PostRow.source, PostRow.external_id).in_(chunk)
        )
        rows.update({(row.source, row.external_id): row for row in session.scalars(statement)})
    new_posts = [post for key, post in latest.items() if key not in rows]
    updated = unchanged = 0
    reanalyse: list[int] = []
    for key, row in rows.items():
        post = latest[key]
        if (row.text, row.meta, row.author_key, row.lang, row.url) == (
            post.text,
            post.meta,
            post.author_key,
            post.lang,
            post.url,
        ):
            unchanged += 1
            continue
        if row.text != post.text:
            reanalyse.append(row.id)
        row.text, row.meta, row.author_key, row.lang, row.url = (
            post.text,
            dict(post.meta),
            post.author_key,
            post.lang,
            post.url,
        )
        updated += 1
    if reanalyse:
        session.execute(delete(AnalysisRow).where(AnalysisRow.post_id.in_(reanalyse)))
    store_posts(session, tenant, new_posts)
    session.flush()
    return PostUpdateCounts(inserted=len(new_posts), updated=updated, unchanged=unchanged)


def delete_posts(session: Session, tenant: str, source: str, external_ids: Sequence[str]) -> int:
    """Delete posts removed at the origin; returns how many were stored."""
    if not external_ids:
        return 0
    ids = list(
        session.scalars(
            select(PostRow.id).where(
                PostRow.tenant == tenant,
                PostRow.source == source,
                PostRow.external_id.in_(list(external_ids)),
            )
        )
    )
    if not ids:
        return 0
    # a cluster's representative is a plain reference, not a cascade: point it at nothing first
    session.execute(
        update(ClusterRow)
        .where(ClusterRow.representative_post_id.in_(ids))
        .values(representative_post_id=None)
    )
    session.execute(delete(AnalysisRow).where(AnalysisRow.post_id.in_(ids)))
    session.execute(delete(PostRow).where(PostRow.id.in_(ids)))
    return len(ids)


def close_changes(session: Session, tenant: str, changes: Sequence[ChangeEvent]) -> int:
    """Set ``ended_at`` on stored changes that have now ended; returns how many were updated."""
    closed = 0
    for change in changes:
        if change.ended_at is None:
            continue
        result = session.execute(
            update(ChangeEventRow)
            .where(
                ChangeEventRow.tenant == tenant,
                ChangeEventRow.source == change.source,
                ChangeEventRow.external_id == change.external_id,
                ChangeEventRow.ended_at.is_(None),
            )
            .values(ended_at=change.ended_at)
        )
        closed += result.rowcount or 0  # type: ignore[attr-defined]
    return closed


def existing_change_ids(session: Session, tenant: str, source: str, external_ids: Sequence[str]) -> set[str]:
    """Which of ``external_ids`` are already stored as changes from ``source``."""
    found: set[str] = set()
    for start in range(0, len(external_ids), _CHUNK):
        chunk = list(external_ids[start : start + _CHUNK])
        found.update(
            session.scalars(
                select(ChangeEventRow.external_id).where(
                    ChangeEventRow.tenant == tenant,
                    ChangeEventRow.source == source,
                    ChangeEventRow.external_id.in_(chunk),
                )
            )
        )
    return found


def recent_changes(
    session: Session, tenant: str, *, unmapped_only: bool = False, limit: int = 50
) -> list[ChangeEvent]:
    """Newest changes first; ``unmapped_only`` lists those no catalog entry claimed."""
    statement = select(ChangeEventRow).where(ChangeEventRow.tenant == tenant)
    if unmapped_only:
        statement = statement.where(ChangeEventRow.service.is_(None))
    rows = session.scalars(
        statement.order_by(ChangeEventRow.started_at.desc(), ChangeEventRow.id.desc()).limit(limit)
    )
    return [
        ChangeEvent.model_validate(
            {
                "external_id": row.external_id,
                "service": row.service,
                "kind": row.kind,
                "summary": row.summary,
                "started_at": row.started_at,
                "ended_at": row.ended_at,
                "url": row.url,
                "source": row.source,
            }
        )
        for row in rows
    ]


def record_source_error(
    session: Session, tenant: str, name: str, kind: str, message: str, at: datetime
) -> None:
    """Remember why a source's last pull failed (shown on the sources page); the cursor is untouched.
    The next successful ``save_cursor`` clears it."""
    row = session.scalar(select(SourceRow).where(SourceRow.tenant == tenant, SourceRow.name == name))
    if row is None:
        session.add(
            SourceRow(tenant=tenant, name=name, kind=kind, cursor={}, last_error=message, updated_at=None)
        )
    else:
        row.last_error = message
