"""A generic JSON change: one object or a list, in the replay file's change shape.

``{"id", "kind", "summary", "created_at" (or "started_at"), "ended_at", "url",
"service", "repository", "labels"}``; ``id`` may be left out (a digest of the
object stands in). An explicit ``service`` is kept even when the catalog does
not know it, since the sender knows its own system better than our catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ingest.errors import InvalidRecordError
from ingest.feeds.base import ChangeFeed, FeedDelivery, digest_id, text_or_none
from ingest.records import ChangeEvent


class GenericChangeFeed(ChangeFeed):
    kind = "generic"

    def parse(self, body: Any, headers: Mapping[str, str]) -> FeedDelivery:
        items = body if isinstance(body, list) else [body]
        return FeedDelivery(changes=[self._one(item, f"{index}") for index, item in enumerate(items)])

    def _one(self, item: Any, location: str) -> ChangeEvent:
        if not isinstance(item, dict):
            raise InvalidRecordError(location, "expected a JSON object")
        summary = str(item.get("summary") or "")
        raw_labels = item.get("labels")
        labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
        service = item.get("service") or self.services.resolve(
            repository=text_or_none(item.get("repository")),
            labels={str(k): str(v) for k, v in labels.items()},
            text=summary,
        )
        try:
            return ChangeEvent.model_validate(
                {
                    "external_id": str(item.get("id") or digest_id("generic", item)),
                    "service": service,
                    "kind": item.get("kind", "deploy"),
                    "summary": summary,
                    "started_at": item.get("started_at") or item.get("created_at"),
                    "ended_at": item.get("ended_at"),
                    "url": item.get("url"),
                    "source": str(item.get("source") or "generic"),
                }
            )
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "record"
            raise InvalidRecordError(f"{location}.{field}", first["msg"]) from None
