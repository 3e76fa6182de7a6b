"""Persisting what triage decided: clusters, their members and signals.

A replay re-derives a tenant's triage state from its stored posts, so the
previous state is replaced in the same transaction that writes the new one:
a crash half way leaves the old state, never a mix. A live runner that
continues from its last pass rewrites only the clusters that changed since
(``update_triage_state``). Either way the pass leaves a new mark, so a runner
can tell whether the stored state is still the one it wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from triage.clustering import Cluster
from triage.engine import TriageEngine
from triage.events import from_epoch
from triage.storage.models import ClusterMemberRow, ClusterRow, EscalationRow, TriageStateMarkRow

#: what a stored cluster row depends on; a cluster whose print is unchanged need not be rewritten
#: (the last figure: how many members it lists without counting them)
ClusterPrint = tuple[int, str, str | None, float, float, int, int]
_IN_CHUNK = 500


def replace_triage_state(session: Session, tenant: str, engine: TriageEngine) -> str:
    """Replace all of ``tenant``'s clusters and signals with ``engine``'s; returns the new mark."""
    cluster_ids = select(ClusterRow.id).where(ClusterRow.tenant == tenant)
    session.execute(delete(ClusterMemberRow).where(ClusterMemberRow.cluster_id.in_(cluster_ids)))
    session.execute(delete(ClusterRow).where(ClusterRow.tenant == tenant))
    _add_clusters(session, tenant, engine, engine.book.clusters.values())
    _replace_signals(session, tenant, engine)
    return _write_mark(session, tenant)


def update_triage_state(
    session: Session, tenant: str, engine: TriageEngine, stored: dict[str, ClusterPrint]
) -> tuple[str, dict[str, ClusterPrint]]:
    """Rewrite only the clusters whose print differs from ``stored`` (the prints of the state this
    runner wrote last), and every signal; returns the new mark and the prints now stored."""
    prints = cluster_prints(engine)
    stale = sorted(key for key in stored.keys() | prints.keys() if stored.get(key) != prints.get(key))
    for start in range(0, len(stale), _IN_CHUNK):
        cluster_ids = select(ClusterRow.id).where(
            ClusterRow.tenant == tenant, ClusterRow.key.in_(stale[start : start + _IN_CHUNK])
        )
        session.execute(delete(ClusterMemberRow).where(ClusterMemberRow.cluster_id.in_(cluster_ids)))
        session.execute(
            delete(ClusterRow).where(
                ClusterRow.tenant == tenant, ClusterRow.key.in_(stale[start : start + _IN_CHUNK])
            )
        )
    _add_clusters(session, tenant, engine, (engine.book.clusters[key] for key in stale if key in prints))
    _replace_signals(session, tenant, engine)
    return _write_mark(session, tenant), prints


def cluster_prints(engine: TriageEngine) -> dict[str, ClusterPrint]:
    return {
        key: (
            len(cluster.members),
            cluster.state,
            cluster.merged_into,
            cluster.first_post_at,
            cluster.last_post_at,
            cluster.distinct_authors,
            len(cluster.attached),
        )
        for key, cluster in engine.book.clusters.items()
        if cluster.members
    }


def read_mark(session: Session, tenant: str) -> str | None:
    return session.scalar(select(TriageStateMarkRow.token).where(TriageStateMarkRow.tenant == tenant))


def _write_mark(session: Session, tenant: str) -> str:
    token = str(uuid.uuid4())
    row = session.get(TriageStateMarkRow, tenant)
    if row is None:
        session.add(TriageStateMarkRow(tenant=tenant, token=token, written_at=datetime.now(UTC)))
    else:
        row.token, row.written_at = token, datetime.now(UTC)
    return token


def _add_clusters(session: Session, tenant: str, engine: TriageEngine, clusters: Iterable[Cluster]) -> None:
    member_rows: list[dict[str, object]] = []
    for cluster in clusters:
        if not cluster.members:
            continue
        match = engine.catalog.match(cluster)
        row = ClusterRow(
            tenant=tenant,
            key=cluster.key,
            label=engine.cluster_label(cluster),
            representative_post_id=cluster.members[0].post_id,
            service=match.service,
            state=cluster.state,
            onset_at=from_epoch(cluster.first_post_at),
            last_post_at=from_epoch(cluster.last_post_at),
            distinct_authors=cluster.distinct_authors,
            post_count=len(cluster.members),
            merged_into=cluster.merged_into,
            details={"service_scores": match.scores},
        )
        session.add(row)
        session.flush()
        if cluster.merged_into is None:
            member_rows.extend(
                {
                    "cluster_id": row.id,
                    "post_id": member.post_id,
                    "joined_at": from_epoch(member.time),
                    "counted": member.post_id not in cluster.attached,
                }
                for member in cluster.members
            )
    if member_rows:
        session.execute(ClusterMemberRow.__table__.insert(), member_rows)


def _replace_signals(session: Session, tenant: str, engine: TriageEngine) -> None:
    session.execute(delete(EscalationRow).where(EscalationRow.tenant == tenant))
    for signal in engine.signals.values():
        session.add(
            EscalationRow(
                tenant=tenant,
                dedup_key=signal.dedup_key,
                cluster_key=signal.cluster_key,
                state=signal.state,
                severity=signal.severity,
                service=signal.service,
                first_triggered_at=from_epoch(signal.first_triggered_at),
                updated_at=from_epoch(signal.history[-1][0]),
                resolved_at=from_epoch(signal.resolved_at) if signal.resolved_at is not None else None,
                top_change=signal.top_change,
                ranked_changes=[cause.as_dict() for cause in signal.causes],
                details={
                    "onset": from_epoch(signal.onset).isoformat(),
                    "merged_into": signal.merged_into,
                    "lead_over_alert_minutes": signal.lead_over_alert_minutes,
                    "detection": signal.verdict.explain(),
                    "history": [
                        [from_epoch(at).isoformat(), action, detail] for at, action, detail in signal.history
                    ],
                },
            )
        )
