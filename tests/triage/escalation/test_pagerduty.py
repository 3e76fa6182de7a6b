"""PagerDuty Events API v2 through the official package, faked at its HTTP transport.

``pagerduty`` 7 speaks HTTP through ``httpx2`` (which respx cannot intercept) and only to https URLs,
so the fake sits at ``httpx2``'s transport and answers what the Events API answers: 202 with a
dedup_key, 400 "invalid event" with errors, 429 "throttle event", 5xx. All of the package's request
building, routing-key injection and response checking runs.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import (
    FakeClock,
    FakeEventsApi,
    Reply,
    incident_engine,
    incident_key,
    messages,
)
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.models import DEAD, DELIVERED, OutboxMessageRow
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.pagerduty import SUMMARY_LIMIT, PagerDutyTarget
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.storage.database import transaction

ROUTING_KEY = "R0utingKey0123456789abcdef012345"
CARDS_KEY = "CardsRoutingKey0123456789abcdef0"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def accepted(key: str = "k") -> Reply:
    return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})


@pytest.fixture
def receiver() -> FakeEventsApi:
    return FakeEventsApi(accepted())


def settings() -> EscalationSettings:
    return EscalationSettings(
        targets=[
            TargetSettings(
                name="pd",
                kind="pagerduty",
                routing_key=SecretStr(ROUTING_KEY),
                routing_keys={"cards": SecretStr(CARDS_KEY)},
            )
        ],
        public_base_url="https://triage.example.com",
    )


def test_trigger_is_a_complete_events_v2_alert(receiver: FakeEventsApi) -> None:
    target = PagerDutyTarget(settings().targets[0], transport=receiver.transport)
    trigger = messages()[0]
    target.deliver(trigger, None, NOW)
    request = receiver.received[0]
    event = receiver.events()[0]
    assert str(request.url) == "https://events.pagerduty.com/v2/enqueue"
    assert event["routing_key"] == ROUTING_KEY and event["event_action"] == "trigger"
    assert event["dedup_key"] == incident_key()
    payload = event["payload"]
    assert payload["severity"] == "warning" and payload["component"] == "cards"
    assert payload["group"] == "bank" and payload["class"] == "customer-impact"
    assert payload["summary"].startswith("cards: ") and len(payload["summary"]) <= SUMMARY_LIMIT
    assert payload["source"] and payload["timestamp"].startswith("2026-03-02")
    details = payload["custom_details"]
    assert details["distinct authors"] == trigger.distinct_authors and details["sample posts"]
    assert details["likely causes"][0].startswith("c1 ")
    assert event["links"] == [
        {"href": "https://triage.example.com/clusters/cl-00001", "text": "Cluster page (signal-triage)"}
    ]
    assert event["client_url"] == "https://triage.example.com/clusters/cl-00001"


def test_a_long_summary_is_cut_to_the_api_limit(receiver: FakeEventsApi) -> None:
    trigger = messages()[0].model_copy(update={"summary": "card declined " * 200})
    PagerDutyTarget(settings().targets[0], transport=receiver.transport).deliver(trigger, None, NOW)
    assert len(receiver.events()[0]["payload"]["summary"]) == SUMMARY_LIMIT


def test_resolve_names_only_the_key(receiver: FakeEventsApi) -> None:
    PagerDutyTarget(settings().targets[0], transport=receiver.transport).deliver(messages()[-1], "cards", NOW)
    event = receiver.events()[0]
    assert event == {"event_action": "resolve", "dedup_key": incident_key(), "routing_key": CARDS_KEY}


def test_an_invalid_event_is_final_and_keeps_the_api_error(receiver: FakeEventsApi) -> None:
    receiver.script.append(
        Reply(
            400,
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["'payload.severity' is invalid (must be one of ...)"],
            },
        )
    )
    with pytest.raises(PermanentDeliveryError, match="Event object is invalid: 'payload.severity'") as error:
        PagerDutyTarget(settings().targets[0], transport=receiver.transport).deliver(messages()[0], None, NOW)
    assert error.value.status_code == 400 and ROUTING_KEY not in str(error.value)


def test_throttling_and_server_errors_are_retryable_without_the_package_sleeping(
    receiver: FakeEventsApi,
) -> None:
    target = PagerDutyTarget(settings().targets[0], transport=receiver.transport)
    receiver.script.append(
        Reply(
            429,
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. Please retry later.",
            },
            {"Retry-After": "30"},
        )
    )
    with pytest.raises(RetryableDeliveryError) as throttled:
        target.deliver(messages()[0], None, NOW)
    assert (throttled.value.status_code, throttled.value.retry_after) == (429, 30.0)
    receiver.script.append(Reply(503, "<html>Service Unavailable</html>"))
    with pytest.raises(RetryableDeliveryError) as unavailable:
        target.deliver(messages()[0], None, NOW)
    assert unavailable.value.status_code == 503 and len(receiver.received) == 2, "one request per attempt"


def test_an_unreachable_api_is_retryable(receiver: FakeEventsApi) -> None:
    import httpx2

    receiver.script.append(httpx2.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(RetryableDeliveryError, match="unreachable"):
        PagerDutyTarget(settings().targets[0], transport=receiver.transport).deliver(messages()[0], None, NOW)
    assert len(receiver.received) == 1, "the package does not retry (and sleep) on its own"


def test_outbox_to_pagerduty_one_alert_updated_then_resolved(
    receiver: FakeEventsApi, sqlite_sessions: sessionmaker[Session]
) -> None:
    """Live-like: the incident is replayed while it runs, then again after it has resolved."""
    config = settings()
    clock = FakeClock()
    target = PagerDutyTarget(config.targets[0], transport=receiver.transport)
    worker = DeliveryWorker(
        sqlite_sessions,
        config,
        clock=clock,
        sleeper=clock.sleep,
        rng=random.Random(3),
        targets={"pd": target},
    )
    receiver.script.extend([Reply(502, "Bad Gateway"), Reply(429, {"status": "throttle event"})])
    with transaction(sqlite_sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(resolve=False), config) == 2
    first = worker.deliver_until_empty()
    with transaction(sqlite_sessions) as session:
        assert enqueue_signal_messages(session, "bank", incident_engine(), config) == 1, (
            "only the resolve is new"
        )
    second = worker.deliver_until_empty()
    events = receiver.events()
    assert first.delivered + second.delivered == 3 and first.dead + second.dead == 0
    assert [event["event_action"] for event in events] == [
        "trigger",
        "trigger",
        "trigger",
        "trigger",
        "resolve",
    ]
    assert [event.get("payload", {}).get("severity") for event in events[2:4]] == ["warning", "error"]
    assert {event["dedup_key"] for event in events} == {incident_key()}
    assert {event["routing_key"] for event in events} == {CARDS_KEY}, "the cluster's service picks its key"
    assert len(clock.sleeps) == 2 and clock.sleeps[1] == 30.0, "502 and 429 waited out on the injected clock"
    with transaction(sqlite_sessions) as session:
        assert {row.status for row in session.scalars(select(OutboxMessageRow))} == {DELIVERED}


def test_outbox_dead_letters_a_rejected_event_with_the_reason(
    receiver: FakeEventsApi, sqlite_sessions: sessionmaker[Session]
) -> None:
    config = settings()
    receiver.default = Reply(
        400,
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        },
    )
    with transaction(sqlite_sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(), config)
    clock = FakeClock()
    target = PagerDutyTarget(config.targets[0], transport=receiver.transport)
    report = DeliveryWorker(
        sqlite_sessions, config, clock=clock, sleeper=clock.sleep, targets={"pd": target}
    ).deliver_until_empty()
    assert report.dead >= 2 and report.attempts == report.dead, "a 400 is never retried"
    with transaction(sqlite_sessions) as session:
        dead = list(session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.status == DEAD)))
    assert all("should be 32 characters" in (row.last_error or "") for row in dead)
