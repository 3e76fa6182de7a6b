"""GitHub ``deployment_status`` webhooks: a finished deployment is a deploy change.

GitHub signs each delivery with HMAC-SHA256 of the raw body under the
webhook's secret (``X-Hub-Signature-256: sha256=<hex>``); the check runs on the
bytes as received, before any parsing, and compares in constant time. Only
terminal states become changes: ``success``, and ``failure``/``error`` because a
half-finished rollout can hurt customers as much as a finished one. ``pending``,
``queued``, ``in_progress`` and ``inactive`` are acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from ingest.errors import InvalidRecordError, WebhookRejectedError
from ingest.feeds.base import ChangeFeed, FeedDelivery, mapping_at, require, text_or_none
from ingest.records import ChangeEvent

_TERMINAL_STATES = {"success", "failure", "error"}


class GitHubDeploymentFeed(ChangeFeed):
    kind = "github"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        if self._secret is None:
            return
        supplied = headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise WebhookRejectedError(
                "github: X-Hub-Signature-256 does not match the body; check the webhook secret on both sides"
            )

    def parse(self, body: Any, headers: Mapping[str, str]) -> FeedDelivery:
        event = headers.get("x-github-event", "deployment_status")
        if event == "ping":
            return FeedDelivery(ignored="ping")
        if event != "deployment_status":
            return FeedDelivery(ignored=f"event {event!r} is not deployment_status")
        status = require(body, "deployment_status")
        state = require(body, "deployment_status.state")
        if not isinstance(state, str) or state not in _TERMINAL_STATES:
            return FeedDelivery(ignored=f"deployment state {str(state)[:50]!r} is not final")
        require(body, "deployment.id")
        deployment = mapping_at(body, "deployment")
        repository = text_or_none(require(body, "repository.full_name"))
        if repository is None:
            raise InvalidRecordError("repository.full_name", "must be a string")
        environment = status.get("environment") or deployment.get("environment") or "an environment"
        ref = text_or_none(deployment.get("ref")) or ""
        sha = (text_or_none(deployment.get("sha")) or "")[:7]
        what = f"{ref} ({sha})" if ref and sha else ref or sha or f"deployment {deployment.get('id')}"
        verb = "deployed" if state == "success" else f"deploy {state}:"
        summary = f"{repository} {verb} {what} to {environment}"
        description = status.get("description") or deployment.get("description")
        if description:
            summary += f": {description}"
        deployment_id = require(body, "deployment.id")
        change = ChangeEvent(
            external_id=f"github:{repository}:deployment:{deployment_id}:status:{status.get('id')}",
            service=self.services.resolve(repository=repository, text=summary),
            kind="deploy",
            summary=summary,
            started_at=require(body, "deployment_status.created_at"),
            url=status.get("log_url")
            or status.get("target_url")
            or status.get("environment_url")
            or (body.get("repository") or {}).get("html_url"),
            source="github",
        )
        return FeedDelivery(changes=[change])
