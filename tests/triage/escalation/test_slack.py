"""Slack incoming webhooks, faked at the wire with respx (Slack answers plain-text codes)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx
from pydantic import SecretStr

from tests.triage.escalation.support import messages
from triage.escalation.base import PermanentDeliveryError, RetryableDeliveryError
from triage.escalation.settings import TargetSettings
from triage.escalation.slack import SlackTarget

HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def target() -> SlackTarget:
    return SlackTarget(TargetSettings(name="ops", kind="slack", secret=SecretStr(HOOK)))


@respx.mock
def test_a_trigger_is_one_readable_channel_message() -> None:
    route = respx.post(HOOK).mock(return_value=httpx.Response(200, text="ok"))
    trigger = messages()[0].model_copy(update={"summary": "card <declined> & refused"})
    target().deliver(trigger, None, NOW)
    body = json.loads(route.calls.last.request.content)
    text = body["blocks"][0]["text"]["text"]
    assert body["text"].startswith("Customer impact: cards: card &lt;declined&gt; &amp; refused")
    assert (
        "Likely cause: `c1`" in text
        and "<https://" in text
        and "/clusters/cl-00001|Open the cluster>" in text
    )


@respx.mock
def test_slack_error_codes() -> None:
    respx.post(HOOK).mock(
        side_effect=[
            httpx.Response(429, text="rate_limited", headers={"Retry-After": "1"}),
            httpx.Response(404, text="channel_not_found"),
            httpx.Response(500, text="rollup_error"),
        ]
    )
    slack = target()
    with pytest.raises(RetryableDeliveryError) as limited:
        slack.deliver(messages()[0], None, NOW)
    assert limited.value.retry_after == 1.0
    with pytest.raises(PermanentDeliveryError, match="channel_not_found") as gone:
        slack.deliver(messages()[0], None, NOW)
    assert "XXXXXXXX" not in str(gone.value), "the webhook URL is the credential"
    with pytest.raises(RetryableDeliveryError, match="rollup_error"):
        slack.deliver(messages()[0], None, NOW)


def test_the_webhook_url_never_shows_in_a_repr() -> None:
    config = TargetSettings(name="ops", kind="slack", secret=SecretStr(HOOK))
    assert "XXXX" not in repr(config) and "XXXX" not in repr(target())


@respx.mock
def test_the_webhook_url_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    respx.post(HOOK).mock(return_value=httpx.Response(200, text="ok"))
    with caplog.at_level(logging.DEBUG):
        target().deliver(messages()[0], None, NOW)
    assert caplog.records and "XXXXXXXX" not in caplog.text
