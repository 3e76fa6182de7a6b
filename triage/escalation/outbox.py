"""Writing decisions to the outbox, and the outbox's housekeeping (list, retry, purge).

``enqueue_signal_messages`` is called inside the transaction that persists the
triage state, so a decision and its messages commit together. It is
idempotent: the engine re-derives its whole decision history on every replay,
and each decision has a stable message id, so only decisions not yet in the
outbox are written.

Generations: a signal is one alert at each target for as long as it stays
open; it is keyed by the engine's ``Signal.dedup_key``, never by a timestamp
or anything random. When a cluster pages again after its alert was resolved
(a mute ended, the problem came back), the engine gives the new signal a new
generation of its key (``tenant:cluster:2``), so PagerDuty opens a new alert
instead of folding the recurrence into a closed one. Should the engine ever
trigger the *same* key again after resolving it, the outbox does the same
itself by appending ``#g<n>``, and it drops updates and resolves of a key that
is not open, which would reopen or duplicate an alert at the target.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from triage.engine import RESOLVE, TRIGGER, SignalDecision, TriageEngine
from triage.errors import TriageError
from triage.escalation.message import SnapshotBuilder
from triage.escalation.models import (
    DEAD,
    DELIVERED,
    FINAL_STATUSES,
    OPEN_STATUSES,
    PENDING,
    SUPERSEDED,
    OutboxMessageRow,
)
from triage.escalation.settings import EscalationSettings
from triage.events import from_epoch

#: namespace of message ids (uuid5), fixed forever so ids stay stable across versions
_MESSAGE_NAMESPACE = uuid.UUID("5b0c8d2e-3f7a-4c61-9a57-1e2d3c4b5a69")
_IN_CHUNK = 500


@dataclass(frozen=True)
class PlannedMessage:
    """One decision as one target will see it, before it is rendered."""

    decision: SignalDecision
    sequence: int
    generation: int

    @property
    def delivery_key(self) -> str:
        key = self.decision.dedup_key
        return key if self.generation == 1 else f"{key}#g{self.generation}"


def plan_generations(decisions: Sequence[SignalDecision]) -> list[PlannedMessage]:
    """Number each signal's decisions and split them into generations (open → resolved).

    An update or resolve of a signal that is not open would reopen or duplicate an alert at
    the target, so it is left out.
    """
    planned: list[PlannedMessage] = []
    sequence: dict[str, int] = {}
    generation: dict[str, int] = {}
    is_open: dict[str, bool] = {}
    for decision in decisions:
        key = decision.dedup_key
        sequence[key] = sequence.get(key, 0) + 1
        if decision.action == TRIGGER:
            if is_open.get(key):
                continue
            generation[key] = generation.get(key, 0) + 1
            is_open[key] = True
        elif not is_open.get(key):
            continue
        elif decision.action == RESOLVE:
            is_open[key] = False
        planned.append(PlannedMessage(decision, sequence[key], generation[key]))
    return planned


def message_id_for(tenant: str, target: str, plan: PlannedMessage) -> str:
    decision = plan.decision
    name = f"{tenant}|{target}|{decision.dedup_key}|{plan.sequence}|{decision.action}|{decision.at!r}"
    return str(uuid.uuid5(_MESSAGE_NAMESPACE, name))


def _existing_ids(session: Session, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found |= set(
            session.scalars(select(OutboxMessageRow.message_id).where(OutboxMessageRow.message_id.in_(chunk)))
        )
    return found


def _pinned_routes(session: Session, tenant: str, targets: list[str]) -> dict[tuple[str, str], str | None]:
    """The route each (target, delivery key) got when its trigger was enqueued."""
    first_ids = (
        select(func.min(OutboxMessageRow.id))
        .where(OutboxMessageRow.tenant == tenant, OutboxMessageRow.target.in_(targets))
        .group_by(OutboxMessageRow.target, OutboxMessageRow.delivery_key)
    )
    rows = session.execute(
        select(OutboxMessageRow.target, OutboxMessageRow.delivery_key, OutboxMessageRow.route).where(
            OutboxMessageRow.id.in_(first_ids)
        )
    )
    return {(row.target, row.delivery_key): row.route for row in rows}


def enqueue_signal_messages(
    session: Session, tenant: str, engine: TriageEngine, settings: EscalationSettings
) -> int:
    """Write one outbox row per (decision, configured target) not already in the outbox.

    Call it in the transaction that persists the engine's state. Returns how many rows it wrote.
    """
    if not settings.targets or not engine.decisions:
        return 0
    settings.check()
    plans = plan_generations(engine.decisions)
    wanted = [
        (target, plan, message_id_for(tenant, target.name, plan))
        for target in settings.targets
        for plan in plans
    ]
    existing = _existing_ids(session, [message_id for _, _, message_id in wanted])
    routes = _pinned_routes(session, tenant, [target.name for target in settings.targets])
    builder = SnapshotBuilder(engine, settings)
    snapshots: dict[int, dict[str, Any]] = {}  # one snapshot per decision, whatever the number of targets
    written = 0
    for target, plan, message_id in wanted:
        if message_id in existing:
            continue
        if id(plan) not in snapshots:
            snapshots[id(plan)] = builder.build(
                plan.decision, message_id="", dedup_key=plan.delivery_key, generation=plan.generation
            ).model_dump(mode="json")
        payload = {**snapshots[id(plan)], "message_id": message_id}
        route_key = (target.name, plan.delivery_key)
        if route_key not in routes:
            routes[route_key] = target.route_for(payload["service"])
        session.add(
            OutboxMessageRow(
                message_id=message_id,
                tenant=tenant,
                target=target.name,
                kind=target.kind,
                signal_key=plan.decision.dedup_key,
                delivery_key=plan.delivery_key,
                generation=plan.generation,
                sequence=plan.sequence,
                action=plan.decision.action,
                route=routes[route_key],
                payload=payload,
                status=PENDING,
                attempts=0,
                next_attempt_at=None,
                decided_at=from_epoch(plan.decision.at),
            )
        )
        written += 1
    session.flush()
    return written


# -- housekeeping -------------------------------------------------------------------------------


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    target: str | None = None,
    tenant: str | None = None,
    limit: int = 50,
) -> list[OutboxMessageRow]:
    statement = select(OutboxMessageRow).order_by(OutboxMessageRow.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(OutboxMessageRow.status == status)
    if target is not None:
        statement = statement.where(OutboxMessageRow.target == target)
    if tenant is not None:
        statement = statement.where(OutboxMessageRow.tenant == tenant)
    return list(session.scalars(statement))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessageRow.status, func.count()).group_by(OutboxMessageRow.status))
    return {status: count for status, count in rows}


@dataclass(frozen=True)
class RetryOutcome:
    requeued: list[int]
    superseded: list[int]


def retry_messages(
    session: Session, ids: Sequence[int] | None = None, *, target: str | None = None
) -> RetryOutcome:
    """Put dead messages back in the queue with a fresh attempt budget.

    A dead message whose signal has since had a *later* message delivered to the same target is
    stale: sending it now would put an old state over a newer one (or reopen a resolved alert),
    so it is marked superseded instead.
    """
    statement = select(OutboxMessageRow).where(OutboxMessageRow.status == DEAD).order_by(OutboxMessageRow.id)
    if ids:
        statement = statement.where(OutboxMessageRow.id.in_(list(ids)))
    if target is not None:
        statement = statement.where(OutboxMessageRow.target == target)
    rows = list(session.scalars(statement))
    if ids:
        missing = sorted(set(ids) - {row.id for row in rows})
        if missing:
            raise TriageError(
                f"outbox messages {', '.join(map(str, missing))} are not dead letters; "
                "see `triage outbox list --status dead`"
            )
    requeued: list[int] = []
    superseded: list[int] = []
    for row in rows:
        later_delivered = session.scalar(
            select(func.count()).where(
                OutboxMessageRow.target == row.target,
                OutboxMessageRow.delivery_key == row.delivery_key,
                OutboxMessageRow.id > row.id,
                OutboxMessageRow.status == DELIVERED,
            )
        )
        if later_delivered:
            row.status = SUPERSEDED
            row.last_error = f"{row.last_error or ''} [not retried: a later message was delivered]".strip()
            superseded.append(row.id)
            continue
        row.status, row.attempts, row.next_attempt_at = PENDING, 0, None
        requeued.append(row.id)
    session.flush()
    return RetryOutcome(requeued, superseded)


def purge_messages(
    session: Session,
    *,
    statuses: Sequence[str],
    older_than: datetime | None = None,
    target: str | None = None,
) -> int:
    """Delete finished messages (delivered, superseded, dead); open ones are never purged."""
    bad = [status for status in statuses if status not in FINAL_STATUSES]
    if bad or not statuses:
        raise TriageError(
            f"only finished messages can be purged ({', '.join(FINAL_STATUSES)}); "
            f"got {', '.join(bad) or 'none'}"
        )
    statement = delete(OutboxMessageRow).where(OutboxMessageRow.status.in_(list(statuses)))
    if older_than is not None:
        statement = statement.where(OutboxMessageRow.created_at < older_than)
    if target is not None:
        statement = statement.where(OutboxMessageRow.target == target)
    result = session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_message_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(OutboxMessageRow.status.in_(OPEN_STATUSES))) or 0)
