"""Shapes of the REST API (``/v1``). Built from the read-side dataclasses, so the OpenAPI schema
documents exactly what the queries return."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Paged(Schema, Generic[Item]):
    """One page of a list; ask for the next with ``offset=next_offset`` until it is null."""

    items: list[Item]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def paged(items: list[Item], total: int, limit: int, offset: int) -> dict[str, object]:
    following = offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


class ChangeOut(Schema):
    external_id: str
    kind: str
    service: str | None
    summary: str
    started_at: datetime
    url: str | None


class LeadStateOut(Schema):
    """What people decided about the cluster (from the action log)."""

    muted: bool
    muted_until: datetime | None
    confirmed: bool
    merged_into: str | None
    resolved_at: datetime | None
    escalation_requested_at: datetime | None


class ClusterOut(Schema):
    key: str
    label: str = Field(description="The complaint in customers' words: distinctive terms of its posts.")
    service: str | None
    state: str = Field(description="emerging, active, subsiding or resolved.")
    onset_at: datetime
    last_post_at: datetime
    distinct_authors: int
    post_count: int
    severity: str | None
    escalation_state: str | None
    likely_cause: ChangeOut | None
    trend: list[int] = Field(description="Posts per interval over the requested window (24 intervals).")
    lead: LeadStateOut
    merged_into: str | None


class PostOut(Schema):
    id: int
    source: str
    external_id: str
    author: str
    text: str
    created_at: datetime
    url: str | None
    lang: str | None
    problem_probability: float | None
    category: str | None
    sentiment: str | None
    model_version: str | None
    cluster_key: str | None
    label: str | None = Field(description="The latest label a person gave: problem, not_problem or category.")
    label_category: str | None
    shares: int | None
    counted: bool | None = Field(
        default=None,
        description=(
            "Whether the post counts in the windows detection tests for its cluster (whether it pages, "
            "and when it calms). False: the cluster only lists it (taken in while the cluster surged, "
            "at a looser level than its own members). Null: the post is in no cluster."
        ),
    )


class RankedCauseOut(Schema):
    change_id: str
    score: float
    reasons: list[str]
    change: ChangeOut | None


class HistoryOut(Schema):
    at: str
    action: str
    detail: str


class EscalationOut(Schema):
    dedup_key: str
    cluster_key: str
    service: str | None
    state: str
    severity: str
    first_triggered_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    top_change: str | None
    causes: list[RankedCauseOut]
    history: list[HistoryOut]


class SeriesOut(BaseModel):
    starts: list[datetime]
    step_seconds: float
    posts: list[int]
    distinct_authors: list[int]


class ActionOut(Schema):
    id: int
    cluster_key: str
    action: str
    actor: str
    created_at: datetime
    expires_at: datetime | None
    target_cluster_key: str | None
    post_ids: list[int]
    note: str


class ClusterDetailOut(BaseModel):
    cluster: ClusterOut
    series: SeriesOut
    representative: PostOut | None
    samples: Paged[PostOut]
    listed_only_posts: int = Field(
        description=(
            "How many of its posts the cluster lists without counting them towards paging (samples "
            "with counted false)."
        )
    )
    escalation: EscalationOut | None
    actions: list[ActionOut]


#: ten years: a longer mute is "until unmuted", and a far larger one has no date at all
MAX_MUTE_MINUTES = 10 * 366 * 24 * 60


class ActionIn(BaseModel):
    """A support lead's decision about a cluster."""

    action: Literal["confirm", "mute", "unmute", "merge", "split", "escalate", "resolve"]
    expires_in_minutes: float | None = Field(
        None,
        gt=0,
        le=MAX_MUTE_MINUTES,
        description="mute only: how long (at most ten years); leave out to mute until unmuted.",
    )
    target_cluster_key: str | None = Field(None, description="merge only: the cluster that absorbs this one.")
    post_ids: list[int] = Field(
        default_factory=list, description="split only: the posts that leave the cluster."
    )
    note: str = Field("", max_length=2000)


class LabelIn(BaseModel):
    label: Literal["problem", "not_problem", "category"]
    category: str | None = Field(None, description="category only: the category's name.")
    note: str = Field("", max_length=2000)


class LabelOut(Schema):
    id: int
    post_id: int
    source: str
    external_id: str
    label: str
    category: str | None
    actor: str
    created_at: datetime
    note: str


class SourceOut(Schema):
    name: str
    kind: str
    cursor: dict[str, object]
    last_error: str | None
    updated_at: datetime | None
    lag_seconds: float | None


class ModelOut(Schema):
    version: str
    posts_scored: int
    last_scored_post_at: datetime | None
    is_default: bool
    artifact_found: bool
    figures: dict[str, float]


class ConstraintsOut(BaseModel):
    """What the next triage pass must respect (see ``triage.actions.service.load_constraints``)."""

    mutes: dict[str, datetime | None]
    merges: dict[str, str]
    splits: dict[str, list[int]]
    split_groups: list[list[int]]
    cannot_link_pairs: int
    relabels: dict[int, dict[str, object]]
    confirmed: list[str]
    resolved: dict[str, datetime]
    escalate_now: dict[str, datetime]
