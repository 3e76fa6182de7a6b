"""The one interface every change feed implements.

A feed turns one webhook delivery (raw body and headers) into ``ChangeEvent``
records. It checks the delivery's authenticity itself, because every vendor
signs differently, and it maps each event to a service through the catalog's
``ServiceMap``; an event nothing maps is returned with ``service=None``, never
dropped. Returning the parsed events, not storing them, keeps feeds free of
storage and testable from bytes alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ingest.errors import InvalidRecordError, WebhookRejectedError
from ingest.feeds.service_map import ServiceMap
from ingest.feeds.standard_webhooks import ReplayGuard, is_signing_secret, verify_standard_webhook
from ingest.records import ChangeEvent


@dataclass
class FeedDelivery:
    """What one webhook delivery meant."""

    #: events to store (or, for alerts that ended, to close)
    changes: list[ChangeEvent] = field(default_factory=list)
    #: why a delivery produced nothing, e.g. a GitHub ping or a deployment still pending
    ignored: str | None = None


class ChangeFeed(ABC):
    """A tool that tells us about deploys, config changes, flag flips or alerts."""

    #: the path segment of ``POST /v1/changes/{kind}`` and the name in configuration
    kind: str

    def __init__(
        self,
        services: ServiceMap,
        secret: str | None,
        *,
        clock: Callable[[], datetime] | None = None,
        replay_guard: ReplayGuard | None = None,
    ) -> None:
        """``clock`` and ``replay_guard`` are needed only for a ``whsec_`` signing secret (see
        ``ingest.feeds.standard_webhooks``): the receiving process passes its clock and its memory of
        accepted delivery ids."""
        self.services = services
        self._secret = secret
        self._clock = clock
        self._replay_guard = replay_guard

    def __repr__(self) -> str:
        return f"{type(self).__name__}(secret={'set' if self._secret else 'unset'})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Default check: ``Authorization: Bearer <token>``, compared in constant time; with a
        ``whsec_`` secret, a Standard Webhooks signature that is fresh and not a replay."""
        if self._secret is None:
            return
        if is_signing_secret(self._secret):
            if self._clock is None or self._replay_guard is None:
                raise WebhookRejectedError(f"{self.kind}: signed deliveries need a clock and a replay guard")
            verify_standard_webhook(
                self.kind, self._secret, body, headers, now=self._clock(), guard=self._replay_guard
            )
            return
        supplied = headers.get("authorization", "")
        scheme, _, token = supplied.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self._secret.encode()):
            raise WebhookRejectedError(
                f"{self.kind}: missing or wrong bearer token in the Authorization header"
            )

    @abstractmethod
    def parse(self, body: Any, headers: Mapping[str, str]) -> FeedDelivery:
        """Turn a verified, JSON-decoded body into change events."""

    def receive(self, body: bytes, headers: Mapping[str, str]) -> FeedDelivery:
        """Verify, decode and parse one delivery; header names must be lower-case."""
        self.verify(body, headers)
        try:
            decoded = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidRecordError("body", f"not valid JSON ({error})") from None
        try:
            return self.parse(decoded, headers)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise InvalidRecordError(where, first["msg"]) from None


def digest_id(prefix: str, obj: Any) -> str:
    """A stable id for a payload that has none of its own, so a retried delivery dedups."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return f"{prefix}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def mapping_at(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` when it is an object, ``{}`` when absent or null, else an ``InvalidRecordError``:
    senders put lists and strings where objects belong, and ``.get`` on them must not be a 500."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecordError(key, "must be an object")
    return value


def text_or_none(value: Any) -> str | None:
    """A string field of a payload, or None when it holds anything else (a number, a list)."""
    return value if isinstance(value, str) and value else None


def require(obj: Any, path: str) -> Any:
    """``obj[a][b]...`` for ``path`` 'a.b', or an ``InvalidRecordError`` naming the missing field."""
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict) or current.get(part) in (None, ""):
            raise InvalidRecordError(path, "required field is missing")
        current = current[part]
    return current
