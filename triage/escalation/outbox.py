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

Routing: with ``EscalationSettings.routing`` rules, each target gets only the
signals whose service and severity match one of its rules (``route_plans``).
Severity grows as a signal goes on, so a target may first hear of a signal at
an update: that message is sent to it as a trigger, and the target then gets
every later message of that alert, resolve included, whatever its severity.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from triage.engine import RESOLVE, TRIGGER, SignalDecision, TriageEngine
from triage.errors import TriageError
from triage.escalation.message import CHANGE, ChangeMessage, SnapshotBuilder
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
from triage.storage.models import ChangeEventRow

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


def route_plans(
    plans: Sequence[PlannedMessage],
    matches: Callable[[PlannedMessage], bool],
    known: Collection[str] = (),
) -> list[tuple[PlannedMessage, str]]:
    """The messages a target gets under the routing rules, each with the action it is sent as.

    An alert opens at the target with the first message of a generation that matches a rule for it
    (sent as a trigger, whatever the decision was); after that every message of the generation goes
    there, resolve included, so nothing is left open. A generation that never matches is not sent.
    ``known`` are the delivery keys the outbox already holds messages of for this target: their
    resolve is always sent, even when the rules changed since and no longer match.
    """
    routed: list[tuple[PlannedMessage, str]] = []
    opened: set[str] = set()
    for plan in plans:
        action = plan.decision.action
        key = plan.delivery_key
        if key not in opened:
            if action == RESOLVE and key in known:
                routed.append((plan, action))
                continue
            if action == RESOLVE or not matches(plan):
                continue
            opened.add(key)
            action = TRIGGER
        elif action == RESOLVE:
            opened.discard(key)
        routed.append((plan, action))
    return routed


def enqueue_signal_messages(
    session: Session, tenant: str, engine: TriageEngine, settings: EscalationSettings
) -> int:
    """Write one outbox row per (decision, target it is routed to) not already in the outbox.

    Call it in the transaction that persists the engine's state. Returns how many rows it wrote,
    change events forwarded to targets with ``forward_changes`` included.
    """
    if not settings.targets:
        return 0
    settings.check()
    plans = plan_generations(engine.decisions)
    builder = SnapshotBuilder(engine, settings)
    snapshots: dict[int, dict[str, Any]] = {}  # one snapshot per decision, whatever the number of targets

    def snapshot(plan: PlannedMessage) -> dict[str, Any]:
        if id(plan) not in snapshots:
            snapshots[id(plan)] = builder.build(
                plan.decision, message_id="", dedup_key=plan.delivery_key, generation=plan.generation
            ).model_dump(mode="json")
        return snapshots[id(plan)]

    def matcher(name: str) -> Callable[[PlannedMessage], bool]:
        def matches(plan: PlannedMessage) -> bool:
            if not settings.routing:  # no rules: every target hears of everything, no snapshot needed
                return True
            message = snapshot(plan)
            return name in settings.targets_for(message["service"], message["severity"])

        return matches

    routes = _pinned_routes(session, tenant, [target.name for target in settings.targets])
    wanted = [
        (target, plan, action, message_id_for(tenant, target.name, plan))
        for target in settings.targets
        for plan, action in route_plans(
            plans, matcher(target.name), {key for name, key in routes if name == target.name}
        )
    ]
    existing = _existing_ids(session, [message_id for *_, message_id in wanted])
    written = 0
    for target, plan, action, message_id in wanted:
        if message_id in existing:
            continue
        payload = {**snapshot(plan), "message_id": message_id, "action": action}
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
                action=action,
                route=routes[route_key],
                payload=payload,
                status=PENDING,
                attempts=0,
                next_attempt_at=None,
                decided_at=from_epoch(plan.decision.at),
            )
        )
        written += 1
    written += enqueue_change_events(session, tenant, settings)
    session.flush()
    return written


def change_message_id(tenant: str, target: str, change: ChangeEventRow) -> str:
    name = f"{tenant}|{target}|{CHANGE}|{change.source}|{change.external_id}"
    return str(uuid.uuid5(_MESSAGE_NAMESPACE, name))


def enqueue_change_events(session: Session, tenant: str, settings: EscalationSettings) -> int:
    """One outbox row per stored change of ``tenant`` and target with ``forward_changes``, once ever.

    Each change is an alert queue of its own (``change:<message id>``), so it never waits on, or
    holds up, a signal's messages. Alerts from monitoring are not forwarded.
    """
    forwarding = [target for target in settings.targets if target.forward_changes]
    if not forwarding:
        return 0
    changes = list(
        session.scalars(
            select(ChangeEventRow)
            .where(ChangeEventRow.tenant == tenant, ChangeEventRow.kind != "alert")
            .order_by(ChangeEventRow.started_at, ChangeEventRow.id)
        )
    )
    wanted = [
        (target, change, change_message_id(tenant, target.name, change))
        for target in forwarding
        for change in changes
        # a service without a routing key of its own goes to the default one; with none, it is not sent
        if target.route_for(change.service) is not None or target.routing_key is not None
    ]
    existing = _existing_ids(session, [message_id for *_, message_id in wanted])
    written = 0
    for target, change, message_id in wanted:
        if message_id in existing:
            continue
        message = ChangeMessage(
            message_id=message_id,
            tenant=tenant,
            change_id=change.external_id,
            source=change.source,
            kind=change.kind,
            service=change.service,
            summary=change.summary,
            started_at=change.started_at,
            url=change.url,
        )
        session.add(
            OutboxMessageRow(
                message_id=message_id,
                tenant=tenant,
                target=target.name,
                kind=target.kind,
                signal_key=f"{CHANGE}:{message_id}",
                delivery_key=f"{CHANGE}:{message_id}",
                generation=1,
                sequence=1,
                action=CHANGE,
                route=target.route_for(change.service),
                payload=message.model_dump(mode="json"),
                status=PENDING,
                attempts=0,
                next_attempt_at=None,
                decided_at=change.started_at,
            )
        )
        written += 1
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
