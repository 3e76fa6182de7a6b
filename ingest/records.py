"""The normalized records every source and change feed produces.

Everything downstream (analysis, triage, the API) sees only these three
shapes, so adding a source never touches triage. They are frozen pydantic
models: validated once at the boundary, immutable afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ChangeKind = Literal["deploy", "config", "flag", "alert"]


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC: every feed we read documents UTC, and
    mixing naive and aware datetimes would make event-time ordering crash."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Service(BaseModel):
    """One entry of the service catalog: what customers call a part of the product."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    keywords: tuple[str, ...] = ()

    @property
    def matching_text(self) -> str:
        """The words a complaint about this service is likely to share with it."""
        parts = [self.name.replace("_", " "), self.description, " ".join(self.keywords)]
        return ". ".join(part for part in parts if part)


class Post(BaseModel):
    """A customer's words from any channel (a tweet, a ticket, a forwarded message)."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(min_length=1, max_length=50)
    external_id: str = Field(min_length=1, max_length=200)
    author_key: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    created_at: datetime
    lang: str | None = None
    url: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    _utc = field_validator("created_at")(_as_utc)


class ChangeEvent(BaseModel):
    """Something the company did or noticed: a deploy, config change, flag flip or alert.

    Alerts are kept because they measure how late monitoring was; they are
    evidence of an incident, never its cause.
    """

    model_config = ConfigDict(frozen=True)

    external_id: str = Field(min_length=1, max_length=200)
    service: str | None = None
    kind: ChangeKind
    summary: str = ""
    started_at: datetime
    ended_at: datetime | None = None
    url: str | None = None
    source: str = "replay"

    _utc_start = field_validator("started_at")(_as_utc)

    @field_validator("ended_at")
    @classmethod
    def _utc_end(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)

    @property
    def can_be_cause(self) -> bool:
        return self.kind != "alert"
