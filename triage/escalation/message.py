"""What a responder needs about one signal, as one typed message for every target.

A message is a snapshot of the signal *as of its decision* (event time), not of
whatever the engine knows when the outbox row is written: a replay enqueues a
six-hour incident at once, and its first trigger must still say "5 customers",
not the final count. Snapshots are cumulative (each one carries the whole
state), which is what lets the outbox drop an update superseded by a later one.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from triage.clustering import Cluster
from triage.correlation import rank_likely_causes
from triage.detection import severity_for
from triage.engine import Signal, SignalDecision, TriageEngine
from triage.escalation.settings import EscalationSettings
from triage.events import TriagePost, from_epoch

_SAMPLE_TEXT_CHARS = 280
#: a Zendesk post's external id is its ticket id, optionally followed by ":<comment id>"
_ZENDESK_TICKET = re.compile(r"^(\d+)(?:[:#/].*)?$")


class SamplePost(BaseModel):
    source: str
    external_id: str
    posted_at: datetime
    text: str


class LikelyCause(BaseModel):
    change: str
    score: float
    reasons: list[str]


#: the outbox action of a change event forwarded to a target (not a decision about a signal)
CHANGE = "change"


class ChangeMessage(BaseModel):
    """A change (deploy, config, flag...) from a feed, forwarded as it is to targets that take them."""

    message_id: str = Field(description="Stable id; the same change always has the same id.")
    action: str = Field(default=CHANGE)
    tenant: str
    change_id: str = Field(description="The change's id at its source.")
    source: str = Field(description="Where the change came from (github, generic, a replay file...).")
    kind: str = Field(description="deploy, config, flag, ...")
    service: str | None
    summary: str
    started_at: datetime
    url: str | None = None


class ImpactMessage(BaseModel):
    """The message body every target renders from. Field names are the webhook JSON contract."""

    message_id: str = Field(description="Stable id; the same decision always has the same id.")
    action: str = Field(description="trigger, update or resolve.")
    tenant: str
    dedup_key: str = Field(description="Key of the alert at the target: signal key plus generation.")
    signal_key: str = Field(description="The engine's key for the signal (tenant:cluster).")
    generation: int = Field(description="1, or n when the signal was opened again after a resolve.")
    cluster_key: str
    summary: str = Field(description="What customers say, in their words (the cluster label).")
    severity: str = Field(description="critical, error, warning or info.")
    service: str | None
    distinct_authors: int
    posts: int
    onset: datetime
    first_triggered_at: datetime
    decided_at: datetime
    detail: str = Field(description="Why this decision was taken.")
    sentiment: dict[str, int] = Field(description="Posts per sentiment label.")
    samples: list[SamplePost]
    likely_causes: list[LikelyCause]
    link: str = Field(description="The cluster page.")
    zendesk_ticket_ids: list[int] = Field(default_factory=list, description="Member Zendesk tickets.")

    @property
    def headline(self) -> str:
        """One line a pager shows: what, where, how many."""
        service = self.service or "unknown service"
        people = f"{self.distinct_authors} customer{'s' if self.distinct_authors != 1 else ''}"
        prefix = "Resolved: " if self.action == "resolve" else ""
        return f"{prefix}{service}: {self.summary} ({people}, {self.posts} posts)"


def cluster_link(settings: EscalationSettings, cluster_key: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/clusters/{cluster_key}"


def zendesk_ticket_ids(members: list[TriagePost]) -> list[int]:
    ids = {
        int(match.group(1))
        for member in members
        if member.source == "zendesk"
        if (match := _ZENDESK_TICKET.match(member.external_id))
    }
    return sorted(ids)


def _samples(members: list[TriagePost], count: int) -> list[SamplePost]:
    """The first report (how it started) and the latest ones (how it is now)."""
    if count <= 0 or not members:
        return []
    latest = members[1:][-(count - 1) :] if count > 1 else []
    chosen = [members[0], *latest]
    return [
        SamplePost(
            source=member.source,
            external_id=member.external_id,
            posted_at=from_epoch(member.time),
            text=member.text
            if len(member.text) <= _SAMPLE_TEXT_CHARS
            else member.text[: _SAMPLE_TEXT_CHARS - 1] + "…",
        )
        for member in chosen
    ]


class SnapshotBuilder:
    """Builds messages for one engine, caching per-cluster work (labels cost a term count)."""

    def __init__(self, engine: TriageEngine, settings: EscalationSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._labels: dict[str, str] = {}

    def label(self, cluster: Cluster) -> str:
        if cluster.key not in self._labels:
            self._labels[cluster.key] = self.engine.cluster_label(cluster)
        return self._labels[cluster.key]

    def build(
        self,
        decision: SignalDecision,
        *,
        message_id: str,
        dedup_key: str,
        generation: int,
    ) -> ImpactMessage:
        engine = self.engine
        signal: Signal = engine.signals[decision.dedup_key]
        cluster = engine.book.clusters[decision.cluster_key]
        members = [member for member in cluster.members if member.time <= decision.at] or cluster.members[:1]
        authors = len({member.author for member in members})
        changes_known = [change for change in engine.changes if change.time <= decision.at]
        causes = rank_likely_causes(
            signal.onset,
            signal.service,
            cluster.centroid,
            changes_known,
            engine.settings.correlation,
            signal.likeliest_onset,
        )[: self.settings.max_causes]
        sentiment: dict[str, int] = {}
        for member in members:
            sentiment[member.sentiment] = sentiment.get(member.sentiment, 0) + 1
        return ImpactMessage(
            message_id=message_id,
            action=decision.action,
            tenant=engine.tenant,
            dedup_key=dedup_key,
            signal_key=decision.dedup_key,
            generation=generation,
            cluster_key=decision.cluster_key,
            summary=self.label(cluster),
            severity=severity_for(authors, engine.settings.policy),
            service=signal.service,
            distinct_authors=authors,
            posts=len(members),
            onset=from_epoch(signal.onset),
            first_triggered_at=from_epoch(signal.first_triggered_at),
            decided_at=from_epoch(decision.at),
            detail=decision.detail,
            sentiment=dict(sorted(sentiment.items())),
            samples=_samples(members, self.settings.sample_posts),
            likely_causes=[
                LikelyCause(change=cause.change_id, score=round(cause.score, 4), reasons=list(cause.reasons))
                for cause in causes
            ],
            link=cluster_link(self.settings, decision.cluster_key),
            zendesk_ticket_ids=zendesk_ticket_ids(members),
        )
