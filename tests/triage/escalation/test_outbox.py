"""Writing decisions to the outbox: one row per (decision, target), idempotent, snapshots as of the decision."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import incident_engine
from triage.engine import SignalDecision
from triage.errors import TriageError
from triage.escalation.models import DEAD, DELIVERED, PENDING, SUPERSEDED, OutboxMessageRow
from triage.escalation.outbox import (
    enqueue_signal_messages,
    plan_generations,
    purge_messages,
    retry_messages,
)
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.storage.database import transaction

PD_KEY = "R" * 32


def settings() -> EscalationSettings:
    return EscalationSettings(
        targets=[
            TargetSettings(name="pd", kind="pagerduty", routing_key=PD_KEY, routing_keys={"cards": "C" * 32}),
            TargetSettings(name="hook", kind="webhook", url="http://127.0.0.1:9/hook", secret="s3cret"),
        ],
        public_base_url="https://triage.example.com/",
    )


def rows(sessions: sessionmaker[Session]) -> list[OutboxMessageRow]:
    with transaction(sessions) as session:
        return list(session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)))


def test_each_decision_goes_to_each_target_once(sessions: sessionmaker[Session]) -> None:
    engine = incident_engine()
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", engine, settings()) == 3 * 2
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", engine, settings()) == 0, "a replay must not resend"
    stored = rows(sessions)
    assert [(row.target, row.action) for row in stored if row.target == "pd"] == [
        ("pd", "trigger"), ("pd", "update"), ("pd", "resolve")
    ]
    assert {row.delivery_key for row in stored} == {"bank:cl-00001"}
    assert all(row.status == PENDING and row.attempts == 0 for row in stored)
    assert len({row.message_id for row in stored}) == 6


def test_message_ids_are_stable_across_replays(sessions: sessionmaker[Session], tmp_path) -> None:  # noqa: ANN001
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    first = [row.message_id for row in rows(sessions)]
    with transaction(sessions) as session:
        session.execute(OutboxMessageRow.__table__.delete())
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    assert [row.message_id for row in rows(sessions)] == first


def test_a_message_describes_the_signal_as_it_was_when_decided(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    trigger, update, resolve = (row.payload for row in rows(sessions) if row.target == "pd")
    assert trigger["distinct_authors"] < update["distinct_authors"] <= resolve["distinct_authors"] == 24
    assert (trigger["severity"], update["severity"]) == ("warning", "error")
    assert trigger["service"] == "cards"
    assert trigger["link"] == "https://triage.example.com/clusters/cl-00001"
    assert trigger["likely_causes"][0]["change"] == "c1"
    assert any("before onset" in reason for reason in trigger["likely_causes"][0]["reasons"])
    assert trigger["samples"] and trigger["sentiment"] == {"negative": trigger["posts"]}
    assert trigger["summary"], "the cluster label is the one-line summary"
    assert resolve["zendesk_ticket_ids"] == sorted(resolve["zendesk_ticket_ids"]) != []


def test_a_cluster_keeps_the_routing_key_it_was_triggered_with(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    assert {row.route for row in rows(sessions) if row.target == "pd"} == {"cards"}
    assert {row.route for row in rows(sessions) if row.target == "hook"} == {None}
    assert "C" * 32 not in str([row.payload for row in rows(sessions)]), "secrets never enter the outbox"


def test_a_recurrence_after_resolve_is_a_new_generation() -> None:
    decisions = [
        SignalDecision("trigger", "t:cl-1", "cl-1", 1.0, ""),
        SignalDecision("resolve", "t:cl-1", "cl-1", 2.0, ""),
        SignalDecision("update", "t:cl-1", "cl-1", 3.0, "late update of a resolved alert"),
        SignalDecision("trigger", "t:cl-1", "cl-1", 4.0, ""),
        SignalDecision("update", "t:cl-1", "cl-1", 5.0, ""),
    ]
    planned = plan_generations(decisions)
    assert [(plan.decision.action, plan.delivery_key) for plan in planned] == [
        ("trigger", "t:cl-1"), ("resolve", "t:cl-1"), ("trigger", "t:cl-1#g2"), ("update", "t:cl-1#g2")
    ]


def test_no_targets_means_nothing_is_written(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(), EscalationSettings()) == 0


def _mark(sessions: sessionmaker[Session], statuses: list[str]) -> list[int]:
    with transaction(sessions) as session:
        stored = list(session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.target == "pd")
                                      .order_by(OutboxMessageRow.id)))
        for row, status in zip(stored, statuses, strict=True):
            row.status, row.attempts, row.last_error = status, 8 if status == DEAD else 1, "boom"
        return [row.id for row in stored]


def test_retry_requeues_dead_letters_but_never_sends_a_stale_state(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    trigger, update, resolve = _mark(sessions, [DEAD, DELIVERED, DEAD])
    with transaction(sessions) as session:
        outcome = retry_messages(session, target="pd")
    assert outcome.requeued == [resolve] and outcome.superseded == [trigger]
    by_id = {row.id: row for row in rows(sessions)}
    assert (by_id[resolve].status, by_id[resolve].attempts) == (PENDING, 0)
    assert by_id[trigger].status == SUPERSEDED
    with pytest.raises(TriageError, match="not dead letters"):
        with transaction(sessions) as session:
            retry_messages(session, [update])


def test_purge_removes_only_finished_messages(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    _mark(sessions, [DELIVERED, SUPERSEDED, DEAD])
    with transaction(sessions) as session:
        assert purge_messages(session, statuses=[DELIVERED, SUPERSEDED]) == 2
    assert sorted(row.status for row in rows(sessions)) == [DEAD] + [PENDING] * 3
    with pytest.raises(TriageError, match="only finished"), transaction(sessions) as session:
        purge_messages(session, statuses=[PENDING])
