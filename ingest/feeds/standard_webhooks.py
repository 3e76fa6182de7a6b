"""Incoming deliveries signed in the Standard Webhooks scheme, with replay protection.

A bearer token or GitHub's body HMAC proves who sent a body, not when: a captured delivery can be
sent again at any time. Standard Webhooks (https://www.standardwebhooks.com) signs
``"{webhook-id}.{webhook-timestamp}.{body}"`` instead, so a receiver can refuse a delivery whose
timestamp is outside a tolerance (default five minutes either way) and one whose id it has already
accepted within that window. A feed whose configured secret is a ``whsec_<base64>`` secret is checked
this way (the generic feed; signal-triage's own outgoing webhooks are signed the same way).

Signatures are compared with ``hmac.compare_digest`` and checked before the timestamp and the id, so
an unsigned request learns nothing and cannot fill the replay memory. That memory is per process
(``ReplayGuard``): several API processes behind a balancer each refuse replays they have seen, and a
replay sent to another process within the window is still stored only once, because change events are
unique by their id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime

from ingest.errors import WebhookRejectedError

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300.0


def is_signing_secret(secret: str | None) -> bool:
    return bool(secret) and str(secret).startswith(SECRET_PREFIX)


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        # never quote the secret; the operator fixes the setting, the sender cannot
        raise WebhookRejectedError(
            "the feed's signing secret is not whsec_<base64>; fix the setting"
        ) from None


class ReplayGuard:
    """Ids of accepted deliveries, remembered for twice the tolerance (older ones are refused by their
    timestamp anyway). Bounded: past ``max_ids`` the oldest are forgotten first."""

    def __init__(self, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS, max_ids: int = 100_000) -> None:
        self.tolerance_seconds = tolerance_seconds
        self.max_ids = max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, feed: str, message_id: str, now: float) -> bool:
        """Remember ``message_id`` of ``feed``; False when it was already accepted within the window."""
        key = f"{feed}\x00{message_id}"
        with self._lock:
            horizon = now - 2 * self.tolerance_seconds
            while self._seen and (
                next(iter(self._seen.values())) < horizon or len(self._seen) >= self.max_ids
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def verify_standard_webhook(
    feed: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    guard: ReplayGuard,
) -> None:
    """Raise ``WebhookRejectedError`` unless the delivery is signed with ``secret``, fresh and new."""
    message_id = headers.get(ID_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signatures = headers.get(SIGNATURE_HEADER, "")
    if not (message_id and timestamp and signatures):
        raise WebhookRejectedError(
            f"{feed}: webhook-id, webhook-timestamp and webhook-signature headers are required"
        )
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRejectedError(f"{feed}: webhook-timestamp must be Unix seconds")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest())
    matched = False
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        # every candidate is compared (no early exit), each in constant time
        matched |= version == "v1" and hmac.compare_digest(signature.encode(), expected)
    if not matched:
        raise WebhookRejectedError(
            f"{feed}: webhook-signature does not match; check the secret on both sides"
        )
    moment = now.timestamp()
    if abs(moment - int(timestamp)) > guard.tolerance_seconds:
        raise WebhookRejectedError(
            f"{feed}: webhook-timestamp is more than {guard.tolerance_seconds:.0f} s from now "
            "(a replayed delivery, or a clock to fix)"
        )
    if not guard.first_time(feed, message_id, moment):
        raise WebhookRejectedError(
            f"{feed}: webhook-id {message_id[:100]!r} was already delivered (a replay)"
        )


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value a sender puts on ``body`` (for tests and tools)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
