"""Signed webhooks (Standard Webhooks) through httpx, faked at the wire with respx.

The signature is checked three ways: by this module's ``verify_signature``, by a verifier written
here from the Standard Webhooks specification alone, and by the ``standardwebhooks`` reference
package, which reads the clock itself (so that check signs at the real current time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

import triage.escalation.webhook as webhook_module
from tests.triage.escalation.support import WEBHOOK_SECRET, FakeClock, incident_engine, messages
from triage.errors import ConfigurationError
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookTarget,
    verify_signature,
)
from triage.storage.database import transaction

URL = "https://hooks.example.com/signal"
SECRET = WEBHOOK_SECRET
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def config(secret: str = SECRET) -> TargetSettings:
    return TargetSettings(name="hook", kind="webhook", url=URL, secret=SecretStr(secret))


def spec_signature_matches(secret: str, headers: httpx.Headers, body: bytes) -> bool:
    """The check as the Standard Webhooks spec words it, sharing no code with the target."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body.decode()}"
    expected = base64.b64encode(hmac.new(key, content.encode(), hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split(" ")


def delivered_request(now: datetime) -> httpx.Request:
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(204))
        WebhookTarget(config()).deliver(messages()[0], None, now)
        return route.calls.last.request


def test_the_headers_follow_standard_webhooks_and_the_signature_verifies() -> None:
    trigger = messages()[0]
    request = delivered_request(NOW)
    body = request.content
    assert json.loads(body)["message_id"] == trigger.message_id == request.headers[ID_HEADER]
    assert request.headers["X-Signal-Triage-Event"] == "trigger"
    assert request.headers[TIMESTAMP_HEADER] == str(int(NOW.timestamp()))
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", request.headers[SIGNATURE_HEADER])
    assert spec_signature_matches(SECRET, request.headers, body), "an independent verifier agrees"
    assert verify_signature(SECRET, request.headers, body, NOW)
    assert not verify_signature(SECRET, request.headers, body + b" ", NOW), "a changed body fails"
    assert not verify_signature(SECRET, request.headers, body, NOW + timedelta(minutes=10)), (
        "an old timestamp fails (replay)"
    )
    other = "whsec_" + base64.b64encode(bytes(32)).decode()
    assert not verify_signature(other, request.headers, body, NOW), "another secret fails"
    assert SECRET not in str(request.headers) and SECRET not in body.decode()


def test_the_reference_package_verifies_it() -> None:
    standardwebhooks = pytest.importorskip(
        "standardwebhooks", reason="the reference verifier is a dev dependency: pip install standardwebhooks"
    )
    request = delivered_request(datetime.now(UTC))  # the package checks the timestamp against its clock
    verified = standardwebhooks.Webhook(SECRET).verify(request.content, dict(request.headers))
    assert verified["message_id"] == request.headers[ID_HEADER]
    tampered = dict(request.headers, **{ID_HEADER: "another-id"})
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(request.content, tampered)


def test_the_documented_snippet_verifies_it() -> None:
    """The standard-library snippet in the module docstring is what receivers copy: it must work."""
    docstring = webhook_module.__doc__ or ""
    snippet = docstring.split("or with the standard library only::", 1)[1].split("\n\nVerify over", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(re.sub(r"(?m)^    ", "", snippet), "webhook-snippet", "exec"), namespace)
    verify = namespace["verify"]
    request = delivered_request(datetime.fromtimestamp(int(time.time()), UTC))
    assert verify(SECRET, dict(request.headers), request.content)  # type: ignore[operator]
    assert not verify(SECRET, dict(request.headers), request.content + b"x")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("0123456789abcdef0123456789abcdef", "must start with whsec_"),
        ("whsec_not base64!", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
    ],
)
def test_a_secret_outside_the_scheme_is_a_configuration_error(secret: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as error:
        EscalationSettings(targets=[config(secret)]).check()
    assert secret not in str(error.value)


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
    ids = [call.request.headers[ID_HEADER] for call in route.calls]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]
    stamps = [int(call.request.headers[TIMESTAMP_HEADER]) for call in route.calls]
    assert stamps[1] > stamps[0], "each attempt is signed afresh"
