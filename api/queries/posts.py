"""Posts with what the classifier and people said about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.queries.common import as_utc
from triage.actions.models import PostLabelRow
from triage.storage.models import AnalysisRow, ClusterMemberRow, ClusterRow, PostRow


@dataclass(frozen=True, slots=True)
class PostView:
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
    label: str | None
    label_category: str | None
    shares: int | None
    meta: dict[str, Any]
    #: False when its cluster only lists it: taken in while the cluster surged, at a looser level
    #: than its own members, so it never counted towards paging; None outside any cluster
    counted: bool | None = None


@dataclass(frozen=True, slots=True)
class PostFilter:
    cluster_key: str | None = None
    source: str | None = None
    sentiment: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


def shares_of(meta: dict[str, Any]) -> int | None:
    """How often a post was passed on: X's public_metrics (retweets + quotes) when the source kept them."""
    metrics = meta.get("public_metrics") if isinstance(meta, dict) else None
    if not isinstance(metrics, dict):
        return None
    total = 0
    for name in ("retweet_count", "quote_count"):
        value = metrics.get(name)
        if isinstance(value, int | float):
            total += int(value)
    return total


def _base(tenant: str) -> Select[PostRow, AnalysisRow, str, bool]:
    return (
        select(PostRow, AnalysisRow, ClusterRow.key, ClusterMemberRow.counted)
        .outerjoin(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .outerjoin(ClusterMemberRow, ClusterMemberRow.post_id == PostRow.id)
        .outerjoin(ClusterRow, ClusterRow.id == ClusterMemberRow.cluster_id)
        .where(PostRow.tenant == tenant)
    )


def _filtered(
    statement: Select[PostRow, AnalysisRow, str, bool], filters: PostFilter
) -> Select[PostRow, AnalysisRow, str, bool]:
    if filters.cluster_key:
        statement = statement.where(ClusterRow.key == filters.cluster_key)
    if filters.source:
        statement = statement.where(PostRow.source == filters.source)
    if filters.sentiment:
        statement = statement.where(AnalysisRow.sentiment == filters.sentiment)
    if filters.since:
        statement = statement.where(PostRow.created_at >= filters.since)
    if filters.until:
        statement = statement.where(PostRow.created_at < filters.until)
    if filters.text:
        statement = statement.where(PostRow.text.ilike(f"%{filters.text}%"))
    return statement


def latest_labels(session: Session, tenant: str, post_ids: list[int]) -> dict[int, PostLabelRow]:
    if not post_ids:
        return {}
    labels: dict[int, PostLabelRow] = {}
    for row in session.scalars(
        select(PostLabelRow)
        .where(PostLabelRow.tenant == tenant, PostLabelRow.post_id.in_(post_ids))
        .order_by(PostLabelRow.created_at, PostLabelRow.id)
    ):
        labels[row.post_id] = row
    return labels


def _views(session: Session, tenant: str, rows: list[Any]) -> list[PostView]:
    labels = latest_labels(session, tenant, [post.id for post, *_ in rows])
    views = []
    for post, analysis, cluster_key, counted in rows:
        label = labels.get(post.id)
        views.append(
            PostView(
                id=post.id,
                source=post.source,
                external_id=post.external_id,
                author=post.author_key,
                text=post.text,
                created_at=as_utc(post.created_at),
                url=post.url,
                lang=post.lang,
                problem_probability=analysis.problem_probability if analysis else None,
                category=analysis.category if analysis else None,
                sentiment=analysis.sentiment if analysis else None,
                model_version=analysis.model_version if analysis else None,
                cluster_key=cluster_key,
                label=label.label if label else None,
                label_category=label.category if label else None,
                shares=shares_of(post.meta),
                meta=dict(post.meta),
                counted=counted if cluster_key is not None else None,
            )
        )
    return views


def list_posts(
    session: Session,
    tenant: str,
    filters: PostFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    newest_first: bool = True,
) -> tuple[list[PostView], int]:
    statement = _filtered(_base(tenant), filters)
    total = (
        session.scalar(select(func.count()).select_from(statement.with_only_columns(PostRow.id).subquery()))
        or 0
    )
    order = (
        (PostRow.created_at.desc(), PostRow.id.desc()) if newest_first else (PostRow.created_at, PostRow.id)
    )
    rows = list(session.execute(statement.order_by(*order).limit(limit).offset(offset)))
    return _views(session, tenant, rows), total


def get_post(session: Session, tenant: str, post_id: int) -> PostView | None:
    rows = list(session.execute(_base(tenant).where(PostRow.id == post_id)))
    return _views(session, tenant, rows)[0] if rows else None


def categories_known(session: Session, tenant: str) -> list[str]:
    """Categories the classifier has used in this tenant, offered when relabelling."""
    return [
        name
        for name in session.scalars(
            select(AnalysisRow.category)
            .join(PostRow, PostRow.id == AnalysisRow.post_id)
            .where(PostRow.tenant == tenant, AnalysisRow.category.is_not(None))
            .distinct()
            .order_by(AnalysisRow.category)
        )
        if name
    ]


def posts_by_ids(session: Session, tenant: str, post_ids: list[int]) -> list[PostView]:
    """Views of ``post_ids`` in the order given."""
    if not post_ids:
        return []
    rows = list(session.execute(_base(tenant).where(PostRow.id.in_(post_ids))))
    by_id = {view.id: view for view in _views(session, tenant, rows)}
    return [by_id[post_id] for post_id in post_ids if post_id in by_id]
