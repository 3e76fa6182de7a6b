"""Change events from feeds forwarded to PagerDuty's Change Events API (the ``forward_changes`` option).

PagerDuty is faked at ``httpx2``'s transport (see ``support.FakeEventsApi``), so the package's own
request building runs; the outbox is a real database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import WEBHOOK_SECRET, FakeClock, FakeEventsApi, Reply, incident_engine
from triage.errors import ConfigurationError
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.message import CHANGE, ChangeMessage
from triage.escalation.models import DELIVERED, OutboxMessageRow
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.pagerduty import SUMMARY_LIMIT, PagerDutyTarget
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import WebhookTarget
from triage.storage.database import transaction
from triage.storage.models import ChangeEventRow

DEFAULT_KEY = "DefaultRoutingKey0123456789abcde"
CARDS_KEY = "CardsRoutingKey0123456789abcdef0"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def pagerduty(forward_changes: bool = True, default_key: bool = True) -> TargetSettings:
    return TargetSettings(
        name="pd",
        kind="pagerduty",
        routing_key=SecretStr(DEFAULT_KEY) if default_key else None,
        routing_keys={"cards": SecretStr(CARDS_KEY)},
        forward_changes=forward_changes,
    )


def webhook() -> TargetSettings:
    return TargetSettings(
        name="hook", kind="webhook", url="http://127.0.0.1:9/h", secret=SecretStr(WEBHOOK_SECRET)
    )


def change(
    number: int, kind: str = "deploy", service: str | None = "cards", url: str | None = None
) -> ChangeEventRow:
    return ChangeEventRow(
        tenant="bank",
        source="github",
        external_id=f"deploy-{number}",
        service=service,
        kind=kind,
        summary=f"cards-api v1.{number} rolled out",
        started_at=datetime(2026, 3, 2, 9, number, tzinfo=UTC),
        url=url,
    )


def store(sessions: sessionmaker[Session], *rows: ChangeEventRow) -> None:
    with transaction(sessions) as session:
        session.add_all(rows)


def change_rows(sessions: sessionmaker[Session]) -> list[OutboxMessageRow]:
    with transaction(sessions) as session:
        return list(
            session.scalars(
                select(OutboxMessageRow)
                .where(OutboxMessageRow.action == CHANGE)
                .order_by(OutboxMessageRow.id)
            )
        )


def a_change_message(url: str | None = "https://github.com/acme/cards-api/deployments/7") -> ChangeMessage:
    return ChangeMessage(
        message_id="m-change",
        tenant="bank",
        change_id="deploy-7",
        source="github",
        kind="deploy",
        service="cards",
        summary="cards-api v1.7 rolled out",
        started_at=NOW,
        url=url,
    )


def test_only_pagerduty_targets_forward_changes() -> None:
    hook = webhook().model_copy(update={"forward_changes": True})
    with pytest.raises(ConfigurationError, match="only pagerduty targets can forward_changes"):
        EscalationSettings(targets=[hook]).check()
    assert not pagerduty().problems()


def test_a_change_event_goes_to_the_change_events_api() -> None:
    receiver = FakeEventsApi(Reply(202, {"status": "success", "message": "Change event processed"}))
    PagerDutyTarget(pagerduty(), transport=receiver.transport).deliver_change(
        a_change_message(), "cards", NOW
    )
    request = receiver.received[0]
    event = receiver.events()[0]
    assert str(request.url) == "https://events.pagerduty.com/v2/change/enqueue"
    assert event["routing_key"] == CARDS_KEY, "the service's routing key, like its alerts"
    assert event["payload"]["summary"] == "cards: deploy: cards-api v1.7 rolled out"
    assert event["payload"]["source"] == "github" and event["payload"]["timestamp"].startswith(
        "2026-03-02T12:00"
    )
    assert event["payload"]["custom_details"]["change id"] == "deploy-7"
    assert event["links"] == [
        {"href": "https://github.com/acme/cards-api/deployments/7", "text": "deploy deploy-7"}
    ]
    assert "event_action" not in event and "dedup_key" not in event


def test_change_events_are_classified_like_alerts() -> None:
    receiver = FakeEventsApi(Reply(202, {}))
    target = PagerDutyTarget(pagerduty(), transport=receiver.transport)
    long = a_change_message(url=None).model_copy(update={"summary": "x" * 2000})
    target.deliver_change(long, None, NOW)
    assert (
        len(receiver.events()[0]["payload"]["summary"]) == SUMMARY_LIMIT
        and "links" not in receiver.events()[0]
    )
    receiver.script.extend(
        [
            Reply(429, {"status": "throttle event"}, {"Retry-After": "12"}),
            Reply(400, {"status": "invalid event", "message": "Event object is invalid", "errors": ["bad"]}),
        ]
    )
    with pytest.raises(RetryableDeliveryError) as throttled:
        target.deliver_change(a_change_message(), None, NOW)
    assert throttled.value.retry_after == 12.0
    with pytest.raises(PermanentDeliveryError, match="Event object is invalid: bad"):
        target.deliver_change(a_change_message(), None, NOW)


def test_targets_without_a_change_api_refuse_change_events() -> None:
    with pytest.raises(PermanentDeliveryError, match="does not take change events"):
        WebhookTarget(webhook()).deliver_change(a_change_message(), None, NOW)


def test_changes_are_enqueued_once_for_forwarding_targets_only(sessions: sessionmaker[Session]) -> None:
    store(
        sessions,
        change(1),
        change(2, service="transfers"),
        change(3, kind="alert"),
        ChangeEventRow(
            tenant="shop",
            source="github",
            external_id="deploy-9",
            kind="deploy",
            summary="",
            started_at=NOW,
        ),
    )
    settings = EscalationSettings(targets=[pagerduty(), webhook()])
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
    rows = change_rows(sessions)
    assert [(row.target, row.payload["change_id"], row.route) for row in rows] == [
        ("pd", "deploy-1", "cards"),
        ("pd", "deploy-2", None),
    ], "deploys of this tenant to PagerDuty only, each on its service's key; alerts are not forwarded"
    assert len({row.delivery_key for row in rows}) == 2, "each change is a queue of its own"
    with transaction(sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(), settings) == 0, "never twice"


def test_a_change_without_a_routing_key_is_not_sent(sessions: sessionmaker[Session]) -> None:
    store(sessions, change(1), change(2, service="transfers"))
    settings = EscalationSettings(targets=[pagerduty(default_key=False)])
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
    assert [row.payload["change_id"] for row in change_rows(sessions)] == ["deploy-1"]


def test_the_worker_delivers_changes_beside_the_alert(sessions: sessionmaker[Session]) -> None:
    store(sessions, change(1, url="https://github.com/acme/cards-api/deployments/1"))
    settings = EscalationSettings(targets=[pagerduty()])
    receiver = FakeEventsApi(Reply(202, {"status": "success", "message": "ok", "dedup_key": "k"}))
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), settings)
    clock = FakeClock()
    report = DeliveryWorker(
        sessions,
        settings,
        clock=clock,
        sleeper=clock.sleep,
        targets={"pd": PagerDutyTarget(settings.targets[0], transport=receiver.transport)},
    ).deliver_until_empty()
    assert report.dead == 0
    paths = [request.url.path for request in receiver.received]
    assert paths.count("/v2/change/enqueue") == 1 and "/v2/enqueue" in paths
    assert all(row.status == DELIVERED for row in change_rows(sessions))
