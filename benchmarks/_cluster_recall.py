"""Where each scenario's incident posts ended up: the parts of B-cubed recall the scorer folds together.

The scorer counts only incident posts, so a B-cubed F1 under 0.90 is either incidents mixed in one
cluster (precision) or incident posts outside their incident's cluster (recall). Splitting the second by
cause says which stage to improve: a post the classifier did not flag never reaches clustering; a flagged
one that joined nothing was too unlike its incident's cluster; one in another cluster was taken elsewhere.
``classifier_ceiling`` is the B-cubed F1 a perfect clustering of the flagged posts would reach, so a
shortfall against the target splits into the classifier's part and clustering's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

FATES = ("main", "other_cluster", "flagged_unclustered", "not_flagged")


@dataclass(frozen=True)
class IncidentPostFates:
    """Counts of incident posts per fate, over all of a scenario's incidents."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, fate: str) -> float:
        return self.counts.get(fate, 0) / self.total if self.total else 0.0


def incident_post_fates(
    truth: dict[str, Any], report: dict[str, Any], flagged: set[str]
) -> IncidentPostFates:
    """Fates of the truth's incident posts in ``report``'s clusters; ``flagged``: ids the classifier passed.

    An incident's main cluster is the one holding most of its posts (what B-cubed recall rewards).
    """
    cluster_of: dict[str, int] = {}
    for index, cluster in enumerate(report.get("clusters", [])):
        for post in cluster["posts"]:
            cluster_of.setdefault(post, index)
    counts: Counter[str] = Counter({fate: 0 for fate in FATES})
    for incident in truth["incidents"]:
        posts = incident["posts"]
        held = Counter(cluster_of[post] for post in posts if post in cluster_of)
        main = held.most_common(1)[0][0] if held else None
        for post in posts:
            if post in cluster_of:
                counts["main" if cluster_of[post] == main else "other_cluster"] += 1
            else:
                counts["flagged_unclustered" if post in flagged else "not_flagged"] += 1
    return IncidentPostFates(dict(counts))


def classifier_ceiling(truth: dict[str, Any], flagged: set[str]) -> float | None:
    """B-cubed F1 (the scorer's, over incident posts) if every flagged incident post sat in its own
    incident's cluster with nothing else: the best clustering can do, since an unflagged post never
    reaches it and counts as a singleton. None without incident posts."""
    total = sum(len(incident["posts"]) for incident in truth["incidents"])
    if not total:
        return None
    recall = 0.0
    for incident in truth["incidents"]:
        size = len(incident["posts"])
        caught = sum(1 for post in incident["posts"] if post in flagged)
        # each flagged post finds the other flagged ones; each unflagged one only itself
        recall += caught * caught / size + (size - caught) / size
    recall /= total
    return 2 * recall / (1 + recall)


def flagged_external_ids(database_url: str, tenant: str, threshold: float) -> set[str]:
    """External ids of the tenant's posts whose problem probability reaches the clustering threshold."""
    from sqlalchemy import select

    from triage.storage.database import create_db_engine, session_factory, transaction
    from triage.storage.models import AnalysisRow, PostRow

    engine = create_db_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            rows = session.execute(
                select(PostRow.external_id)
                .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
                .where(PostRow.tenant == tenant, AnalysisRow.problem_probability >= threshold)
            )
            return {external_id for (external_id,) in rows}
    finally:
        engine.dispose()
