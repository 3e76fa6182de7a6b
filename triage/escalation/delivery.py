"""The outbox worker: claims due messages, delivers them in order, retries, dead-letters.

Per (target, alert) messages go strictly in order, one in flight at a time;
different alerts and targets never wait on each other beyond a short inline
retry. An update still waiting when a later message of the same alert arrives
is superseded (messages are cumulative snapshots), which is how a burst of
updates collapses under a target's rate limit (PagerDuty: about 120 events a
minute per routing key).

Retries are tenacity's: exponential backoff with jitter, ``Retry-After``
honoured, a stop after ``max_attempts`` (then the message is dead). A wait
longer than ``inline_wait_max_seconds`` is not slept: the message goes back to
the outbox with ``next_attempt_at`` and the worker moves on. The clock, the
sleeper and the random source are injected, so tests never sleep.

Several workers may run at once (scale-out): a message is claimed with a
conditional UPDATE and a lease, so a crashed worker's message is sent again
after ``lease_seconds`` — delivery is at least once, and receivers deduplicate
by ``message_id``. The rate limiter is per process.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Exists, Table, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from triage.engine import UPDATE
from triage.errors import ConfigurationError
from triage.escalation.base import (
    DeliveryError,
    DeliveryReceipt,
    EscalationTarget,
    PermanentDeliveryError,
    RetryableDeliveryError,
    build_target,
    scrub,
    shorten,
)
from triage.escalation.message import CHANGE, ChangeMessage, ImpactMessage
from triage.escalation.models import (
    DEAD,
    DELIVERED,
    OPEN_STATUSES,
    PENDING,
    SENDING,
    SUPERSEDED,
    OutboxMessageRow,
)
from triage.escalation.retry import BackoffWait, RateLimiter
from triage.escalation.settings import EscalationSettings
from triage.storage.database import transaction

log = logging.getLogger(__name__)

#: messages claimed (and their outcomes written) per transaction; small, so a lease covers the chunk
_CLAIM_CHUNK = 25

Clock = Callable[[], datetime]
Sleeper = Callable[[float], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the outbox stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _alert_queues() -> tuple[type[OutboxMessageRow], Exists, Exists]:
    """The outbox row, and whether an open message of the same alert is before / after it."""
    other = aliased(OutboxMessageRow)
    same_alert = (other.target == OutboxMessageRow.target) & (
        other.delivery_key == OutboxMessageRow.delivery_key
    )
    earlier_open = exists().where(same_alert, other.status.in_(OPEN_STATUSES), other.id < OutboxMessageRow.id)
    later_open = exists().where(same_alert, other.status.in_(OPEN_STATUSES), other.id > OutboxMessageRow.id)
    return OutboxMessageRow, earlier_open, later_open


class _RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.2f} s")
        self.wait = wait


@dataclass
class DeliveryReport:
    """What one or more passes did; ``errors`` are the dead letters' reasons, secrets scrubbed."""

    delivered: int = 0
    deferred: int = 0
    dead: int = 0
    superseded: int = 0
    rate_limited: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        for name in ("delivered", "deferred", "dead", "superseded", "rate_limited", "attempts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: str
    target: str
    route: str | None
    action: str
    attempts: int
    payload: dict[str, Any]


@dataclass
class _Outcome:
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None


class DeliveryWorker:
    """Delivers the outbox of one database to the configured targets."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: EscalationSettings,
        *,
        clock: Clock = utc_now,
        sleeper: Sleeper | None = None,
        rng: random.Random | None = None,
        targets: dict[str, EscalationTarget] | None = None,
    ) -> None:
        settings.check()
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.sleeper: Sleeper = sleeper or time.sleep
        self.rng = rng or random.Random()
        self.limiter = RateLimiter()
        self._targets: dict[str, EscalationTarget] = dict(targets or {})

    def target(self, name: str) -> EscalationTarget | None:
        if name not in self._targets:
            config = self.settings.target(name)
            if config is None:
                return None
            self._targets[name] = build_target(config)
        return self._targets[name]

    def close(self) -> None:
        for target in self._targets.values():
            target.close()

    # -- passes -------------------------------------------------------------------------------
    def deliver_once(self) -> DeliveryReport:
        """One pass: up to ``batch_size`` due messages, claimed a few at a time so leases stay short."""
        report = DeliveryReport()
        budget = self.settings.batch_size
        while budget > 0:
            claimed, superseded = self._claim(min(budget, _CLAIM_CHUNK))
            report.superseded += superseded
            if not claimed and not superseded:
                break
            budget -= len(claimed)
            self._record([(message, self._deliver(message, report)) for message in claimed])
        return report

    def deliver_until_empty(self, max_passes: int = 10_000) -> DeliveryReport:
        """Pass after pass, sleeping until the next message is due, until none is left to this worker."""
        report = DeliveryReport()
        for _ in range(max_passes):
            report.add(self.deliver_once())
            due = self.next_due()
            if due is None:
                break
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                self.sleeper(wait)
        return report

    def next_due(self) -> datetime | None:
        """When this worker may next try a message (None: nothing is left for it).

        Only an alert's first open message counts: the ones behind it wait for it. An alert whose
        first message is leased by another worker is that worker's business (or, if it died, the
        business of whoever runs after the lease ends), so it is not waited for.
        """
        message, earlier_open, _ = _alert_queues()
        with transaction(self.sessions) as session:
            dues = session.scalars(
                select(message.next_attempt_at).where(message.status == PENDING, ~earlier_open)
            ).all()
        if not dues:
            return None
        now = self.clock()
        return min((_aware(due) or now) for due in dues)

    # -- steps --------------------------------------------------------------------------------
    def _claim(self, limit: int) -> tuple[list[_Claimed], int]:
        """Claim the due first message of up to ``limit`` alerts; supersede updates that have a successor.

        Only an alert's first open message is ever a candidate, which keeps each alert in order
        whatever the backlog behind it; the conditional UPDATE makes a claim safe with several workers.
        """
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        message, earlier_open, later_open = _alert_queues()
        claimed: list[_Claimed] = []
        superseded = 0
        with transaction(self.sessions) as session:
            heads = session.execute(
                select(message, later_open.label("has_successor"))
                .where(
                    message.status.in_(OPEN_STATUSES),
                    ~earlier_open,
                    or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now),
                )
                .order_by(message.id)
                .limit(limit)
            ).all()
            stale = [
                head.id
                for head, has_successor in heads
                if head.action == UPDATE and head.status == PENDING and has_successor
            ]
            fresh = {head.id: head for head, _ in heads if head.id not in stale}
            due = or_(message.next_attempt_at.is_(None), message.next_attempt_at <= now)
            # conditional on "still open and due": a message another worker claimed meanwhile carries
            # that worker's lease in next_attempt_at, so it is not taken twice
            if stale:
                superseded = len(
                    session.execute(
                        update(message)
                        .where(message.id.in_(stale), message.status == PENDING, due)
                        .values(
                            status=SUPERSEDED, last_error="superseded by a later message of the same alert"
                        )
                        .returning(message.id)
                        .execution_options(synchronize_session=False)
                    ).all()
                )
            if fresh:
                taken = (
                    session.execute(
                        update(message)
                        .where(message.id.in_(list(fresh)), message.status.in_(OPEN_STATUSES), due)
                        .values(status=SENDING, next_attempt_at=lease_until)
                        .returning(message.id)
                        .execution_options(synchronize_session=False)
                    )
                    .scalars()
                    .all()
                )
                for row_id in sorted(taken):
                    head = fresh[row_id]
                    claimed.append(
                        _Claimed(
                            head.id,
                            head.message_id,
                            head.target,
                            head.route,
                            head.action,
                            head.attempts,
                            dict(head.payload),
                        )
                    )
        return claimed, superseded

    def _deliver(self, claimed: _Claimed, report: DeliveryReport) -> _Outcome:
        try:
            target = self.target(claimed.target)
        except ConfigurationError as error:
            target, problem = None, str(error)
        else:
            problem = (
                f"target {claimed.target!r} is not configured; configure it and run `triage outbox retry`"
            )
        if target is None:
            report.dead += 1
            report.errors.append(f"{claimed.target}: {problem}")
            return _Outcome(DEAD, claimed.attempts, error=problem)
        config = target.config
        send: Callable[[datetime], DeliveryReceipt]
        if claimed.action == CHANGE:
            change = ChangeMessage.model_validate(claimed.payload)
            send = partial(target.deliver_change, change, claimed.route)
        else:
            message = ImpactMessage.model_validate(claimed.payload)
            send = partial(target.deliver, message, claimed.route)
        attempts = claimed.attempts
        planned_wait: list[float] = [0.0]

        def stop(retry_state: RetryCallState) -> bool:
            planned_wait[0] = retry_state.upcoming_sleep
            return attempts >= self.settings.max_attempts or (
                retry_state.upcoming_sleep > self.settings.inline_wait_max_seconds
            )

        retrying = Retrying(
            sleep=self.sleeper,
            wait=BackoffWait(self.settings, lambda: attempts, self.rng),
            stop=stop,
            retry=retry_if_exception_type(RetryableDeliveryError),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    wait = self.limiter.acquire(
                        (config.name, claimed.route),
                        config.effective_rate_per_minute,
                        config.burst,
                        self.clock(),
                    )
                    if wait > 0:
                        raise _RateLimited(wait)
                    attempts += 1
                    report.attempts += 1
                    receipt = send(self.clock())
        except _RateLimited as limited:
            report.rate_limited += 1
            return _Outcome(PENDING, attempts, self.clock() + timedelta(seconds=limited.wait))
        except DeliveryError as error:
            text = shorten(scrub(str(error), target.secret_values()))
            if isinstance(error, PermanentDeliveryError) or attempts >= self.settings.max_attempts:
                report.dead += 1
                report.errors.append(f"{claimed.target}: {text}")
                log.warning(
                    "outbox_dead_letter message_id=%s target=%s attempts=%d status=%s",
                    claimed.message_id,
                    claimed.target,
                    attempts,
                    error.status_code,
                )
                return _Outcome(DEAD, attempts, None, error.status_code, text)
            report.deferred += 1
            retry_at = self.clock() + timedelta(seconds=planned_wait[0])
            log.info(
                "outbox_retry_later message_id=%s target=%s attempts=%d status=%s wait_s=%.1f",
                claimed.message_id,
                claimed.target,
                attempts,
                error.status_code,
                planned_wait[0],
            )
            return _Outcome(PENDING, attempts, retry_at, error.status_code, text)
        except Exception as error:  # a bug in a target: keep the message, count the attempt, say what broke
            log.exception("outbox_target_failed message_id=%s target=%s", claimed.message_id, claimed.target)
            text = shorten(scrub(f"{type(error).__name__}: {error}", target.secret_values()))
            if attempts >= self.settings.max_attempts:
                report.dead += 1
                return _Outcome(DEAD, attempts, None, None, text)
            report.deferred += 1
            return _Outcome(
                PENDING,
                attempts,
                self.clock() + timedelta(seconds=self.settings.backoff_max_seconds),
                None,
                text,
            )
        report.delivered += 1
        log.info(
            "outbox_delivered message_id=%s target=%s attempts=%d status=%s",
            claimed.message_id,
            claimed.target,
            attempts,
            receipt.status_code,
        )
        return _Outcome(DELIVERED, attempts, None, receipt.status_code, None)

    def _record(self, finished: list[tuple[_Claimed, _Outcome]]) -> None:
        """Write a chunk's outcomes in one transaction (one commit per message would halve throughput).

        A worker that dies before this leaves its messages leased; they are sent again after the
        lease, which at-least-once delivery allows.
        """
        if not finished:
            return
        table = cast(Table, OutboxMessageRow.__table__)
        delivered_at = self.clock()
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for claimed, outcome in finished:
            values: dict[str, Any] = {
                "row_id": claimed.id,
                "status": outcome.status,
                "attempts": outcome.attempts,
                "next_attempt_at": outcome.next_attempt_at,
            }
            if outcome.status_code is not None:
                values["last_status_code"] = outcome.status_code
            if outcome.error is not None or outcome.status == DELIVERED:
                values["last_error"] = outcome.error
            if outcome.status == DELIVERED:
                values["delivered_at"] = delivered_at
            shapes.setdefault(tuple(sorted(values)), []).append(values)
        with transaction(self.sessions) as session:
            for columns, rows in shapes.items():
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values({column: bindparam(column) for column in columns if column != "row_id"})
                )
                session.connection().execute(statement, rows)
