"""Replaying a scenario file through every stage, in event time.

read → store (idempotent) → analyse (only what is not analysed yet) → triage
(clustering, detection, correlation, signals) → persist → report. Each stage
commits its own work, so a crash loses at most the batch in flight and a rerun
picks up where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select

from classifier.analysis import Analyzer
from ingest.errors import InvalidRecordError
from ingest.records import Service
from ingest.sources.replay_file import ReplayFileSource
from triage.actions.service import load_constraints
from triage.catalog import ServiceCatalog
from triage.engine import TriageEngine
from triage.escalation.outbox import enqueue_signal_messages
from triage.events import TriageChange, TriagePost, from_epoch, to_epoch
from triage.feed import TriageFeed
from triage.replay.report import build_report
from triage.settings import Settings
from triage.storage.analyses import posts_to_analyse, store_analyses, stored_embeddings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.intake import (
    load_cursor,
    load_services,
    save_cursor,
    store_changes,
    store_posts,
    store_services,
)
from triage.storage.models import AnalysisRow, ChangeEventRow, PostRow
from triage.storage.outcomes import replace_triage_state

_ANALYSIS_CHUNK = 2048


class Progress(Protocol):
    """Where long stages report how far they are (the CLI draws bars; tests ignore it)."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...


class SilentProgress:
    def stage(self, name: str, total: int | None) -> None:
        return None

    def advance(self, amount: int) -> None:
        return None


@dataclass
class ReplayResult:
    report: dict[str, Any]
    tenant: str
    database_url: str
    engine: TriageEngine
    skipped: list[InvalidRecordError] = field(default_factory=list)
    #: seconds per stage (read and store, analyse, triage, persist), by the replay's timer
    stage_seconds: dict[str, float] = field(default_factory=dict)


def tenant_for(path: Path) -> str:
    """A replay's default tenant: the file's name, so scenarios never share ids."""
    return path.stem.split(".")[0] or "default"


def replay_file(
    path: Path,
    settings: Settings,
    analyzer: Analyzer,
    *,
    tenant: str | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> ReplayResult:
    progress = progress or SilentProgress()
    tenant = tenant or tenant_for(path)
    started = timer()
    db_engine = create_db_engine(settings.resolved_database_url)
    migrate(db_engine)
    sessions = session_factory(db_engine)

    source_name = f"replay:{path.name}"
    with transaction(sessions) as session:
        cursor = load_cursor(session, tenant, source_name)
    source = ReplayFileSource(path, skip_invalid=skip_invalid)
    skipped: list[InvalidRecordError] = []
    progress.stage("reading", None)
    for batch in source.read({"line": 0} if cursor.get("complete") else cursor):
        with transaction(sessions) as session:
            store_services(session, tenant, batch.services)
            store_posts(session, tenant, batch.posts)
            store_changes(session, tenant, batch.changes)
            save_cursor(session, tenant, source_name, source.kind, batch.cursor, None)
        skipped.extend(batch.skipped)
        progress.advance(len(batch.posts) + len(batch.changes))
    with transaction(sessions) as session:
        save_cursor(session, tenant, source_name, source.kind, {"line": 0, "complete": True}, None)
    stages = {"read and store": timer() - started}

    mark = timer()
    analyse_pending(sessions, tenant, analyzer, settings, progress)
    stages["analyse"] = timer() - mark
    mark = timer()
    engine = run_triage(sessions, tenant, analyzer, settings, progress)
    stages["triage"] = timer() - mark
    mark = timer()
    with transaction(sessions) as session:
        # the decisions' outgoing messages commit with the state that decided them, or not at all
        replace_triage_state(session, tenant, engine)
        enqueue_signal_messages(session, tenant, engine, settings.escalation)
    stages["persist"] = timer() - mark
    report = build_report(engine, engine.posts_seen, timer() - started)
    db_engine.dispose()
    return ReplayResult(report, tenant, settings.resolved_database_url, engine, skipped, stages)


def analyse_pending(
    sessions: Any, tenant: str, analyzer: Analyzer, settings: Settings, progress: Progress
) -> None:
    """Analyse every post of ``tenant`` that this model version has not seen, in committed chunks."""
    with transaction(sessions) as session:
        pending = posts_to_analyse(session, tenant, analyzer.model_version)
    progress.stage("analysing", len(pending))
    for start in range(0, len(pending), _ANALYSIS_CHUNK):
        chunk = pending[start : start + _ANALYSIS_CHUNK]
        post_ids = [post_id for post_id, _ in chunk]
        texts = [text for _, text in chunk]
        known: dict[int, np.ndarray] = {}
        if analyzer.reads_embeddings:  # heads on layer pools need the text encoded again
            with transaction(sessions) as session:
                known = stored_embeddings(session, post_ids)
        if len(known) == len(chunk):
            analyses = analyzer.analyze_embeddings(texts, np.stack([known[post_id] for post_id in post_ids]))
        else:
            analyses = analyzer.analyze(texts, batch_size=settings.analysis_batch_size)
        with transaction(sessions) as session:
            store_analyses(session, post_ids, analyses, analyzer.model_version)
        progress.advance(len(chunk))


def load_posts(
    session: Any, tenant: str, model_version: str, after: tuple[float, int] | None = None
) -> list[TriagePost]:
    """Analysed posts of ``tenant`` in event order: all of them, or those after ``after`` — the
    (event time, post id) of the last post a feed took."""
    statement = (
        select(
            PostRow.id,
            PostRow.external_id,
            PostRow.source,
            PostRow.author_key,
            PostRow.created_at,
            PostRow.text,
            AnalysisRow.embedding,
            AnalysisRow.problem_probability,
            AnalysisRow.category,
            AnalysisRow.sentiment,
        )
        .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .where(PostRow.tenant == tenant, AnalysisRow.model_version == model_version)
        .order_by(PostRow.created_at, PostRow.id)
    )
    if after is not None:
        # a millisecond of slack for the database's datetime rounding; the exact cut is made below
        statement = statement.where(PostRow.created_at >= from_epoch(after[0] - 0.001))
    posts = [
        TriagePost(
            post_id=row.id,
            external_id=row.external_id,
            source=row.source,
            author=row.author_key,
            time=to_epoch(row.created_at),
            text=row.text,
            embedding=np.frombuffer(row.embedding, dtype=np.float32),
            problem_probability=row.problem_probability,
            category=row.category,
            sentiment=row.sentiment,
        )
        for row in session.execute(statement)
    ]
    return posts if after is None else [post for post in posts if (post.time, post.post_id) > after]


def load_change_rows(session: Any, tenant: str) -> list[ChangeEventRow]:
    return list(
        session.scalars(
            select(ChangeEventRow)
            .where(ChangeEventRow.tenant == tenant)
            .order_by(ChangeEventRow.started_at, ChangeEventRow.id)
        )
    )


def to_changes(rows: Sequence[ChangeEventRow], embeddings: np.ndarray) -> list[TriageChange]:
    return [
        TriageChange(row.external_id, row.service, row.kind, row.summary, to_epoch(row.started_at), embedding)
        for row, embedding in zip(rows, embeddings, strict=True)
    ]


def change_texts(rows: Sequence[ChangeEventRow]) -> list[str]:
    """What a change is embedded from for cause ranking: its summary, else its kind."""
    return [row.summary or row.kind for row in rows]


def embed_change_texts(analyzer: Analyzer, texts: Sequence[str]) -> np.ndarray:
    """One text per encoder batch: padding then never depends on which changes are embedded together,
    so a live runner embedding changes as they arrive gets the bits a replay gets (changes are few)."""
    return analyzer.embed(texts, batch_size=1) if texts else np.zeros((0, 384), dtype=np.float32)


def build_catalog(services: list[Service], analyzer: Analyzer) -> ServiceCatalog:
    return ServiceCatalog(
        services,
        analyzer.embed([service.matching_text for service in services]) if services else np.zeros((0, 384)),
    )


def run_triage(
    sessions: Any, tenant: str, analyzer: Analyzer, settings: Settings, progress: Progress
) -> TriageEngine:
    """Feed every stored post and change of ``tenant`` through a fresh engine in event time."""
    with transaction(sessions) as session:
        posts = load_posts(session, tenant, analyzer.model_version)
        change_rows = load_change_rows(session, tenant)
        changes = to_changes(change_rows, embed_change_texts(analyzer, change_texts(change_rows)))
        services = load_services(session, tenant)
        constraints = load_constraints(session, tenant)
    feed = TriageFeed(settings, build_catalog(services, analyzer), constraints, tenant)
    progress.stage("triage", len(posts))
    fed_changes = 0
    for start in range(0, len(posts), 1000):
        fed_changes += feed.feed(posts[start : start + 1000], changes[fed_changes:])
        progress.advance(len(posts[start : start + 1000]))
    return feed.close_in_place(changes[fed_changes:])
