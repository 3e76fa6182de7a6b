"""The one interface every escalation target implements, and the registry of kinds.

A target turns an ``ImpactMessage`` into its vendor's API calls and reports
the outcome in three ways only: it returns (delivered), raises
``RetryableDeliveryError`` (try again later, maybe at ``retry_after``) or raises
``PermanentDeliveryError`` (retrying cannot help: dead-letter it). Targets never
retry or sleep themselves; the outbox worker owns retries, backoff and rate
limits, so every vendor gets the same, tested behaviour.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

from triage.errors import ConfigurationError
from triage.escalation.message import ChangeMessage, ImpactMessage
from triage.escalation.settings import TargetSettings

#: HTTP statuses worth retrying: timeouts, conflicts during failover, rate limits and server errors
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class DeliveryError(Exception):
    """A delivery attempt failed; ``status_code`` is the receiver's answer when there was one."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableDeliveryError(DeliveryError):
    def __init__(
        self, message: str, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The receiver rejected the message itself (a 400 and the like): the same message fails again."""


@dataclass(frozen=True)
class DeliveryReceipt:
    status_code: int | None
    detail: str = ""


class EscalationTarget(ABC):
    """Delivers impact messages to one configured destination."""

    kind: ClassVar[str]

    def __init__(self, config: TargetSettings) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @abstractmethod
    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        """Send one message. ``route`` is the outbox's pinned route; ``now`` is the worker's clock."""

    def deliver_change(self, change: ChangeMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        """Forward one change event; only targets with a change API (PagerDuty) take them."""
        raise PermanentDeliveryError(f"{self.kind} target {self.name!r} does not take change events")

    def secret_values(self) -> list[str]:
        """Every secret this target holds, so errors can be scrubbed of them before they are stored."""
        values = [self.config.secret, self.config.routing_key, *self.config.routing_keys.values()]
        return [
            value.get_secret_value() for value in values if value is not None and value.get_secret_value()
        ]

    def close(self) -> None:
        """Release connections; called when the worker stops."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


#: configuration kind -> "module:Class"; modules are imported only when a target of that kind is used
TARGET_KINDS: dict[str, str] = {
    "pagerduty": "triage.escalation.pagerduty:PagerDutyTarget",
    "webhook": "triage.escalation.webhook:WebhookTarget",
    "slack": "triage.escalation.slack:SlackTarget",
    "zendesk": "triage.escalation.zendesk:ZendeskTarget",
}


def target_class(kind: str) -> type[EscalationTarget]:
    if kind not in TARGET_KINDS:
        raise ConfigurationError(
            f"unknown escalation target kind {kind!r}; use one of {', '.join(sorted(TARGET_KINDS))}"
        )
    module_name, class_name = TARGET_KINDS[kind].split(":")
    target = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(target, type) and issubclass(target, EscalationTarget)):
        raise ConfigurationError(f"{TARGET_KINDS[kind]} is not an EscalationTarget")
    return target


def build_target(config: TargetSettings) -> EscalationTarget:
    problems = config.problems()
    if problems:
        raise ConfigurationError("; ".join(problems))
    return target_class(config.kind)(config)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds())


def shorten(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced, for errors that may echo a URL or request back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
