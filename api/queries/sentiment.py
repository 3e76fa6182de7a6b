"""The communications team's view: volume and sentiment per service over time, with the changes
and incidents that explain the curve, and the negative posts that travel furthest.

A post's service is the service of the cluster it belongs to; posts in no cluster (most praise and
chatter) count towards "all posts" only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.queries.clusters import ChangeBrief
from api.queries.common import TimeRange, as_utc, bucket_starts, bucket_step
from api.queries.posts import PostView, posts_by_ids, shares_of
from triage.storage.models import (
    AnalysisRow,
    ChangeEventRow,
    ClusterMemberRow,
    ClusterRow,
    EscalationRow,
    PostRow,
)

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
ALL_POSTS = "all posts"
_NEGATIVE_CANDIDATES = 5000


@dataclass(frozen=True, slots=True)
class Incident:
    cluster_key: str
    severity: str
    start: datetime
    end: datetime
    state: str


@dataclass(frozen=True)
class ServiceSentiment:
    service: str
    counts: dict[str, tuple[int, ...]]
    total: int
    negative_share: float
    changes: list[ChangeBrief]
    incidents: list[Incident]


@dataclass(frozen=True)
class SentimentDashboard:
    time_range: TimeRange
    starts: tuple[datetime, ...]
    step: timedelta
    overall: ServiceSentiment
    services: list[ServiceSentiment]
    most_shared_negative: list[PostView]
    shares_known: bool


def _sentiment(
    counts: dict[str, list[int]], service: str, changes: list[ChangeBrief], incidents: list[Incident]
) -> ServiceSentiment:
    total = sum(sum(values) for values in counts.values())
    negative = sum(counts["negative"])
    return ServiceSentiment(
        service,
        {name: tuple(values) for name, values in counts.items()},
        total,
        negative / total if total else 0.0,
        changes,
        incidents,
    )


def sentiment_dashboard(
    session: Session, tenant: str, time_range: TimeRange, *, top: int = 10
) -> SentimentDashboard:
    step = bucket_step(time_range.length, 48)
    starts = bucket_starts(time_range, step)
    origin = starts[0]

    def empty() -> dict[str, list[int]]:
        return {name: [0] * len(starts) for name in SENTIMENTS}

    overall = empty()
    per_service: dict[str, dict[str, list[int]]] = defaultdict(empty)
    rows = session.execute(
        select(PostRow.created_at, AnalysisRow.sentiment, ClusterRow.service)
        .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .outerjoin(ClusterMemberRow, ClusterMemberRow.post_id == PostRow.id)
        .outerjoin(ClusterRow, ClusterRow.id == ClusterMemberRow.cluster_id)
        .where(
            PostRow.tenant == tenant,
            PostRow.created_at >= time_range.start,
            PostRow.created_at <= time_range.end,
        )
    )
    for created_at, sentiment, service in rows:
        index = int((as_utc(created_at) - origin) / step)
        if sentiment not in overall or not 0 <= index < len(starts):
            continue
        overall[sentiment][index] += 1
        if service:
            per_service[service][sentiment][index] += 1

    changes = [
        ChangeBrief(row.external_id, row.kind, row.service, row.summary, as_utc(row.started_at), row.url)
        for row in session.scalars(
            select(ChangeEventRow)
            .where(
                ChangeEventRow.tenant == tenant,
                ChangeEventRow.started_at >= time_range.start,
                ChangeEventRow.started_at <= time_range.end,
            )
            .order_by(ChangeEventRow.started_at)
        )
    ]
    incidents = [
        Incident(
            row.cluster_key,
            row.severity,
            as_utc(row.first_triggered_at),
            as_utc(row.resolved_at) if row.resolved_at else time_range.end,
            row.state,
        )
        for row in session.scalars(
            select(EscalationRow).where(
                EscalationRow.tenant == tenant,
                EscalationRow.first_triggered_at <= time_range.end,
                or_(EscalationRow.resolved_at.is_(None), EscalationRow.resolved_at >= time_range.start),
            )
        )
    ]
    incident_services = {
        row.cluster_key: row.service
        for row in session.scalars(select(EscalationRow).where(EscalationRow.tenant == tenant))
    }
    services = [
        _sentiment(
            counts,
            service,
            [change for change in changes if change.service == service],
            [incident for incident in incidents if incident_services.get(incident.cluster_key) == service],
        )
        for service, counts in sorted(per_service.items(), key=lambda item: -sum(item[1]["negative"]))
    ]

    candidates = list(
        session.execute(
            select(PostRow.id, PostRow.meta, PostRow.created_at)
            .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
            .where(
                PostRow.tenant == tenant,
                AnalysisRow.sentiment == "negative",
                PostRow.created_at >= time_range.start,
                PostRow.created_at <= time_range.end,
            )
            .order_by(PostRow.created_at.desc())
            .limit(_NEGATIVE_CANDIDATES)
        )
    )
    shares = {post_id: shares_of(meta) for post_id, meta, _ in candidates}
    shares_known = any(value for value in shares.values())
    ranked = sorted(candidates, key=lambda row: (-(shares[row[0]] or 0), -as_utc(row[2]).timestamp()))
    return SentimentDashboard(
        time_range,
        tuple(starts),
        step,
        _sentiment(overall, ALL_POSTS, changes, incidents),
        services,
        posts_by_ids(session, tenant, [row[0] for row in ranked[:top]]),
        shares_known,
    )
