"""Persisting what triage decided: clusters, their members and signals.

A replay re-derives a tenant's triage state from its stored posts, so the
previous state is replaced in the same transaction that writes the new one:
a crash half way leaves the old state, never a mix.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from triage.engine import TriageEngine
from triage.events import from_epoch
from triage.storage.models import ClusterMemberRow, ClusterRow, EscalationRow


def replace_triage_state(session: Session, tenant: str, engine: TriageEngine) -> None:
    cluster_ids = select(ClusterRow.id).where(ClusterRow.tenant == tenant)
    session.execute(delete(ClusterMemberRow).where(ClusterMemberRow.cluster_id.in_(cluster_ids)))
    session.execute(delete(ClusterRow).where(ClusterRow.tenant == tenant))
    session.execute(delete(EscalationRow).where(EscalationRow.tenant == tenant))

    member_rows: list[dict[str, object]] = []
    for cluster in engine.book.clusters.values():
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
                {"cluster_id": row.id, "post_id": member.post_id, "joined_at": from_epoch(member.time)}
                for member in cluster.members
            )
    if member_rows:
        session.execute(ClusterMemberRow.__table__.insert(), member_rows)

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
