"""PagerDuty-format change events (Events API v2 ``/v2/change/enqueue`` bodies).

Tools that already send change events to PagerDuty (CI systems, Terraform,
flag services) can send the same body here. Such events have no id of their
own, so the id is a digest of the payload: a retried delivery stores nothing
twice. ``custom_details.kind`` may say deploy, config or flag (default deploy);
``custom_details.service`` or ``repository`` help the catalog where present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.errors import InvalidRecordError
from ingest.feeds.base import ChangeFeed, FeedDelivery, digest_id, require, text_or_none
from ingest.records import ChangeEvent

_KINDS = {"deploy", "config", "flag"}


class PagerDutyChangeFeed(ChangeFeed):
    kind = "pagerduty"

    def parse(self, body: Any, headers: Mapping[str, str]) -> FeedDelivery:
        payload = require(body, "payload")
        summary = text_or_none(require(body, "payload.summary"))
        if summary is None:
            raise InvalidRecordError("payload.summary", "must be a string")
        details = payload.get("custom_details") or {}
        if not isinstance(details, dict):
            details = {}
        kind = text_or_none(details.get("kind"))
        kind = kind if kind in _KINDS else "deploy"
        labels = {"service": str(details["service"])} if details.get("service") else {}
        if payload.get("source"):
            labels.setdefault("app", str(payload["source"]))
        links = body.get("links")
        first = links[0] if isinstance(links, list) and links else None
        url = first.get("href") if isinstance(first, dict) else None
        content = {key: value for key, value in body.items() if key != "routing_key"}
        change = ChangeEvent.model_validate(
            {
                "external_id": digest_id("pagerduty", content),
                "service": self.services.resolve(
                    repository=text_or_none(details.get("repository")), labels=labels, text=summary
                ),
                "kind": kind,
                "summary": summary,
                "started_at": require(body, "payload.timestamp"),
                "url": url,
                "source": "pagerduty",
            }
        )
        return FeedDelivery(changes=[change])
