"""Signed webhooks through httpx, faked at the wire with respx."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.support import FakeClock, incident_engine, messages
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookTarget,
    verify_signature,
)
from triage.storage.database import transaction

URL = "https://hooks.example.com/signal"
SECRET = "whsec_0123456789"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def config() -> TargetSettings:
    return TargetSettings(name="hook", kind="webhook", url=URL, secret=SecretStr(SECRET))


@respx.mock
def test_the_body_is_the_message_and_the_signature_verifies() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    trigger = messages()[0]
    WebhookTarget(config()).deliver(trigger, None, NOW)
    request = route.calls.last.request
    body = request.content
    assert json.loads(body)["message_id"] == trigger.message_id == request.headers[MESSAGE_ID_HEADER]
    assert request.headers["X-Signal-Triage-Event"] == "trigger"
    assert request.headers[TIMESTAMP_HEADER] == str(int(NOW.timestamp()))
    assert verify_signature(
        SECRET, request.headers[TIMESTAMP_HEADER], body, request.headers[SIGNATURE_HEADER], NOW
    )
    assert not verify_signature(
        SECRET, request.headers[TIMESTAMP_HEADER], body + b" ", request.headers[SIGNATURE_HEADER], NOW
    ), "a changed body fails"
    assert not verify_signature(
        SECRET,
        request.headers[TIMESTAMP_HEADER],
        body,
        request.headers[SIGNATURE_HEADER],
        NOW + timedelta(minutes=10),
    ), "an old timestamp fails (replay)"
    assert SECRET not in str(request.headers) and SECRET not in body.decode()


@respx.mock
def test_answers_are_classified() -> None:
    target = WebhookTarget(config())
    later = NOW + timedelta(seconds=90)
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(later, usegmt=True)}),
            httpx.Response(503, text="upstream down"),
            httpx.Response(410, text="this hook was deleted"),
            httpx.ConnectError("[Errno 111] Connection refused"),
        ]
    )
    with pytest.raises(RetryableDeliveryError) as throttled:
        target.deliver(messages()[0], None, NOW)
    assert throttled.value.retry_after == pytest.approx(90.0)
    with pytest.raises(RetryableDeliveryError, match="503: upstream down"):
        target.deliver(messages()[0], None, NOW)
    with pytest.raises(PermanentDeliveryError, match="410: this hook was deleted"):
        target.deliver(messages()[0], None, NOW)
    with pytest.raises(RetryableDeliveryError, match="unreachable"):
        target.deliver(messages()[0], None, NOW)


@respx.mock
def test_retries_keep_the_message_id_so_receivers_can_deduplicate(
    sessions: sessionmaker[Session],
) -> None:
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(500), httpx.Response(200)] + [httpx.Response(200)] * 5
    )
    settings = EscalationSettings(targets=[config()])
    with transaction(sessions) as session:
        enqueue_signal_messages(session, "bank", incident_engine(resolve=False), settings)
    clock = FakeClock()
    DeliveryWorker(
        sessions, settings, clock=clock, sleeper=clock.sleep, rng=random.Random(2)
    ).deliver_until_empty()
    ids = [call.request.headers[MESSAGE_ID_HEADER] for call in route.calls]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]
    stamps = [int(call.request.headers[TIMESTAMP_HEADER]) for call in route.calls]
    assert stamps[1] > stamps[0], "each attempt is signed afresh"
