"""What else a support lead reads in an escalated incident: the posts listed with each escalation that
belong to no incident, split by when they were posted against the incident the escalation caught.

The scorer's B-cubed counts only incident posts, so everyday complaints that share an incident's
cluster cost it nothing; a support lead still has to read past them. Before onset: the cluster grew
from everyday complaints of the same kind; during: complaints indistinguishable by wording from the
outage's own; after the end: the cluster kept taking everyday complaints until it resolved.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PHASES = ("before_onset", "during", "after_end")


@dataclass(frozen=True)
class EscalationCompany:
    """Over a scenario's escalations: incident posts listed, and other posts per phase."""

    incident_posts: int
    others: dict[str, int]

    @property
    def incident_share(self) -> float:
        listed = self.incident_posts + sum(self.others.values())
        return self.incident_posts / listed if listed else 1.0


def post_times(scenario: Path) -> dict[str, datetime]:
    """Event time of every post in a replay file, by its source id."""
    times: dict[str, datetime] = {}
    with scenario.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("type") == "post":
                times[record["id"]] = _instant(record["created_at"])
    return times


def escalation_company(
    truth: dict[str, Any], report: dict[str, Any], times: dict[str, datetime]
) -> EscalationCompany:
    """Posts of the report's escalations: those of any incident, and the others by phase against the
    incident most of the escalation's incident posts belong to (an escalation holding none: all
    'during', as nothing bounds it)."""
    incident_of = {post: incident for incident in truth["incidents"] for post in incident["posts"]}
    own = 0
    others: Counter[str] = Counter({phase: 0 for phase in PHASES})
    for escalation in report.get("escalations", []):
        posts = escalation.get("posts", [])
        caught = Counter(incident_of[post]["id"] for post in posts if post in incident_of)
        incident = (
            next(item for item in truth["incidents"] if item["id"] == caught.most_common(1)[0][0])
            if caught
            else None
        )
        for post in posts:
            if post in incident_of:
                own += 1
            else:
                others[_phase(times.get(post), incident)] += 1
    return EscalationCompany(own, dict(others))


def _phase(posted: datetime | None, incident: dict[str, Any] | None) -> str:
    if posted is None or incident is None:
        return "during"
    if posted < _instant(incident["onset"]):
        return "before_onset"
    if posted > _instant(incident["end"]):
        return "after_end"
    return "during"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
