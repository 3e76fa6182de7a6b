"""Storing what sources produce, idempotently.

Posts are unique by (tenant, source, external id) and change events likewise,
so storing a page twice, or replaying a file twice, stores nothing twice. The
insert is the database's own "on conflict do nothing" (SQLite and PostgreSQL
both have it), so two writers racing on the same page cannot duplicate rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ingest.records import ChangeEvent, Post, Service
from triage.storage.models import ChangeEventRow, PostRow, ServiceRow, SourceRow

_CHUNK = 2000


def _insert_ignoring_duplicates(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), _CHUNK):
        statement = insert(table).on_conflict_do_nothing()
        session.execute(statement, list(rows[start : start + _CHUNK]))


def store_posts(session: Session, tenant: str, posts: Sequence[Post]) -> None:
    rows = [
        {
            "tenant": tenant,
            "source": post.source,
            "external_id": post.external_id,
            "author_key": post.author_key,
            "text": post.text,
            "lang": post.lang,
            "url": post.url,
            "created_at": post.created_at,
            "meta": post.meta,
        }
        for post in posts
    ]
    _insert_ignoring_duplicates(session, PostRow.__table__, rows)


def store_changes(session: Session, tenant: str, changes: Sequence[ChangeEvent]) -> None:
    rows = [
        {
            "tenant": tenant,
            "source": change.source,
            "external_id": change.external_id,
            "service": change.service,
            "kind": change.kind,
            "summary": change.summary,
            "started_at": change.started_at,
            "ended_at": change.ended_at,
            "url": change.url,
        }
        for change in changes
    ]
    _insert_ignoring_duplicates(session, ChangeEventRow.__table__, rows)


def store_services(session: Session, tenant: str, services: Sequence[Service]) -> None:
    """The catalog is configuration: a service seen again replaces its description."""
    existing = {
        row.name: row for row in session.scalars(select(ServiceRow).where(ServiceRow.tenant == tenant))
    }
    for service in services:
        row = existing.get(service.name)
        if row is None:
            session.add(
                ServiceRow(
                    tenant=tenant,
                    name=service.name,
                    description=service.description,
                    keywords=list(service.keywords),
                )
            )
        else:
            row.description, row.keywords = service.description, list(service.keywords)


def load_services(session: Session, tenant: str) -> list[Service]:
    rows = session.scalars(select(ServiceRow).where(ServiceRow.tenant == tenant).order_by(ServiceRow.id))
    return [Service(name=row.name, description=row.description, keywords=tuple(row.keywords)) for row in rows]


def load_cursor(session: Session, tenant: str, name: str) -> dict[str, Any]:
    row = session.scalar(select(SourceRow).where(SourceRow.tenant == tenant, SourceRow.name == name))
    return dict(row.cursor) if row is not None else {}


def save_cursor(session: Session, tenant: str, name: str, kind: str, cursor: dict[str, Any], at: Any) -> None:
    row = session.scalar(select(SourceRow).where(SourceRow.tenant == tenant, SourceRow.name == name))
    if row is None:
        session.add(SourceRow(tenant=tenant, name=name, kind=kind, cursor=cursor, updated_at=at))
    else:
        row.cursor, row.updated_at, row.last_error = cursor, at, None
