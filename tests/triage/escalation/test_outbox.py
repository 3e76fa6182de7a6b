"""Writing decisions to the outbox: one row per (decision, target), idempotent, snapshots as decided."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import WEBHOOK_SECRET, incident_engine, incident_key
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
            TargetSettings(
                name="pd",
                kind="pagerduty",
                routing_key=SecretStr(PD_KEY),
                routing_keys={"cards": SecretStr("C" * 32)},
            ),
            TargetSettings(
                name="hook", kind="webhook", url="http://127.0.0.1:9/hook", secret=SecretStr(WEBHOOK_SECRET)
            ),
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
        ("pd", "trigger"),
        ("pd", "update"),
        ("pd", "resolve"),
    ]
    assert {row.delivery_key for row in stored} == {incident_key()}
    assert all(row.status == PENDING and row.attempts == 0 for row in stored)
    assert len({row.message_id for row in stored}) == 6


def test_message_ids_are_stable_across_replays(sessions: sessionmaker[Session], tmp_path) -> None:  # noqa: ANN001
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings())
    first = [row.message_id for row in rows(sessions)]
    with transaction(sessions) as session:
        session.execute(delete(OutboxMessageRow))
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
        ("trigger", "t:cl-1"),
        ("resolve", "t:cl-1"),
        ("trigger", "t:cl-1#g2"),
        ("update", "t:cl-1#g2"),
    ]


def test_no_targets_means_nothing_is_written(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(), EscalationSettings()) == 0


def _mark(sessions: sessionmaker[Session], statuses: list[str]) -> list[int]:
    with transaction(sessions) as session:
        stored = list(
            session.scalars(
                select(OutboxMessageRow).where(OutboxMessageRow.target == "pd").order_by(OutboxMessageRow.id)
            )
        )
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
    with pytest.raises(TriageError, match="not dead letters"), transaction(sessions) as session:
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


def test_a_merged_cluster_leaves_no_open_alert_behind(sessions: sessionmaker[Session]) -> None:
    from tests.factories import START, near, triage_post, unit_vector

    engine = incident_engine(resolve=False)
    other = unit_vector(77)
    for number in range(100, 112):
        engine.add_post(triage_post(number, 700 + number - 100, f"late{number}", near(other, number, 0.2)))
    survivor, absorbed = engine.book.clusters["cl-00001"], engine.book.clusters["cl-00002"]
    assert len(engine.signals) == 2, "both clusters triggered"
    absorbed_key = engine.signal_of_cluster[absorbed.key]
    engine.merge_clusters(absorbed.key, survivor.key, START.timestamp() + 720 * 60)
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", engine, settings())
    last_action: dict[str, str] = {}
    for row in rows(sessions):
        last_action[row.delivery_key] = row.action
    assert last_action[absorbed_key] == "resolve"
    assert last_action[incident_key()] in ("trigger", "update"), "the survivor's alert carries on"


def test_the_migration_goes_down_and_up_again(sqlite_sessions: sessionmaker[Session]) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from triage.storage.database import alembic_config

    engine = sqlite_sessions.kw["bind"]
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert "outbox_messages" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    assert "outbox_messages" in inspect(engine).get_table_names()


def test_a_mute_resolves_the_alert_and_a_later_page_is_a_new_alert(sessions: sessionmaker[Session]) -> None:
    from tests.factories import START, near, triage_post
    from tests.triage.escalation.support import THEME

    engine = incident_engine(resolve=False)
    muted_at = START.timestamp() + 630 * 60
    engine.mute("cl-00001", until=muted_at + 600, now=muted_at)
    for number in range(200, 230):  # the problem is back after the mute ended
        engine.tick(START.timestamp() + (641 + number - 200) * 60 - 1)
        engine.add_post(triage_post(number, 641 + number - 200, f"again{number}", near(THEME, number, 0.2)))
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", engine, settings())
    actions: dict[str, list[str]] = {}
    for row in rows(sessions):
        if row.target == "pd":
            actions.setdefault(row.delivery_key, []).append(row.action)
    first, *later = actions.values()
    assert first[0] == "trigger" and first[-1] == "resolve", "the mute resolved the first alert"
    assert later and later[0][0] == "trigger", "the recurrence pages under a new key"
