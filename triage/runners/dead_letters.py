"""Dead letters: tasks the scale-out runner gave up on, kept with their error for a person.

A task that still fails after its bounded retries (or fails in a way no retry
can fix) is written here and its message acknowledged, so one poison message
never loops through the queue forever nor blocks the messages behind it. The
row holds everything needed to send it again once the cause is fixed. The
table is created by migration 0005; it is unique by task id, so a worker that
dies after writing the row but before acknowledging the message, and runs the
message again, still leaves one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.orm import Session

_metadata = MetaData()

dead_letters = Table(
    "dead_letters",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", String(64), nullable=False, unique=True),
    Column("task_name", String(200), nullable=False),
    Column("queue", String(50)),
    Column("tenant", String(100)),
    Column("arguments", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error_type", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class DeadLetter:
    """One task given up on: what it was asked to do, how often it tried, and why it failed."""

    task_id: str
    task_name: str
    queue: str | None
    tenant: str | None
    arguments: dict[str, Any]
    attempts: int
    error_type: str
    error: str
    failed_at: datetime


def record_dead_letter(session: Session, letter: DeadLetter) -> bool:
    """Store ``letter``; False when this task id was already dead-lettered (a rerun after a crash)."""
    if session.scalar(select(dead_letters.c.id).where(dead_letters.c.task_id == letter.task_id)) is not None:
        return False
    session.execute(
        insert(dead_letters).values(
            task_id=letter.task_id,
            task_name=letter.task_name,
            queue=letter.queue,
            tenant=letter.tenant,
            arguments=letter.arguments,
            attempts=letter.attempts,
            error_type=letter.error_type,
            error=letter.error[:10_000],
            failed_at=letter.failed_at,
        )
    )
    return True


def list_dead_letters(session: Session, tenant: str | None = None) -> list[DeadLetter]:
    """Dead letters, oldest first; only ``tenant``'s when given."""
    statement = select(dead_letters).order_by(dead_letters.c.id)
    if tenant is not None:
        statement = statement.where(dead_letters.c.tenant == tenant)
    return [
        DeadLetter(
            task_id=row.task_id,
            task_name=row.task_name,
            queue=row.queue,
            tenant=row.tenant,
            arguments=dict(row.arguments),
            attempts=row.attempts,
            error_type=row.error_type,
            error=row.error,
            failed_at=row.failed_at,
        )
        for row in session.execute(statement)
    ]
