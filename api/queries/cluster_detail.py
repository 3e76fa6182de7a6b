"""Everything the cluster page shows about one cluster."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.queries.clusters import (
    ChangeBrief,
    ClusterSummary,
    EscalationView,
    LeadState,
    escalation_view,
    latest_escalations,
    lead_state,
)
from api.queries.common import TimeRange, as_utc, bucket_starts, bucket_step
from api.queries.posts import PostFilter, PostView, get_post, list_posts
from triage.actions.service import ActionRecord, cluster_actions, load_constraints
from triage.storage.models import ChangeEventRow, ClusterMemberRow, ClusterRow, PostRow


@dataclass(frozen=True, slots=True)
class Series:
    """Counts per bucket: posts, and distinct authors within each bucket."""

    starts: tuple[datetime, ...]
    step: timedelta
    posts: tuple[int, ...]
    distinct_authors: tuple[int, ...]


@dataclass(frozen=True)
class ClusterDetail:
    summary: ClusterSummary
    lead: LeadState
    representative: PostView | None
    samples: list[PostView]
    sample_total: int
    #: posts it lists without counting them (taken in while it surged, at a looser level)
    listed_only: int
    series: Series
    escalation: EscalationView | None
    changes_nearby: list[ChangeBrief]
    actions: list[ActionRecord]
    merge_targets: list[tuple[str, str]]
    details: dict[str, object]


def _series(
    session: Session, cluster_id: int, onset: datetime, last: datetime, first_cause: datetime | None
) -> Series:
    """Buckets over the cluster's life, reaching back to its first ranked cause so the change that
    likely started it is on the same axis."""
    start = min(onset, first_cause) if first_cause else onset
    span = max(last - start, timedelta(minutes=30))
    padding = span * 0.08
    window = TimeRange(start - padding, last + padding)
    step = bucket_step(window.length, 36)
    starts = bucket_starts(window, step)
    posts = [0] * len(starts)
    authors: dict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(PostRow.created_at, PostRow.author_key)
        .join(ClusterMemberRow, ClusterMemberRow.post_id == PostRow.id)
        .where(ClusterMemberRow.cluster_id == cluster_id)
    )
    for created_at, author in rows:
        index = int((as_utc(created_at) - starts[0]) / step)
        if 0 <= index < len(starts):
            posts[index] += 1
            authors[index].add(author)
    return Series(
        tuple(starts), step, tuple(posts), tuple(len(authors[index]) for index in range(len(starts)))
    )


def _first_cause_time(escalation: EscalationView | None) -> datetime | None:
    if escalation is None:
        return None
    times = [cause.change.started_at for cause in escalation.causes if cause.change is not None]
    return min(times) if times else None


def cluster_detail(
    session: Session, tenant: str, key: str, now: datetime, *, sample_limit: int = 50, sample_offset: int = 0
) -> ClusterDetail | None:
    row = session.scalar(select(ClusterRow).where(ClusterRow.tenant == tenant, ClusterRow.key == key))
    if row is None:
        return None
    onset, last = as_utc(row.onset_at), as_utc(row.last_post_at)
    escalation_row = latest_escalations(session, tenant, [key]).get(key)
    escalation = escalation_view(session, tenant, escalation_row) if escalation_row else None
    constraints = load_constraints(session, tenant)
    lead = lead_state(constraints, key, now)
    top = None
    if escalation and escalation.causes:
        top = escalation.causes[0].change
    summary = ClusterSummary(
        key=row.key,
        label=row.label,
        service=row.service,
        state=row.state,
        onset_at=onset,
        last_post_at=last,
        distinct_authors=row.distinct_authors,
        post_count=row.post_count,
        severity=escalation.severity if escalation else None,
        escalation_state=escalation.state if escalation else None,
        likely_cause=top,
        trend=(),
        lead=lead,
        merged_into=row.merged_into,
    )
    samples, sample_total = list_posts(
        session, tenant, PostFilter(cluster_key=key), limit=sample_limit, offset=sample_offset
    )
    representative = (
        get_post(session, tenant, row.representative_post_id) if row.representative_post_id else None
    )
    nearby = session.scalars(
        select(ChangeEventRow)
        .where(
            ChangeEventRow.tenant == tenant,
            ChangeEventRow.started_at >= onset - timedelta(hours=6),
            ChangeEventRow.started_at <= last,
        )
        .order_by(ChangeEventRow.started_at)
    )
    changes = [
        ChangeBrief(
            change.external_id,
            change.kind,
            change.service,
            change.summary,
            as_utc(change.started_at),
            change.url,
        )
        for change in nearby
    ]
    targets = [
        (other.key, other.label)
        for other in session.scalars(
            select(ClusterRow)
            .where(ClusterRow.tenant == tenant, ClusterRow.key != key, ClusterRow.merged_into.is_(None))
            .order_by(ClusterRow.last_post_at.desc())
            .limit(200)
        )
        if constraints.survivor(other.key) == other.key
    ]
    return ClusterDetail(
        summary=summary,
        lead=lead,
        representative=representative,
        samples=samples,
        sample_total=sample_total,
        listed_only=session.scalar(
            select(func.count())
            .select_from(ClusterMemberRow)
            .where(ClusterMemberRow.cluster_id == row.id, ClusterMemberRow.counted.is_(False))
        )
        or 0,
        series=_series(session, row.id, onset, last, _first_cause_time(escalation)),
        escalation=escalation,
        changes_nearby=changes,
        actions=cluster_actions(session, tenant, key, limit=200),
        merge_targets=targets,
        details=dict(row.details),
    )
