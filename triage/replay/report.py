"""The replay report: the contract of DESIGN.md, plus explanatory extra keys.

Keys of the contract are never renamed or removed; anything added is extra
(``label``, ``reasons``, ``lead_over_alert_minutes`` ...), which the scorer
ignores and people read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from triage.engine import TriageEngine
from triage.events import format_event_time


def build_report(engine: TriageEngine, posts: int, seconds: float) -> dict[str, Any]:
    escalations = []
    for signal in engine.reported_signals():
        cluster = engine.book.resolve_key(signal.cluster_key)
        escalations.append(
            {
                "cluster_id": cluster.key,
                "first_triggered_at": format_event_time(signal.first_triggered_at),
                "service": signal.service,
                "severity": signal.severity,
                "posts": [member.external_id for member in cluster.members],
                "top_change": signal.top_change,
                "changes": [cause.change_id for cause in signal.causes],
                "label": engine.cluster_label(cluster),
                "onset": format_event_time(signal.onset),
                "distinct_authors": cluster.distinct_authors,
                "state": signal.state,
                "lead_over_alert_minutes": signal.lead_over_alert_minutes,
                "detection": signal.verdict.explain(),
                "causes": [cause.as_dict() for cause in signal.causes],
            }
        )
    clusters = [
        {
            "cluster_id": cluster.key,
            "posts": [member.external_id for member in cluster.members],
            "label": engine.cluster_label(cluster),
            "state": cluster.state,
            "distinct_authors": cluster.distinct_authors,
        }
        for cluster in engine.current_clusters()
        if cluster.members
    ]
    return {
        "escalations": escalations,
        "clusters": clusters,
        "stats": {
            "posts": posts,
            "seconds": round(seconds, 3),
            "problem_posts": engine.problem_posts,
            "decisions": len(engine.decisions),
        },
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    partial.replace(path)
