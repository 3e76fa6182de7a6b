"""The normalized records every source and change feed produces.

Everything downstream (analysis, triage, the API) sees only these three
shapes, so adding a source never touches triage. They are frozen pydantic
models: validated once at the boundary, immutable afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChangeKind = Literal["deploy", "config", "flag", "alert"]


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC: every feed we read documents UTC, and
    mixing naive and aware datetimes would make event-time ordering crash."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01 east of UTC or 9999-12-31 west of it has no UTC datetime
        raise ValueError("the time is out of range once converted to UTC") from None


def storable_text(value: str) -> str:
    """``value`` without NUL characters and with unpaired surrogates replaced by U+FFFD.

    Both arrive easily (a NUL escape or a lone high-surrogate escape in JSON) and neither can be stored:
    PostgreSQL refuses NUL in text and in JSON, and no database takes a surrogate that is not
    valid UTF-8. Cleaning them at the boundary keeps the rest of a customer's words.
    """
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # only surrogates fail to encode
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _storable(value: Any) -> Any:
    """``storable_text`` applied to every string inside ``value`` (keys of mappings included)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    return value


class _StorableRecord(BaseModel):
    """Every string of a record is cleaned with ``storable_text`` before validation."""

    @model_validator(mode="before")
    @classmethod
    def _clean_strings(cls, data: Any) -> Any:
        return _storable(data) if isinstance(data, dict) else data


class Service(_StorableRecord):
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


class Post(_StorableRecord):
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


class ChangeEvent(_StorableRecord):
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
