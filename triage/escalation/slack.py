"""Slack incoming webhooks: one channel message per trigger, update and resolve.

An incoming webhook can only post, never edit, so every message is a new
post; the outbox's coalescing of pending updates and the default rate (one a
second, Slack's limit per webhook) keep a busy incident from flooding the
channel. Slack answers ``200 ok``; errors come as plain-text codes
(``invalid_payload`` 400, ``action_prohibited`` 403, ``channel_not_found`` 404,
``channel_is_archived`` 410 — all final) or ``429`` with ``Retry-After``.
The webhook URL is the credential, so it lives in ``secret`` and is redacted
from httpx's request log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from ingest.sources.redaction import redact_in_logger
from triage.escalation.base import DeliveryReceipt, EscalationTarget
from triage.escalation.http import post, receipt_or_raise
from triage.escalation.message import ImpactMessage
from triage.escalation.settings import TargetSettings

_ICONS = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}


def _escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: ImpactMessage) -> dict[str, Any]:
    if message.action == "resolve":
        icon, title = ":white_check_mark:", "Resolved"
    else:
        icon = _ICONS.get(message.severity, ":warning:")
        title = "Customer impact" if message.action == "trigger" else "Customer impact update"
    headline = _escape(message.headline)
    counts = f"{message.distinct_authors} customers · {message.posts} posts"
    if message.sentiment:
        counts += " · sentiment " + ", ".join(
            f"{label} {count}" for label, count in message.sentiment.items()
        )
    lines = [
        f"{icon} *{title}* ({message.severity}) — {headline}",
        f"Since {message.onset:%Y-%m-%d %H:%M} UTC · {counts}",
    ]
    if message.likely_causes:
        cause = message.likely_causes[0]
        lines.append(f"Likely cause: `{_escape(cause.change)}` — {_escape('; '.join(cause.reasons))}")
    for sample in message.samples[:3]:
        lines.append(f"> {_escape(sample.text)}")
    lines.append(f"<{message.link}|Open the cluster> · {_escape(message.detail)}")
    text = "\n".join(lines)
    return {
        "text": f"{title}: {headline}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


class SlackTarget(EscalationTarget):
    kind = "slack"

    def __init__(self, config: TargetSettings, client: httpx.Client | None = None) -> None:
        super().__init__(config)
        assert config.secret is not None  # checked by TargetSettings.problems
        # httpx logs every request's URL at INFO, and this URL is the credential
        redact_in_logger("httpx", config.secret.get_secret_value())
        self.client = client or httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)

    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        assert self.config.secret is not None
        body = json.dumps(slack_payload(message)).encode()
        response = post(
            self.client,
            self.config.secret.get_secret_value(),
            what=f"slack {self.name}",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        return receipt_or_raise(response, what=f"slack {self.name}", now=now)

    def close(self) -> None:
        self.client.close()
