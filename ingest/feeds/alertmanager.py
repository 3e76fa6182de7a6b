"""Prometheus Alertmanager webhooks (payload version 4): each alert is an alert change.

Alertmanager re-sends a group on every ``repeat_interval`` and sends it again
when alerts resolve, so an alert's id is its fingerprint plus ``startsAt``:
repeats of one firing dedup, a later firing of the same rule is a new alert,
and the resolved delivery carries ``endsAt`` for the alert already stored.
Alertmanager writes ``0001-01-01T00:00:00Z`` for "not ended", read as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.errors import InvalidRecordError
from ingest.feeds.base import ChangeFeed, FeedDelivery, digest_id, mapping_at, require, text_or_none
from ingest.records import ChangeEvent

_NOT_ENDED = "0001-01-01"


class AlertmanagerFeed(ChangeFeed):
    kind = "alertmanager"

    def parse(self, body: Any, headers: Mapping[str, str]) -> FeedDelivery:
        alerts = require(body, "alerts")
        if not isinstance(alerts, list):
            raise InvalidRecordError("alerts", "must be a list")
        common = mapping_at(body, "commonLabels")
        changes = []
        for index, alert in enumerate(alerts):
            if not isinstance(alert, dict):
                raise InvalidRecordError(f"alerts.{index}", "must be an object")
            labels = {
                str(key): str(value) for key, value in ({**common, **mapping_at(alert, "labels")}).items()
            }
            annotations = mapping_at(alert, "annotations")
            name = labels.get("alertname", "alert")
            text = (
                text_or_none(annotations.get("summary")) or text_or_none(annotations.get("description")) or ""
            )
            summary = f"{name}: {text}" if text else name
            starts_at = alert.get("startsAt")
            if not starts_at:
                raise InvalidRecordError(f"alerts.{index}.startsAt", "required field is missing")
            ends_at = alert.get("endsAt")
            resolved = (
                alert.get("status") == "resolved"
                and isinstance(ends_at, str)
                and bool(ends_at)
                and not ends_at.startswith(_NOT_ENDED)
            )
            fingerprint = alert.get("fingerprint") or digest_id("labels", labels)
            changes.append(
                ChangeEvent(
                    external_id=f"alertmanager:{fingerprint}:{starts_at}",
                    service=self.services.resolve(labels=labels, text=summary),
                    kind="alert",
                    summary=summary,
                    started_at=starts_at,
                    ended_at=ends_at if resolved else None,
                    url=alert.get("generatorURL") or body.get("externalURL"),
                    source="alertmanager",
                )
            )
        return FeedDelivery(changes=changes)
