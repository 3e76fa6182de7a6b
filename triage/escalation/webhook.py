"""Signed generic webhooks: the ``ImpactMessage`` as JSON, POSTed with an HMAC signature.

Headers a receiver gets:

- ``X-Signal-Triage-Message-Id``: the stable message id; deduplicate by it (delivery is at least once).
- ``X-Signal-Triage-Event``: ``trigger``, ``update`` or ``resolve``.
- ``X-Signal-Triage-Timestamp``: Unix seconds when this attempt was signed.
- ``X-Signal-Triage-Signature``: ``v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``.

A receiver recomputes the signature over the raw body bytes, compares it in
constant time and rejects timestamps more than a few minutes old (replays);
``verify_signature`` does exactly that. Each retry is signed afresh, so the
timestamp is that of the attempt, not of the decision.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import httpx

from triage.escalation.base import DeliveryReceipt, EscalationTarget
from triage.escalation.http import post, receipt_or_raise
from triage.escalation.message import ImpactMessage
from triage.escalation.settings import TargetSettings

SIGNATURE_HEADER = "X-Signal-Triage-Signature"
TIMESTAMP_HEADER = "X-Signal-Triage-Timestamp"
MESSAGE_ID_HEADER = "X-Signal-Triage-Message-Id"
EVENT_HEADER = "X-Signal-Triage-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, now: datetime, tolerance_seconds: float = 300.0
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - moment) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature)


def message_body(message: ImpactMessage) -> bytes:
    return json.dumps(message.model_dump(mode="json"), separators=(",", ":"), sort_keys=True).encode()


class WebhookTarget(EscalationTarget):
    kind = "webhook"

    def __init__(self, config: TargetSettings, client: httpx.Client | None = None) -> None:
        super().__init__(config)
        self.client = client or httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)

    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        assert self.config.url is not None and self.config.secret is not None  # checked by TargetSettings
        body = message_body(message)
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "signal-triage",
            MESSAGE_ID_HEADER: message.message_id,
            EVENT_HEADER: message.action,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.config.secret.get_secret_value(), timestamp, body),
        }
        response = post(
            self.client, self.config.url, what=f"webhook {self.name}", content=body, headers=headers
        )
        return receipt_or_raise(response, what=f"webhook {self.name}", now=now)

    def close(self) -> None:
        self.client.close()
