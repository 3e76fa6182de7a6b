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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.wait import wait_base

from triage.engine import UPDATE
from triage.escalation.base import (
    DeliveryError,
    EscalationTarget,
    PermanentDeliveryError,
    RetryableDeliveryError,
    build_target,
    scrub,
    shorten,
)
from triage.escalation.message import ImpactMessage
from triage.escalation.models import (
    DEAD,
    DELIVERED,
    OPEN_STATUSES,
    PENDING,
    SENDING,
    SUPERSEDED,
    OutboxMessageRow,
)
from triage.escalation.settings import EscalationSettings
from triage.storage.database import transaction

log = logging.getLogger(__name__)

#: outcomes written per transaction
_RECORD_EVERY = 50

Clock = Callable[[], datetime]
Sleeper = Callable[[float], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the outbox stores is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class RateLimiter:
    """Token buckets per (target, route): ``burst`` at once, then ``rate_per_minute``."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str | None], tuple[float, datetime]] = {}

    def acquire(
        self, key: tuple[str, str | None], rate_per_minute: float, burst: int, now: datetime
    ) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        tokens, seen = self._buckets.get(key, (float(burst), now))
        per_second = rate_per_minute / 60.0
        tokens = min(float(burst), tokens + max(0.0, (now - seen).total_seconds()) * per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / per_second


class BackoffWait(wait_base):
    """Exponential backoff with jitter over a message's *total* attempts; Retry-After wins.

    The wait for attempt n is uniform in [h/2, h] with h = min(max, initial * 2**(n-1)) ("equal
    jitter": spread out, yet never an immediate hammering retry). A ``Retry-After`` from the
    receiver is honoured as given, even above the maximum.
    """

    def __init__(self, settings: EscalationSettings, attempts: Callable[[], int], rng: random.Random) -> None:
        self.settings = settings
        self.attempts = attempts
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RetryableDeliveryError) and error.retry_after is not None:
            return error.retry_after
        exponent = max(0, self.attempts() - 1)
        high = min(self.settings.backoff_max_seconds, self.settings.backoff_initial_seconds * 2.0**exponent)
        return self.rng.uniform(high / 2, high)


class _RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.2f} s")
        self.wait = wait


@dataclass
class DeliveryReport:
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
        import time

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
        """One pass: every alert whose next message is due gets that message delivered (or retried)."""
        report = DeliveryReport()
        finished: list[tuple[_Claimed, _Outcome]] = []
        for claimed in self._claim(report):
            finished.append((claimed, self._deliver(claimed, report)))
            if len(finished) >= _RECORD_EVERY:
                self._record(finished)
                finished = []
        self._record(finished)
        return report

    def deliver_until_empty(self, max_passes: int = 10_000) -> DeliveryReport:
        """Pass after pass, sleeping until the next message is due, until nothing is open."""
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
        """When the next message may be tried (None: the outbox is empty).

        Only the first open message of each alert counts: the ones behind it wait for it.
        """
        with transaction(self.sessions) as session:
            rows = session.execute(
                select(
                    OutboxMessageRow.target, OutboxMessageRow.delivery_key, OutboxMessageRow.next_attempt_at
                )
                .where(OutboxMessageRow.status.in_(OPEN_STATUSES))
                .order_by(OutboxMessageRow.id)
            ).all()
        if not rows:
            return None
        now = self.clock()
        heads: dict[tuple[str, str], datetime] = {}
        for row in rows:
            heads.setdefault((row.target, row.delivery_key), _aware(row.next_attempt_at) or now)
        return min(heads.values())

    # -- steps --------------------------------------------------------------------------------
    def _claim(self, report: DeliveryReport) -> list[_Claimed]:
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        claimed: list[_Claimed] = []
        with transaction(self.sessions) as session:
            rows = session.scalars(
                select(OutboxMessageRow)
                .where(OutboxMessageRow.status.in_(OPEN_STATUSES))
                .order_by(OutboxMessageRow.id)
                .limit(self.settings.batch_size * 10)
            ).all()
            queues: dict[tuple[str, str], list[OutboxMessageRow]] = {}
            for row in rows:
                queues.setdefault((row.target, row.delivery_key), []).append(row)
            for queue in queues.values():
                while len(queue) > 1 and queue[0].action == UPDATE and queue[0].status == PENDING:
                    stale = queue.pop(0)
                    stale.status, stale.last_error = SUPERSEDED, f"superseded by outbox message {queue[0].id}"
                    report.superseded += 1
                head = queue[0]
                due = _aware(head.next_attempt_at)
                if due is not None and due > now:
                    continue  # backing off, or leased by a live worker
                taken = session.execute(
                    update(OutboxMessageRow)
                    .where(
                        OutboxMessageRow.id == head.id,
                        OutboxMessageRow.status == head.status,
                        OutboxMessageRow.attempts == head.attempts,
                    )
                    .values(status=SENDING, next_attempt_at=lease_until)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(
                        _Claimed(
                            head.id,
                            head.message_id,
                            head.target,
                            head.route,
                            head.attempts,
                            dict(head.payload),
                        )
                    )
                if len(claimed) >= self.settings.batch_size:
                    break
        return claimed

    def _deliver(self, claimed: _Claimed, report: DeliveryReport) -> _Outcome:
        target = self.target(claimed.target)
        if target is None:
            report.dead += 1
            return _Outcome(
                DEAD,
                claimed.attempts,
                error=f"target {claimed.target!r} is not configured any more; "
                "configure it and run `triage outbox retry`",
            )
        message = ImpactMessage.model_validate(claimed.payload)
        config = target.config
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
                    receipt = target.deliver(message, claimed.route, self.clock())
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
        """Write outcomes, a few dozen per transaction (one commit per message would halve throughput).

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
