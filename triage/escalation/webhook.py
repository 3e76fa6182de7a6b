"""Signed generic webhooks in the Standard Webhooks scheme (https://www.standardwebhooks.com).

The body is the ``ImpactMessage`` as JSON (its field names are the contract), POSTed with:

- ``webhook-id``: the message's stable id. Retries of one message carry the same id, so a receiver
  deduplicates by it (delivery is at least once).
- ``webhook-timestamp``: Unix seconds when this attempt was signed. Each retry is signed afresh, so
  it is the time of the attempt, not of the decision (that is the body's ``decided_at``).
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>``
  where ``key`` is the base64-decoded part of the secret after ``whsec_``.
- ``X-Signal-Triage-Event``: ``trigger``, ``update`` or ``resolve`` (also the body's ``action``).

The secret is ``whsec_`` followed by the base64 of 24 to 64 random bytes; make one with
``python -c "import base64, secrets; print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())"``.

Verifying on the receiving side, with the ``standardwebhooks`` package (any Standard Webhooks
library works the same way)::

    from standardwebhooks import Webhook

    message = Webhook(secret).verify(raw_body, request_headers)  # raises WebhookVerificationError

or with the standard library only::

    import base64, hashlib, hmac, time

    def verify(secret: str, headers: dict[str, str], raw_body: bytes, tolerance: int = 300) -> bool:
        headers = {name.lower(): value for name, value in headers.items()}
        message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(timestamp)) > tolerance:
            return False  # too old or too new: a replay
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{message_id}.{timestamp}.".encode() + raw_body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        candidates = (part.partition(",") for part in headers["webhook-signature"].split())
        return any(
            version == "v1" and hmac.compare_digest(signature, expected)
            for version, _, signature in candidates
        )

Verify over the raw body bytes, before any JSON parsing, and compare in constant time.
``verify_signature`` below is the same check with an injected clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime

import httpx

from triage.escalation.base import DeliveryReceipt, EscalationTarget
from triage.escalation.http import post, receipt_or_raise
from triage.escalation.message import ImpactMessage
from triage.escalation.settings import TargetSettings

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EVENT_HEADER = "X-Signal-Triage-Event"
SECRET_PREFIX = "whsec_"
#: the Standard Webhooks spec asks for keys of 24 to 64 bytes
SECRET_BYTES = (24, 64)


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ``ValueError`` (never quoting it) when malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"the webhook secret must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the webhook secret must be {SECRET_PREFIX} followed by base64") from None
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(f"the webhook secret must encode {low} to {high} bytes (it encodes {len(key)})")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: float = 300.0,
) -> bool:
    """What a receiver runs: a ``v1`` signature matches and the timestamp is within the tolerance."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get(ID_HEADER)
    timestamp = lowered.get(TIMESTAMP_HEADER)
    signatures = lowered.get(SIGNATURE_HEADER)
    if not (message_id and timestamp and signatures):
        return False
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - moment) > tolerance_seconds:
        return False
    expected = sign(secret, message_id, moment, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures.split())


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
        secret = self.config.secret.get_secret_value()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "signal-triage",
            ID_HEADER: message.message_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, message.message_id, timestamp, body),
            EVENT_HEADER: message.action,
        }
        response = post(
            self.client, self.config.url, what=f"webhook {self.name}", content=body, headers=headers
        )
        return receipt_or_raise(response, what=f"webhook {self.name}", now=now)

    def close(self) -> None:
        self.client.close()
