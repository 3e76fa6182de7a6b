"""The worker's mechanics: order, retries with backoff, Retry-After, dead letters, coalescing, rate limits.

The target here is a scripted stand-in, because what is under test is the worker; the real targets
are tested against their APIs at the wire in their own files.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import WEBHOOK_SECRET, FakeClock, incident_engine, incident_key
from triage.escalation.base import (
    DeliveryError,
    DeliveryReceipt,
    EscalationTarget,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.message import ImpactMessage
from triage.escalation.models import DEAD, DELIVERED, PENDING, SENDING, SUPERSEDED, OutboxMessageRow
from triage.escalation.outbox import enqueue_signal_messages, retry_messages
from triage.escalation.retry import RateLimiter
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.storage.database import transaction

SECRET = WEBHOOK_SECRET


class ScriptedTarget(EscalationTarget):
    kind = "webhook"

    def __init__(self, config: TargetSettings, script: list[DeliveryError | None] | None = None) -> None:
        super().__init__(config)
        self.script: deque[DeliveryError | None] = deque(script or [])
        self.sent: list[tuple[str, str]] = []

    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        outcome = self.script.popleft() if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append((message.action, message.dedup_key))
        return DeliveryReceipt(200)


def make(
    sessions: sessionmaker[Session], script: list[DeliveryError | None] | None = None, **overrides: Any
) -> tuple[DeliveryWorker, ScriptedTarget, FakeClock]:
    config = TargetSettings(
        name="hook",
        kind="webhook",
        url="http://127.0.0.1:9/",
        secret=SecretStr(SECRET),
        rate_per_minute=overrides.pop("rate_per_minute", 6000),
        burst=overrides.pop("burst", 100),
    )
    settings = EscalationSettings(targets=[config], **overrides)
    target = ScriptedTarget(config, script)
    clock = FakeClock()
    worker = DeliveryWorker(
        sessions, settings, clock=clock, sleeper=clock.sleep, rng=random.Random(1), targets={"hook": target}
    )
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
    return worker, target, clock


def statuses(sessions: sessionmaker[Session]) -> list[tuple[str, str, int]]:
    with transaction(sessions) as session:
        return [
            (row.action, row.status, row.attempts)
            for row in session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id))
        ]


def test_messages_of_one_alert_are_delivered_in_order(sessions: sessionmaker[Session]) -> None:
    worker, target, clock = make(sessions)
    with transaction(sessions) as session:  # the trigger is backing off; what follows it must wait
        session.execute(
            update(OutboxMessageRow)
            .where(OutboxMessageRow.action == "trigger")
            .values(next_attempt_at=clock.now + timedelta(seconds=30))
        )
    assert worker.deliver_once().delivered == 0 and target.sent == []
    clock.advance(30)
    report = worker.deliver_once()
    assert [action for action, _ in target.sent] == ["trigger", "resolve"]
    assert report.delivered == 2 and report.superseded == 1
    assert statuses(sessions) == [
        ("trigger", DELIVERED, 1),
        ("update", SUPERSEDED, 0),
        ("resolve", DELIVERED, 1),
    ]


def test_transient_failures_are_retried_with_growing_jittered_backoff(
    sessions: sessionmaker[Session],
) -> None:
    worker, target, clock = make(
        sessions,
        [RetryableDeliveryError("503", 503), RetryableDeliveryError("503", 503)],
        backoff_initial_seconds=1.0,
    )
    report = worker.deliver_once()
    assert report.attempts == 3 + 1, "three tries for the trigger, one for the resolve"
    first, second = clock.sleeps
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0, "equal jitter around 1 s, then 2 s"
    assert statuses(sessions)[0] == ("trigger", DELIVERED, 3)


def test_a_long_retry_after_puts_the_message_back_instead_of_sleeping(
    sessions: sessionmaker[Session],
) -> None:
    worker, target, clock = make(sessions, [RetryableDeliveryError("429", 429, retry_after=120.0)])
    started = clock.now
    report = worker.deliver_once()
    assert report.deferred == 1 and clock.sleeps == [] and target.sent == []
    with transaction(sessions) as session:
        row = session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).first()
        assert row is not None and row.status == PENDING and row.last_status_code == 429
        retry_at = row.next_attempt_at
        assert retry_at is not None
        assert abs((retry_at.replace(tzinfo=started.tzinfo) - started).total_seconds() - 120) < 1e-3
    assert worker.deliver_once().delivered == 0, "not due before Retry-After has passed"
    worker.deliver_until_empty()
    assert clock.sleeps == [pytest.approx(120.0)] and target.sent[0] == ("trigger", incident_key())


def test_a_short_retry_after_is_honoured_exactly(sessions: sessionmaker[Session]) -> None:
    worker, _, clock = make(sessions, [RetryableDeliveryError("429", 429, retry_after=3.0)])
    worker.deliver_once()
    assert clock.sleeps == [3.0]


def test_a_rejected_message_is_dead_at_once_and_can_be_retried(sessions: sessionmaker[Session]) -> None:
    worker, target, clock = make(sessions, [PermanentDeliveryError(f"400 bad event (key {SECRET})", 400)])
    with transaction(sessions) as session:  # only the trigger is due for now
        session.execute(
            update(OutboxMessageRow)
            .where(OutboxMessageRow.action != "trigger")
            .values(next_attempt_at=clock.now + timedelta(hours=1))
        )
    report = worker.deliver_once()
    assert report.dead == 1 and report.attempts == 1
    with transaction(sessions) as session:
        dead = session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.status == DEAD)).one()
        assert dead.last_status_code == 400 and "bad event" in (dead.last_error or "")
        assert SECRET not in (dead.last_error or "") and "***" in (dead.last_error or "")
        assert retry_messages(session, [dead.id]).requeued == [dead.id]
    worker.deliver_until_empty()
    assert [action for action, _ in target.sent] == ["trigger", "resolve"], (
        "the retried trigger still goes first"
    )
    assert all(status in (DELIVERED, SUPERSEDED) for _, status, _ in statuses(sessions))


def test_after_max_attempts_a_message_is_a_dead_letter(sessions: sessionmaker[Session]) -> None:
    failures: list[DeliveryError | None] = [RetryableDeliveryError("502", 502) for _ in range(4)]
    worker, target, clock = make(sessions, failures, max_attempts=4, inline_wait_max_seconds=0.0)
    worker.deliver_until_empty(max_passes=20)
    assert statuses(sessions)[0] == ("trigger", DEAD, 4)
    assert len(clock.sleeps) == 3, "between attempts the worker waits out the backoff"
    assert clock.sleeps[2] > clock.sleeps[0]


def test_pending_updates_are_coalesced_under_a_rate_limit(sessions: sessionmaker[Session]) -> None:
    worker, target, clock = make(sessions, rate_per_minute=60, burst=1)
    with transaction(sessions) as session:
        resolve = session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.action == "resolve")).one()
        base = {
            column: getattr(resolve, column)
            for column in (
                "tenant",
                "target",
                "kind",
                "signal_key",
                "delivery_key",
                "generation",
                "route",
                "payload",
                "decided_at",
            )
        }
        session.delete(resolve)
        session.flush()
        for number in range(5):  # a burst of updates, then the resolve
            session.add(
                OutboxMessageRow(
                    **base,
                    message_id=f"extra-{number}",
                    sequence=10 + number,
                    action="update",
                    status=PENDING,
                    attempts=0,
                )
            )
        session.add(
            OutboxMessageRow(
                **base, message_id="extra-resolve", sequence=20, action="resolve", status=PENDING, attempts=0
            )
        )
    report = worker.deliver_until_empty()
    assert [action for action, _ in target.sent] == ["trigger", "resolve"]
    assert report.superseded == 6


def test_the_rate_limit_defers_without_spending_attempts(sessions: sessionmaker[Session]) -> None:
    worker, target, clock = make(sessions, rate_per_minute=60, burst=1)
    worker.deliver_once()
    with transaction(sessions) as session:  # a second alert, due at once
        first = session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).first()
        assert first is not None
        session.add(
            OutboxMessageRow(
                message_id="other",
                tenant="bank",
                target="hook",
                kind="webhook",
                signal_key="bank:cl-00002",
                delivery_key="bank:cl-00002",
                generation=1,
                sequence=1,
                action="trigger",
                status=PENDING,
                payload={**first.payload, "dedup_key": "bank:cl-00002"},
                attempts=0,
                decided_at=first.decided_at,
            )
        )
    report = worker.deliver_once()
    assert report.rate_limited >= 1 and report.attempts == 0
    worker.deliver_until_empty()
    assert ("trigger", "bank:cl-00002") in target.sent
    assert sum(clock.sleeps) == pytest.approx(2.0, abs=0.01), "one message a second"


def test_a_message_claimed_by_a_worker_that_died_is_sent_again_after_its_lease(
    sessions: sessionmaker[Session],
) -> None:
    worker, target, clock = make(sessions, lease_seconds=60)
    with transaction(sessions) as session:
        session.execute(
            update(OutboxMessageRow)
            .where(OutboxMessageRow.action == "trigger")
            .values(status=SENDING, next_attempt_at=clock.now + timedelta(seconds=60))
        )
    assert worker.deliver_once().delivered == 0
    clock.advance(61)
    assert worker.deliver_once().delivered >= 1 and target.sent[0] == ("trigger", incident_key())


def test_rate_limiter_refills_at_its_rate() -> None:
    limiter = RateLimiter()
    clock = FakeClock()
    key = ("pd", None)
    assert [limiter.acquire(key, 120, 2, clock()) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    clock.advance(0.5)
    assert limiter.acquire(key, 120, 2, clock()) == 0.0


@pytest.mark.postgres
def test_two_workers_share_the_outbox_without_double_sends_or_reordering(
    postgres_sessions: sessionmaker[Session],
) -> None:
    import threading

    worker, target, _ = make(postgres_sessions)
    with transaction(postgres_sessions) as session:
        template = session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)).first()
        assert template is not None
        for alert in range(2, 42):
            key = f"bank:cl-{alert:05d}"
            for sequence, action in enumerate(("trigger", "resolve"), start=1):
                session.add(
                    OutboxMessageRow(
                        message_id=f"{key}/{sequence}",
                        tenant="bank",
                        target="hook",
                        kind="webhook",
                        signal_key=key,
                        delivery_key=key,
                        generation=1,
                        sequence=sequence,
                        action=action,
                        status=PENDING,
                        attempts=0,
                        decided_at=template.decided_at,
                        payload={**template.payload, "dedup_key": key, "action": action},
                    )
                )
    second = DeliveryWorker(
        postgres_sessions,
        worker.settings,
        clock=worker.clock,
        sleeper=worker.sleeper,
        targets={"hook": target},
    )
    threads = [threading.Thread(target=each.deliver_until_empty) for each in (worker, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    per_alert: dict[str, list[str]] = {}
    for action, key in target.sent:
        per_alert.setdefault(key, []).append(action)
    assert len(per_alert) == 41
    assert all(actions == ["trigger", "resolve"] for actions in per_alert.values()), "once each, in order"
