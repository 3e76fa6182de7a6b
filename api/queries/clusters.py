"""Clusters as the support lead sees them: the board's rows and one cluster's full page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.queries.common import TimeRange, as_utc, bucket_counts, bucket_starts, bucket_step
from triage.actions.service import ClusterConstraints, load_constraints
from triage.storage.models import ChangeEventRow, ClusterMemberRow, ClusterRow, EscalationRow, PostRow

#: lifecycle order, for sorting and for the board's state filter
STATES: tuple[str, ...] = ("emerging", "active", "subsiding", "resolved")
#: board order: what is hurting people now first
_STATE_ORDER = {"active": 0, "emerging": 1, "subsiding": 2, "resolved": 3}
_SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
TREND_BUCKETS = 24


@dataclass(frozen=True, slots=True)
class ChangeBrief:
    external_id: str
    kind: str
    service: str | None
    summary: str
    started_at: datetime
    url: str | None


@dataclass(frozen=True, slots=True)
class LeadState:
    """What people decided about a cluster, folded from the action log."""

    muted_until: datetime | None = None
    muted: bool = False
    confirmed: bool = False
    merged_into: str | None = None
    resolved_at: datetime | None = None
    escalation_requested_at: datetime | None = None

    @property
    def badges(self) -> list[str]:
        badges = []
        if self.muted:
            badges.append("muted" + (f" until {self.muted_until:%d %b %H:%M}" if self.muted_until else ""))
        if self.confirmed:
            badges.append("confirmed")
        if self.merged_into:
            badges.append(f"merged into {self.merged_into}")
        if self.escalation_requested_at:
            badges.append("escalation requested")
        if self.resolved_at:
            badges.append("resolved by lead")
        return badges


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    key: str
    label: str
    service: str | None
    state: str
    onset_at: datetime
    last_post_at: datetime
    distinct_authors: int
    post_count: int
    severity: str | None
    escalation_state: str | None
    likely_cause: ChangeBrief | None
    trend: tuple[int, ...]
    lead: LeadState
    merged_into: str | None


@dataclass(frozen=True, slots=True)
class BoardFilter:
    services: Sequence[str] = ()
    states: Sequence[str] = ()
    since: datetime | None = None
    include_merged: bool = False


def lead_state(constraints: ClusterConstraints, key: str, now: datetime) -> LeadState:
    return LeadState(
        muted_until=constraints.mutes.get(key),
        muted=constraints.is_muted(key, now),
        confirmed=key in constraints.confirmed,
        merged_into=constraints.merges.get(key),
        resolved_at=constraints.resolved.get(key),
        escalation_requested_at=constraints.escalate_now.get(key),
    )


def change_briefs(session: Session, tenant: str, external_ids: Sequence[str]) -> dict[str, ChangeBrief]:
    if not external_ids:
        return {}
    rows = session.scalars(
        select(ChangeEventRow).where(
            ChangeEventRow.tenant == tenant, ChangeEventRow.external_id.in_(external_ids)
        )
    )
    return {
        row.external_id: ChangeBrief(
            row.external_id, row.kind, row.service, row.summary, as_utc(row.started_at), row.url
        )
        for row in rows
    }


def latest_escalations(
    session: Session, tenant: str, cluster_keys: Sequence[str]
) -> dict[str, EscalationRow]:
    if not cluster_keys:
        return {}
    latest: dict[str, EscalationRow] = {}
    rows = session.scalars(
        select(EscalationRow)
        .where(EscalationRow.tenant == tenant, EscalationRow.cluster_key.in_(cluster_keys))
        .order_by(EscalationRow.first_triggered_at)
    )
    for row in rows:
        latest[row.cluster_key] = row
    return latest


def _trends(
    session: Session, tenant: str, cluster_ids: list[int], window: TimeRange
) -> dict[int, tuple[int, ...]]:
    """Posts per bucket for each shown cluster. One query over the tenant's recent members (joined
    on the tenant, not an IN list of ids: expanding a long IN list costs more than the rows)."""
    step = bucket_step(window.length, TREND_BUCKETS)
    starts = bucket_starts(window, step)
    wanted = set(cluster_ids)
    times: dict[int, list[datetime]] = defaultdict(list)
    if cluster_ids:
        rows = session.execute(
            select(ClusterMemberRow.cluster_id, PostRow.created_at)
            .join(PostRow, PostRow.id == ClusterMemberRow.post_id)
            .join(ClusterRow, ClusterRow.id == ClusterMemberRow.cluster_id)
            .where(ClusterRow.tenant == tenant, PostRow.created_at >= starts[0])
        )
        for cluster_id, created_at in rows:
            if cluster_id in wanted:
                times[cluster_id].append(created_at)
    return {cluster_id: tuple(bucket_counts(times[cluster_id], starts, step)) for cluster_id in cluster_ids}


def board(
    session: Session,
    tenant: str,
    filters: BoardFilter,
    window: TimeRange | None,
    now: datetime,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ClusterSummary], int]:
    """Board rows (live problems first, then by distinct authors) and how many match in all.
    ``window`` is what the trend sparkline spans; ``now`` decides whether a mute is still on."""
    statement = select(ClusterRow).where(ClusterRow.tenant == tenant)
    if not filters.include_merged:
        statement = statement.where(ClusterRow.merged_into.is_(None))
    if filters.services:
        statement = statement.where(ClusterRow.service.in_(list(filters.services)))
    if filters.states:
        statement = statement.where(ClusterRow.state.in_(list(filters.states)))
    if filters.since is not None:
        statement = statement.where(ClusterRow.last_post_at >= filters.since)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = list(session.scalars(statement))
    rows.sort(key=lambda row: (_STATE_ORDER.get(row.state, 9), -row.distinct_authors, row.key))
    rows = rows[offset : offset + limit]

    keys = [row.key for row in rows]
    escalations = latest_escalations(session, tenant, keys)
    cause_ids = [escalation.top_change for escalation in escalations.values() if escalation.top_change]
    causes = change_briefs(session, tenant, cause_ids)
    trend_window = window or TimeRange(now - timedelta(hours=24), now)
    trends = _trends(session, tenant, [row.id for row in rows], trend_window)
    constraints = load_constraints(session, tenant)
    summaries = []
    for row in rows:
        escalation = escalations.get(row.key)
        summaries.append(
            ClusterSummary(
                key=row.key,
                label=row.label,
                service=row.service,
                state=row.state,
                onset_at=as_utc(row.onset_at),
                last_post_at=as_utc(row.last_post_at),
                distinct_authors=row.distinct_authors,
                post_count=row.post_count,
                severity=escalation.severity if escalation else None,
                escalation_state=escalation.state if escalation else None,
                likely_cause=causes.get(escalation.top_change)
                if escalation and escalation.top_change
                else None,
                trend=trends.get(row.id, ()),
                lead=lead_state(constraints, row.key, now),
                merged_into=row.merged_into,
            )
        )
    return summaries, total


def board_fingerprint(session: Session, tenant: str) -> tuple[Any, ...]:
    """A cheap value that changes whenever the board would: clusters added, grown, moved state,
    escalated, or a decision recorded. The live stream pushes an update when it changes."""
    from triage.actions.models import ClusterActionRow

    clusters = session.execute(
        select(
            func.count(ClusterRow.id),
            func.coalesce(func.sum(ClusterRow.post_count), 0),
            func.max(ClusterRow.last_post_at),
            func.max(ClusterRow.id),
        ).where(ClusterRow.tenant == tenant)
    ).one()
    states = tuple(
        session.execute(
            select(ClusterRow.state, func.count())
            .where(ClusterRow.tenant == tenant)
            .group_by(ClusterRow.state)
            .order_by(ClusterRow.state)
        ).all()
    )
    escalations = session.execute(
        select(func.count(EscalationRow.id), func.max(EscalationRow.updated_at)).where(
            EscalationRow.tenant == tenant
        )
    ).one()
    actions = session.scalar(select(func.max(ClusterActionRow.id)).where(ClusterActionRow.tenant == tenant))
    return (tuple(clusters), states, tuple(escalations), actions)


def services_in_use(session: Session, tenant: str) -> list[str]:
    return [
        name
        for name in session.scalars(
            select(ClusterRow.service)
            .where(ClusterRow.tenant == tenant, ClusterRow.service.is_not(None))
            .distinct()
            .order_by(ClusterRow.service)
        )
        if name
    ]


@dataclass(frozen=True, slots=True)
class RankedCause:
    change_id: str
    score: float
    reasons: tuple[str, ...]
    change: ChangeBrief | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: str
    action: str
    detail: str


@dataclass(frozen=True)
class EscalationView:
    dedup_key: str
    cluster_key: str
    service: str | None
    state: str
    severity: str
    first_triggered_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    top_change: str | None
    causes: tuple[RankedCause, ...]
    history: tuple[HistoryEntry, ...]
    details: dict[str, Any] = field(default_factory=dict)


def escalation_view(session: Session, tenant: str, row: EscalationRow) -> EscalationView:
    ranked = [entry for entry in row.ranked_changes if isinstance(entry, dict)]
    briefs = change_briefs(session, tenant, [str(entry.get("change")) for entry in ranked])
    causes = tuple(
        RankedCause(
            str(entry.get("change")),
            float(entry.get("score", 0.0)),
            tuple(str(reason) for reason in entry.get("reasons", [])),
            briefs.get(str(entry.get("change"))),
        )
        for entry in ranked
    )
    history = tuple(
        HistoryEntry(str(item[0]), str(item[1]), str(item[2]) if len(item) > 2 else "")
        for item in row.details.get("history", [])
        if isinstance(item, list | tuple) and len(item) >= 2
    )
    return EscalationView(
        row.dedup_key,
        row.cluster_key,
        row.service,
        row.state,
        row.severity,
        as_utc(row.first_triggered_at),
        as_utc(row.updated_at),
        as_utc(row.resolved_at) if row.resolved_at else None,
        row.top_change,
        causes,
        history,
        dict(row.details),
    )


def list_escalations(
    session: Session,
    tenant: str,
    *,
    state: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[EscalationView], int]:
    statement = select(EscalationRow).where(EscalationRow.tenant == tenant)
    if state:
        statement = statement.where(EscalationRow.state == state)
    if service:
        statement = statement.where(EscalationRow.service == service)
    if severity:
        statement = statement.where(EscalationRow.severity == severity)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(EscalationRow.first_triggered_at.desc(), EscalationRow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [escalation_view(session, tenant, row) for row in rows], total


def get_escalation(session: Session, tenant: str, dedup_key: str) -> EscalationView | None:
    row = session.scalar(
        select(EscalationRow).where(EscalationRow.tenant == tenant, EscalationRow.dedup_key == dedup_key)
    )
    return escalation_view(session, tenant, row) if row else None
