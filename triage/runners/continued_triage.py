"""A live runner's triage pass that carries on from its last one instead of replaying everything.

Rebuilding clusters and signals from every stored post made each pass cost
more as posts accumulated. A runner keeps a :class:`~triage.feed.TriageFeed`
per tenant between passes and feeds it only the posts analysed since. The
result is the same engine a full replay would build, because the feed only
continues when nothing before its last post has changed:

- the stored state is still the one this runner wrote (the tenant's mark);
- the model version, the services and people's decisions are unchanged;
- every analysed post up to the feed's last post is one it took (no late
  arrival, no late analysis) and no change event arrived for that past.

Otherwise it rebuilds once and continues from there. Posts after the oldest
post still waiting for analysis are not taken into the feed yet; they are
played, with the closing tick, on the copy the pass returns (a short tail
while analysis catches up), so a post analysed late is not a late arrival.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.records import Service
from triage.actions.service import ClusterConstraints, load_constraints
from triage.engine import TriageEngine
from triage.events import TriageChange, from_epoch, to_epoch
from triage.feed import TriageFeed
from triage.replay.flow import (
    build_catalog,
    change_texts,
    embed_change_texts,
    load_change_rows,
    load_posts,
    to_changes,
)
from triage.settings import Settings
from triage.storage.database import transaction
from triage.storage.intake import load_services
from triage.storage.models import AnalysisRow, ChangeEventRow, PostRow
from triage.storage.outcomes import (
    ClusterPrint,
    cluster_prints,
    read_mark,
    replace_triage_state,
    update_triage_state,
)

if TYPE_CHECKING:
    from classifier.analysis import Analyzer

log = logging.getLogger(__name__)


@dataclass
class _Checkpoint:
    feed: TriageFeed
    model_version: str
    services: list[Service]
    constraints: ClusterConstraints
    #: the mark of the state this runner wrote last, and the prints of the clusters it stored
    mark: str | None = None
    stored: dict[str, ClusterPrint] = field(default_factory=dict)


@dataclass(frozen=True)
class PassResult:
    """A pass's engine (closed: as a full replay would leave it) and how it got there."""

    engine: TriageEngine
    continued: bool
    posts_fed: int
    tail: int
    reason: str


class ContinuedTriage:
    """One runner's memory of each tenant's triage, continued pass after pass."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._checkpoints: dict[str, _Checkpoint] = {}
        self._change_embeddings: dict[tuple[str, str], np.ndarray] = {}

    def run(self, sessions: sessionmaker[Session], tenant: str, analyzer: Analyzer) -> PassResult:
        """Bring ``tenant``'s triage up to date with what is stored; the caller persists the result
        with :meth:`persist` (in its own transaction, with the outgoing messages)."""
        checkpoint = self._checkpoints.get(tenant)
        with transaction(sessions) as session:
            services = load_services(session, tenant)
            constraints = load_constraints(session, tenant)
            change_rows = load_change_rows(session, tenant)
            waiting_since = _oldest_waiting_for_analysis(session, tenant, analyzer.model_version)
            changes = self._changes(change_rows, analyzer)
            reason = self._reason_to_rebuild(session, tenant, analyzer, checkpoint, services, constraints)
            if checkpoint is not None and not reason:
                reason = _late_change(checkpoint.feed, changes)
            after = None if reason or checkpoint is None else checkpoint.feed.last_post
            posts = load_posts(session, tenant, analyzer.model_version, after)
        if checkpoint is None or reason:
            feed = TriageFeed(self.settings, build_catalog(services, analyzer), constraints, tenant)
            checkpoint = _Checkpoint(feed, analyzer.model_version, services, constraints)
            self._checkpoints[tenant] = checkpoint
        feed = checkpoint.feed
        ready = [post for post in posts if waiting_since is None or post.time < waiting_since]
        tail = posts[len(ready) :]
        pending = changes[len(feed.changes_fed) :]
        fed = feed.feed(ready, pending)
        engine = feed.closed(pending[fed:], tail)
        continued = not reason
        log.info(
            "triage_pass tenant=%s continued=%s reason=%s new_posts=%d tail=%d posts=%d",
            tenant,
            continued,
            reason or "-",
            len(ready),
            len(tail),
            engine.posts_seen,
        )
        return PassResult(engine, continued, len(ready), len(tail), reason or "continued")

    def persist(self, session: Session, tenant: str, result: PassResult) -> None:
        """Store the pass's clusters and signals: only what changed when this runner wrote the stored
        state itself, everything otherwise."""
        checkpoint = self._checkpoints[tenant]
        if result.continued and checkpoint.mark is not None:
            checkpoint.mark, checkpoint.stored = update_triage_state(
                session, tenant, result.engine, checkpoint.stored
            )
        else:
            checkpoint.mark = replace_triage_state(session, tenant, result.engine)
            checkpoint.stored = cluster_prints(result.engine)

    def forget(self, tenant: str) -> None:
        """Drop the tenant's memory (the pass's transaction failed: the next pass rebuilds)."""
        self._checkpoints.pop(tenant, None)

    def _reason_to_rebuild(
        self,
        session: Session,
        tenant: str,
        analyzer: Analyzer,
        checkpoint: _Checkpoint | None,
        services: list[Service],
        constraints: ClusterConstraints,
    ) -> str | None:
        if checkpoint is None:
            return "first pass"
        if not self.settings.continue_triage_passes:
            return "continuing turned off"
        if read_mark(session, tenant) != checkpoint.mark:
            return "state written elsewhere"
        if checkpoint.model_version != analyzer.model_version:
            return "model version changed"
        if checkpoint.services != services:
            return "services changed"
        if checkpoint.constraints != constraints:
            return "decisions changed"
        last = checkpoint.feed.last_post
        if last is not None and _analysed_up_to(session, tenant, analyzer.model_version, last) != (
            checkpoint.feed.posts_fed
        ):
            return "late post"
        return None

    def _changes(self, rows: list[ChangeEventRow], analyzer: Analyzer) -> list[TriageChange]:
        texts = change_texts(rows)
        keys = [(row.external_id, text) for row, text in zip(rows, texts, strict=True)]
        missing = [index for index, key in enumerate(keys) if key not in self._change_embeddings]
        if missing:
            vectors = embed_change_texts(analyzer, [texts[index] for index in missing])
            for index, vector in zip(missing, vectors, strict=True):
                self._change_embeddings[keys[index]] = vector
        embeddings = np.stack([self._change_embeddings[key] for key in keys]) if keys else np.zeros((0, 384))
        return to_changes(rows, embeddings)


def _late_change(feed: TriageFeed, changes: list[TriageChange]) -> str | None:
    """A change the feed should already have seen: its fed changes are not this list's start, or the
    next one is not newer than the last post fed."""
    fed = feed.changes_fed
    if [change.external_id for change in changes[: len(fed)]] != [change.external_id for change in fed]:
        return "late change"
    if feed.last_post is not None and len(changes) > len(fed) and changes[len(fed)].time <= feed.last_post[0]:
        return "late change"
    return None


def _analysed_up_to(session: Session, tenant: str, model_version: str, last: tuple[float, int]) -> int:
    """How many analysed posts sort at or before ``last`` (event time, post id)."""
    rows = session.execute(
        select(PostRow.id, PostRow.created_at)
        .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .where(
            PostRow.tenant == tenant,
            AnalysisRow.model_version == model_version,
            PostRow.created_at >= from_epoch(last[0] - 0.001),
            PostRow.created_at <= from_epoch(last[0] + 0.001),
        )
    ).all()
    before = session.scalar(
        select(func.count())
        .select_from(PostRow)
        .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .where(
            PostRow.tenant == tenant,
            AnalysisRow.model_version == model_version,
            PostRow.created_at < from_epoch(last[0] - 0.001),
        )
    )
    return int(before or 0) + sum(1 for row in rows if (to_epoch(row.created_at), row.id) <= last)


def _oldest_waiting_for_analysis(session: Session, tenant: str, model_version: str) -> float | None:
    """Event time of the oldest stored post this model version has not analysed yet."""
    oldest = session.scalar(
        select(func.min(PostRow.created_at))
        .outerjoin(
            AnalysisRow, (AnalysisRow.post_id == PostRow.id) & (AnalysisRow.model_version == model_version)
        )
        .where(PostRow.tenant == tenant, AnalysisRow.post_id.is_(None))
    )
    return None if oldest is None else to_epoch(oldest)


def run_and_store(
    sessions: sessionmaker[Session], tenant: str, analyzer: Analyzer, memory: ContinuedTriage
) -> tuple[PassResult, int]:
    """One live triage pass: continue (or rebuild) the tenant's triage, then store its state with the
    decisions' outgoing messages in one transaction; returns the pass and the messages queued."""
    from triage.escalation.outbox import enqueue_signal_messages

    try:
        result = memory.run(sessions, tenant, analyzer)
        with transaction(sessions) as session:
            # the decisions' outgoing messages commit with the state that decided them, or not at all
            memory.persist(session, tenant, result)
            queued = enqueue_signal_messages(session, tenant, result.engine, memory.settings.escalation)
    except BaseException:
        memory.forget(tenant)  # what is stored may not be what memory holds: the next pass rebuilds
        raise
    return result, queued
