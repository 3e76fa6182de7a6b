"""The Celery runner and the embedded runner give the same replay report for fintech_day.

The scale-out side is the whole thing: ``replay_on_workers`` sends the file
through a real ``triage worker`` process (ingest, analysis in leased batches,
the locked tick) on PostgreSQL and Redis. The embedded side is
``replay_file`` in this process on SQLite, exactly as ``triage replay
--no-timing`` runs it, except that its encoder pass reads the embeddings the
worker stored instead of encoding the 15k posts a second time (on two CPU
cores that second pass alone takes minutes). Everything after the encoder —
heads, storage, clustering, detection, correlation, persistence, report — is
computed independently by each runner. ``test_worker_killed.py`` compares two
fully independent runs, encoder included, on the smaller smoke scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from triage.replay.flow import replay_file
from triage.runners.celery_app import create_celery_app
from triage.runners.replay import replay_on_workers
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory, transaction
from triage.storage.models import AnalysisRow, PostRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class _EncoderReadFrom:
    """``analyzer`` whose post encoder pass is a lookup of stored embeddings; heads and the
    embedding of change summaries and service descriptions still run here."""

    def __init__(self, analyzer: Any, embeddings: dict[str, np.ndarray]) -> None:
        self._analyzer = analyzer
        self._embeddings = embeddings
        self.model_version = analyzer.model_version
        self.problem_threshold = analyzer.problem_threshold

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._analyzer.embed(texts, batch_size)

    def analyze(self, texts: Sequence[str], batch_size: int = 64, progress: Any = None) -> list[Any]:
        return self._analyzer.analyze_embeddings(texts, np.stack([self._embeddings[text] for text in texts]))

    def analyze_embeddings(self, texts: Sequence[str], embeddings: np.ndarray) -> list[Any]:
        return self._analyzer.analyze_embeddings(texts, embeddings)


def _stored_embeddings(database_url: str, tenant: str) -> dict[str, np.ndarray]:
    engine = create_db_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            rows = session.execute(
                select(PostRow.text, AnalysisRow.embedding)
                .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
                .where(PostRow.tenant == tenant)
            )
            return {row.text: np.frombuffer(row.embedding, dtype=np.float32) for row in rows}
    finally:
        engine.dispose()


def test_fintech_day_on_celery_workers_gives_the_embedded_report(
    workers: Any, scale_out_settings: Callable[[], Settings], shared_dir: Path, analyzer: Any, tmp_path: Path
) -> None:
    scenario = shared_dir / "scenarios" / "fintech_day.jsonl"
    settings = scale_out_settings()
    workers.start("all-queues")
    on_workers = replay_on_workers(
        scenario,
        settings,
        create_celery_app(settings),
        analyzer.model_version,
        timeout=1200,
        timer=lambda: 0.0,
    )

    embedded = replay_file(
        scenario,
        Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", data_dir=tmp_path),
        # heads that read only the embedding are served from the workers' stored embeddings (saves an
        # encoder pass); heads on layer pools need the texts encoded again
        _EncoderReadFrom(analyzer, _stored_embeddings(settings.resolved_database_url, on_workers.tenant))  # type: ignore[arg-type]
        if analyzer.reads_embeddings
        else analyzer,
        timer=lambda: 0.0,
    )

    assert on_workers.analysis_batches > 1, "analysis was spread over several batches"
    assert on_workers.report["stats"]["posts"] == embedded.report["stats"]["posts"] > 14_000
    assert on_workers.report["escalations"], "the scenario's incidents were escalated"
    assert on_workers.report == embedded.report
