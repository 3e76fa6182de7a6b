"""PagerDuty Events API v2 through the official ``pagerduty`` package.

One alert per signal: trigger and update are both ``trigger`` events with the
same ``dedup_key`` (PagerDuty folds them into the open alert), resolve is a
``resolve`` event with that key. The key is always the message's
``dedup_key`` — the engine's signal key, whose generation changes when a
cluster pages again after a resolve (see ``triage.escalation.outbox``) — never
a timestamp or a random fallback, and the routing key is the one pinned when
the alert was triggered.

Answers (developer.pagerduty.com, Events API v2): ``202`` accepted; ``400``
invalid event — final, dead-lettered with the API's ``errors``; ``429`` too
many events for this routing key (about 120 a minute over a sliding 60 s
window; retried after ``Retry-After`` or 30 s, PagerDuty's advice) and ``5xx``
or no answer — retried with backoff. After a resolve, PagerDuty drops further
resolves for the key and opens a *new* alert on a trigger with it, which is why
updates of a resolved signal are never sent (see ``triage.escalation.outbox``).
The package retries 429, 5xx and network errors itself with ``time.sleep``;
here those loops are switched off (``retry`` emptied, ``max_network_attempts``
0, and a 429 raised from the ``postprocess`` hook) so that the outbox worker's
injectable, persistent retries apply instead.

With ``forward_changes`` the target also sends the change events that feeds
brought in (deploys, config and flag changes) to the Change Events API
(``/v2/change/enqueue``, same routing key, same answers), so responders see them
on the service's timeline next to the alert. Alerts are not forwarded: they
came from monitoring, possibly from PagerDuty itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pagerduty
from httpx2 import Response

from triage.escalation.base import (
    DeliveryReceipt,
    EscalationTarget,
    PermanentDeliveryError,
    RetryableDeliveryError,
    parse_retry_after,
    shorten,
)
from triage.escalation.message import ChangeMessage, ImpactMessage
from triage.escalation.settings import TargetSettings

SUMMARY_LIMIT = 1024
#: PagerDuty advises retrying a 429 "30 seconds apart" (Events API rate limits) when no Retry-After is given
THROTTLE_WAIT_SECONDS = 30.0
SEVERITIES = ("critical", "error", "warning", "info")


class _Throttled(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("429")
        self.response = response


class OutboxEventsClient(pagerduty.EventsApiV2Client):
    """``EventsApiV2Client`` that reports instead of sleeping: every failure reaches the caller at once."""

    def __init__(self, routing_key: str, base_url: str | None, timeout: float, **kw: Any) -> None:
        super().__init__(routing_key, base_url=base_url, **kw)
        self.retry = {}
        self.max_network_attempts = 0
        self.timeout = timeout  # type: ignore[assignment]  # httpx2 takes float seconds

    def postprocess(self, response: Response) -> None:
        if response.status_code == 429:  # the package would otherwise sleep and retry forever
            raise _Throttled(response)


def _api_error(response: Response) -> str:
    """PagerDuty's own words: ``{"status": ..., "message": ..., "errors": [...]}``."""
    try:
        body = response.json()
    except ValueError:
        return shorten(response.text.strip(), 500)
    if not isinstance(body, dict):
        return shorten(str(body), 500)
    parts = [str(body.get("message") or body.get("status") or "")]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(map(str, errors)))
    return shorten(": ".join(part for part in parts if part), 500)


def event_payload(message: ImpactMessage, source: str) -> dict[str, Any]:
    """The ``payload`` object of a trigger event."""
    summary = message.headline
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    return {
        "summary": summary,
        "source": source,
        "severity": message.severity if message.severity in SEVERITIES else "warning",
        "timestamp": message.decided_at.isoformat(),
        "component": message.service or "unknown",
        "group": message.tenant,
        "class": "customer-impact",
        "custom_details": {
            "what customers say": message.summary,
            "distinct authors": message.distinct_authors,
            "posts": message.posts,
            "onset": message.onset.isoformat(),
            "first triggered": message.first_triggered_at.isoformat(),
            "sentiment": message.sentiment,
            "likely causes": [
                f"{cause.change} (score {cause.score:.2f}): {'; '.join(cause.reasons)}"
                for cause in message.likely_causes
            ],
            "sample posts": [f"[{sample.source}] {sample.text}" for sample in message.samples],
            "why": message.detail,
            "cluster": message.cluster_key,
            "generation": message.generation,
            "message id": message.message_id,
        },
    }


def change_payload(change: ChangeMessage) -> dict[str, Any]:
    """The ``payload`` object of a change event (summary ≤ 1,024 characters, like an alert's)."""
    summary = f"{change.service or 'unknown service'}: {change.kind}: {change.summary or change.change_id}"
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    return {
        "summary": summary,
        "source": change.source,
        "timestamp": change.started_at.isoformat(),
        "custom_details": {
            "kind": change.kind,
            "service": change.service,
            "change id": change.change_id,
            "tenant": change.tenant,
            "message id": change.message_id,
        },
    }


class PagerDutyTarget(EscalationTarget):
    kind = "pagerduty"

    def __init__(self, config: TargetSettings, **client_options: Any) -> None:
        super().__init__(config)
        self._client_options = client_options
        self._clients: dict[str | None, OutboxEventsClient] = {}

    def routing_key(self, route: str | None) -> str:
        if route is None:
            if self.config.routing_key is None:
                raise PermanentDeliveryError(f"pagerduty {self.name}: no default routing_key is configured")
            return self.config.routing_key.get_secret_value()
        if route not in self.config.routing_keys:
            raise PermanentDeliveryError(
                f"pagerduty {self.name}: the alert was opened with the routing key for {route!r}, "
                "which is no longer configured; add it back under routing_keys and run `triage outbox retry`"
            )
        return self.config.routing_keys[route].get_secret_value()

    def client(self, route: str | None) -> OutboxEventsClient:
        if route not in self._clients:
            self._clients[route] = OutboxEventsClient(
                self.routing_key(route), self.config.url, self.config.timeout_seconds, **self._client_options
            )
        return self._clients[route]

    def deliver(self, message: ImpactMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        client = self.client(route)

        def send() -> str:
            if message.action == "resolve":
                return f"dedup_key {client.resolve(message.dedup_key)}"
            key = client.send_event(
                "trigger",
                dedup_key=message.dedup_key,
                payload=event_payload(message, self._source(message)),
                links=[{"href": message.link, "text": "Cluster page (signal-triage)"}],
                client="signal-triage",
                client_url=message.link,
            )
            return f"dedup_key {key}"

        return self._call(send, now)

    def deliver_change(self, change: ChangeMessage, route: str | None, now: datetime) -> DeliveryReceipt:
        """A change event (Change Events API, ``/v2/change/enqueue``): shown on the service's timeline
        beside its incidents; it opens nothing and has no dedup key, so the outbox sends it once."""
        client = self.client(route)

        links = [{"href": change.url, "text": f"{change.kind} {change.change_id}"}] if change.url else []

        def send() -> str:
            client.send_change_event(payload=change_payload(change), links=links)
            return "change event accepted"

        return self._call(send, now)

    def _call(self, send: Callable[[], str], now: datetime) -> DeliveryReceipt:
        """Run one API call, mapping PagerDuty's answers onto delivered, retry and dead."""
        what = f"pagerduty {self.name}"
        try:
            detail = send()
        except _Throttled as throttled:
            retry_after = parse_retry_after(throttled.response.headers.get("Retry-After"), now)
            if retry_after is None:
                retry_after = THROTTLE_WAIT_SECONDS
            raise RetryableDeliveryError(
                f"{what} answered 429: {_api_error(throttled.response)}", 429, retry_after
            ) from None
        except pagerduty.HttpError as error:
            response: Response = error.response  # type: ignore[assignment]  # HttpError always has one
            status = response.status_code
            if 200 <= status < 300:  # accepted, though the body was not the documented one
                return DeliveryReceipt(status, "accepted")
            message = f"{what} answered {status}: {_api_error(response)}"
            if status >= 500 or status in (408, 409, 425):
                raise RetryableDeliveryError(message, status) from None
            raise PermanentDeliveryError(message, status) from None
        except pagerduty.Error as error:  # no HTTP response: network trouble
            raise RetryableDeliveryError(f"{what} unreachable: {error}") from None
        return DeliveryReceipt(202, detail)

    def _source(self, message: ImpactMessage) -> str:
        return f"{message.tenant} customers ({message.service or 'unknown service'})"

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
