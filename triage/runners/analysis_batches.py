"""Analysis in batches spread over workers: which posts go in a batch, and analysing one batch.

The embedded runner analyses a tenant's pending posts in one loop
(``analyse_pending``); here the same steps — find what this model version has
not seen, reuse stored embeddings, run the encoder and heads, store — are cut
into batches that any analysis worker may take. A dispatcher leases each post
it puts in a batch (a Redis key per post, ``SET NX`` with an expiry), so the
next dispatch, one interval later, does not send a post again while its batch
waits in the queue behind a backlog. The lease is released when the batch is
stored; when the batch fails for good (dead-lettered) it is cut short to
``analysis_retry_after_failure_seconds``, after which the next dispatch offers
the posts again, so an outage longer than the retries delays posts by minutes,
not by the whole lease.

Analysing a batch is idempotent: it re-reads which of its posts still lack
this model's analysis and stores those in one transaction, so a batch that is
delivered twice (its worker was killed after storing but before the
acknowledgement) stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from triage.settings import Settings
from triage.storage.analyses import posts_to_analyse, store_analyses, stored_embeddings
from triage.storage.database import transaction
from triage.storage.models import AnalysisRow, PostRow

if TYPE_CHECKING:
    import redis

    from classifier.analysis import Analyzer

#: a post leased to a batch is not offered again for this long unless its batch releases it
LEASE_SECONDS = 6 * 3600


def lease_key(tenant: str, post_id: int) -> str:
    return f"signal-triage:analysis-lease:{tenant}:{post_id}"


def pending_batches(
    sessions: sessionmaker[Session],
    broker: redis.Redis,
    tenant: str,
    model_version: str,
    batch_size: int,
    *,
    owner: str,
    lease_seconds: int = LEASE_SECONDS,
) -> list[list[int]]:
    """Post ids still to analyse that no other dispatch holds, leased to ``owner`` and cut into batches.

    ``owner`` is the dispatching task's id: a dispatch killed between leasing
    and sending runs again under the same id and takes its own leases back,
    so no post is left leased to batches that were never sent. Batches follow
    the order ``analyse_pending`` uses (event time, then id), so a replay
    analyses posts in the same groups whichever runner runs it.
    """
    with transaction(sessions) as session:
        pending = [post_id for post_id, _ in posts_to_analyse(session, tenant, model_version)]
    leased: list[int] = []
    for start in range(0, len(pending), 5000):
        chunk = pending[start : start + 5000]
        keys = [lease_key(tenant, post_id) for post_id in chunk]
        pipeline = broker.pipeline(transaction=False)
        for key in keys:
            pipeline.set(key, owner, nx=True, ex=lease_seconds)
        taken = pipeline.execute()
        held = broker.mget(keys)
        leased.extend(
            post_id
            for post_id, fresh, holder in zip(chunk, taken, held, strict=True)
            if fresh or holder == owner.encode()
        )
    return [leased[start : start + batch_size] for start in range(0, len(leased), batch_size)]


def release_leases(broker: redis.Redis, tenant: str, post_ids: Sequence[int]) -> None:
    if post_ids:
        broker.delete(*(lease_key(tenant, post_id) for post_id in post_ids))


def offer_again_later(broker: redis.Redis, tenant: str, post_ids: Sequence[int], seconds: int) -> None:
    """Shorten the leases of a failed batch's posts to ``seconds``: late enough that a batch failing for
    a reason that lasts is not retried in a tight loop, early enough that nobody has to resend it."""
    if not post_ids:
        return
    pipeline = broker.pipeline(transaction=False)
    for post_id in post_ids:
        pipeline.expire(lease_key(tenant, post_id), seconds)
    pipeline.execute()


def still_to_analyse(session: Session, post_ids: Sequence[int], model_version: str) -> list[tuple[int, str]]:
    """(id, text) of those of ``post_ids`` that ``model_version`` has not analysed, in the given order."""
    analysed = select(AnalysisRow.post_id).where(
        AnalysisRow.post_id.in_(list(post_ids)), AnalysisRow.model_version == model_version
    )
    statement = select(PostRow.id, PostRow.text).where(
        PostRow.id.in_(list(post_ids)), PostRow.id.not_in(analysed)
    )
    texts = {row.id: row.text for row in session.execute(statement)}
    return [(post_id, texts[post_id]) for post_id in post_ids if post_id in texts]


def analyse_batch(
    sessions: sessionmaker[Session], post_ids: Sequence[int], analyzer: Analyzer, settings: Settings
) -> int:
    """Analyse those of ``post_ids`` not analysed by this model yet; returns how many were analysed.

    The same steps as one chunk of ``analyse_pending``: a post an earlier model
    version already encoded only gets the new heads.
    """
    with transaction(sessions) as session:
        todo = still_to_analyse(session, post_ids, analyzer.model_version)
        # heads on layer pools need the text encoded again: a stored embedding is not all they read
        reusable = [post_id for post_id, _ in todo] if analyzer.reads_embeddings else []
        known = stored_embeddings(session, reusable)
    if not todo:
        return 0
    ids = [post_id for post_id, _ in todo]
    texts = [text for _, text in todo]
    if len(known) == len(todo):
        analyses = analyzer.analyze_embeddings(texts, np.stack([known[post_id] for post_id in ids]))
    else:
        analyses = analyzer.analyze(texts, batch_size=settings.analysis_batch_size)
    with transaction(sessions) as session:
        # re-checked inside the storing transaction: a twin delivery of this batch may have stored first
        fresh = {post_id for post_id, _ in still_to_analyse(session, ids, analyzer.model_version)}
        kept = [
            (post_id, analysis) for post_id, analysis in zip(ids, analyses, strict=True) if post_id in fresh
        ]
        store_analyses(
            session,
            [post_id for post_id, _ in kept],
            [analysis for _, analysis in kept],
            analyzer.model_version,
        )
    return len(kept)
