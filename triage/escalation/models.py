"""The outbox: every message to an escalation target, from decision to delivery.

A row is written in the same transaction that decided it, so a decision is
never lost and never sent without being recorded; a worker delivers it later,
at least once. States: ``pending`` (due at ``next_attempt_at``, NULL = now),
``sending`` (claimed by a worker until ``next_attempt_at``, the lease),
``delivered``, ``superseded`` (an update made pointless by a later message of
the same signal) and ``dead`` (gave up; visible and retryable from the CLI).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from triage.storage.models import Base

PENDING, SENDING, DELIVERED, SUPERSEDED, DEAD = "pending", "sending", "delivered", "superseded", "dead"
OPEN_STATUSES = (PENDING, SENDING)
FINAL_STATUSES = (DELIVERED, SUPERSEDED, DEAD)


class OutboxMessageRow(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_target_key", "target", "delivery_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: stable across retries and replays; receivers deduplicate by it
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    #: the engine's Signal.dedup_key (tenant:cluster)
    signal_key: Mapped[str] = mapped_column(String(150))
    #: the key the target sees: the signal key (plus ``#g<n>`` if that key was ever triggered again)
    delivery_key: Mapped[str] = mapped_column(String(170))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    #: position of the decision among the signal's decisions
    sequence: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    #: which of the target's routes (PagerDuty routing key name); never the secret itself
    route: Mapped[str | None] = mapped_column(String(100), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
