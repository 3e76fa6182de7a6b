"""Routing rules: which targets hear of which signals, by service and severity, without orphan alerts."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import WEBHOOK_SECRET, incident_engine, incident_key
from triage.engine import SignalDecision
from triage.errors import ConfigurationError
from triage.escalation.models import OutboxMessageRow
from triage.escalation.outbox import PlannedMessage, enqueue_signal_messages, plan_generations, route_plans
from triage.escalation.settings import EscalationSettings, RoutingRule, TargetSettings
from triage.storage.database import transaction


def targets() -> list[TargetSettings]:
    return [
        TargetSettings(name="pd", kind="pagerduty", routing_key=SecretStr("R" * 32)),
        TargetSettings(
            name="hook", kind="webhook", url="http://127.0.0.1:9/h", secret=SecretStr(WEBHOOK_SECRET)
        ),
        TargetSettings(
            name="slack", kind="slack", secret=SecretStr("https://hooks.slack.com/services/T/B/x")
        ),
    ]


def routed_settings() -> EscalationSettings:
    """Page for card errors and worse; every signal to the webhook; Slack only hears of transfers."""
    return EscalationSettings.model_validate(
        {
            "targets": [target.model_dump() for target in targets()],
            "routing": [
                {"targets": ["pd"], "services": ["cards"], "min_severity": "error"},
                {"targets": ["hook"]},
                {"targets": ["slack"], "services": ["transfers"]},
            ],
        }
    )


def enqueued(
    sessions: sessionmaker[Session], settings: EscalationSettings
) -> dict[str, list[tuple[str, str]]]:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
        stored = list(session.scalars(select(OutboxMessageRow).order_by(OutboxMessageRow.id)))
        by_target: dict[str, list[tuple[str, str]]] = {}
        for row in stored:
            assert row.payload["action"] == row.action, "the body says what the row says"
            by_target.setdefault(row.target, []).append((row.action, row.payload["severity"]))
    return by_target


def test_a_rule_matches_its_services_at_or_above_its_severity() -> None:
    rule = RoutingRule(targets=["pd"], services=["cards", "transfers"], min_severity="error")
    assert rule.matches("cards", "error") and rule.matches("transfers", "critical")
    assert not rule.matches("cards", "warning"), "below the severity"
    assert not rule.matches("login", "critical") and not rule.matches(None, "critical"), "another service"
    anything = RoutingRule(targets=["hook"])
    assert anything.matches(None, "info") and anything.matches("login", "warning")


def test_without_rules_every_target_hears_of_everything() -> None:
    settings = EscalationSettings(targets=targets())
    assert settings.targets_for(None, "warning") == {"pd", "hook", "slack"}
    assert routed_settings().targets_for("cards", "warning") == {"hook"}
    assert routed_settings().targets_for("cards", "critical") == {"pd", "hook"}


def test_rules_must_name_configured_targets_and_known_severities() -> None:
    settings = EscalationSettings(targets=targets(), routing=[RoutingRule(targets=["pd", "opsgenie"])])
    with pytest.raises(ConfigurationError, match="not configured: opsgenie"):
        settings.check()
    with pytest.raises(ValidationError):
        RoutingRule(targets=["pd"], min_severity="sev1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        RoutingRule(targets=[])


def test_a_target_hears_from_the_first_matching_decision_to_the_resolve(
    sessions: sessionmaker[Session],
) -> None:
    by_target = enqueued(sessions, routed_settings())
    assert by_target["hook"] == [("trigger", "warning"), ("update", "error"), ("resolve", "error")]
    assert by_target["pd"] == [("trigger", "error"), ("resolve", "error")], (
        "the pager opens when the signal becomes an error, as a trigger, and is resolved with it"
    )
    assert "slack" not in by_target, "no rule sends card signals to Slack"
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(), routed_settings()) == 0, (
            "routing is deterministic, so a replay writes nothing twice"
        )


def plans_of(*actions: str) -> list[PlannedMessage]:
    decisions = [SignalDecision(action, "t:cl-1", "cl-1", float(at), "") for at, action in enumerate(actions)]
    return plan_generations(decisions)


def test_an_open_alert_gets_every_later_message_even_when_it_stops_matching() -> None:
    plans = plans_of("trigger", "update", "update", "resolve", "trigger", "resolve")
    matching = {1}  # only the first update matches (say, severity peaked there)
    routed = route_plans(plans, lambda plan: plans.index(plan) in matching)
    assert [(plan.sequence, action) for plan, action in routed] == [
        (2, "trigger"),
        (3, "update"),
        (4, "resolve"),
    ]
    assert route_plans(plans, lambda plan: plan.decision.action == "resolve") == [], (
        "a resolve alone opens nothing"
    )
    second = route_plans(plans, lambda plan: plan.generation == 2)
    assert [(plan.delivery_key, action) for plan, action in second] == [
        ("t:cl-1#g2", "trigger"),
        ("t:cl-1#g2", "resolve"),
    ]


def test_the_key_of_a_routed_alert_is_still_the_signal_key(sessions: sessionmaker[Session]) -> None:
    enqueued(sessions, routed_settings())
    with transaction(sessions) as session:
        keys = set(
            session.scalars(select(OutboxMessageRow.delivery_key).where(OutboxMessageRow.target == "pd"))
        )
    assert keys == {incident_key()}


def test_an_alert_a_target_has_is_resolved_there_even_after_the_rules_changed(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(resolve=False), routed_settings())
    rerouted = routed_settings().model_copy(
        update={
            "routing": [RoutingRule(targets=["pd"], services=["transfers"]), RoutingRule(targets=["hook"])]
        }
    )
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), rerouted)
        pd = [
            row.action
            for row in session.scalars(
                select(OutboxMessageRow).where(OutboxMessageRow.target == "pd").order_by(OutboxMessageRow.id)
            )
        ]
    assert pd == ["trigger", "resolve"], "the pager's open alert is not orphaned by a routing change"
