"""A new model version re-scores stored posts: from their embeddings when its heads read only the
embedding, from their texts when its heads read every layer's pool (which the database does not keep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from classifier.analysis import Analyzer
from ingest.records import Post
from tests.classifier.factories import (
    CountingEncoder,
    CountingLayerEncoder,
    tiny_artifact,
    tiny_layer_pool_artifact,
)
from triage.replay.flow import SilentProgress, analyse_pending
from triage.runners.analysis_batches import analyse_batch
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.intake import store_posts
from triage.storage.models import AnalysisRow, PostRow

TENANT = "reanalysis"
TEXTS = [f"the app crashed {'again ' * number}on checkout" for number in range(12)]


def stored_posts(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'posts.db'}")
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = session_factory(engine)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    posts = [
        Post(
            source="twitter",
            external_id=f"p{n}",
            author_key=f"a{n}",
            text=text,
            created_at=start + timedelta(minutes=n),
        )
        for n, text in enumerate(TEXTS)
    ]
    with transaction(sessions) as session:
        store_posts(session, TENANT, posts)
    return settings, engine, sessions


def versions(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        rows = session.execute(select(AnalysisRow.model_version))
        counts: dict[str, int] = {}
        for (version,) in rows:
            counts[version] = counts.get(version, 0) + 1
        return counts


def test_replay_reuses_embeddings_for_embedding_heads_and_encodes_for_layer_pools(tmp_path: Path) -> None:
    settings, engine, sessions = stored_posts(tmp_path)
    first = CountingEncoder()
    analyse_pending(sessions, TENANT, Analyzer(first, tiny_artifact("t1")), settings, SilentProgress())
    assert sorted(first.seen) == sorted(TEXTS)

    heads_only = CountingEncoder()
    analyse_pending(sessions, TENANT, Analyzer(heads_only, tiny_artifact("t2")), settings, SilentProgress())
    assert heads_only.seen == []  # the stored embeddings were enough

    layers = CountingLayerEncoder()
    pools = Analyzer(layers, tiny_layer_pool_artifact("l1"))
    analyse_pending(sessions, TENANT, pools, settings, SilentProgress())
    assert sorted(layers.seen) == sorted(TEXTS)
    assert versions(sessions) == {"l1": 12}  # one analysis per post: the latest version's
    engine.dispose()


def test_a_worker_batch_encodes_again_for_layer_pool_heads(tmp_path: Path) -> None:
    settings, engine, sessions = stored_posts(tmp_path)
    with transaction(sessions) as session:
        ids = list(session.scalars(select(PostRow.id).order_by(PostRow.id)))
    assert analyse_batch(sessions, ids, Analyzer(CountingEncoder(), tiny_artifact("t1")), settings) == 12
    layers = CountingLayerEncoder()
    assert analyse_batch(sessions, ids, Analyzer(layers, tiny_layer_pool_artifact("l1")), settings) == 12
    assert sorted(layers.seen) == sorted(TEXTS)
    heads_only = CountingEncoder()
    assert analyse_batch(sessions, ids, Analyzer(heads_only, tiny_artifact("t2")), settings) == 12
    assert heads_only.seen == []
    engine.dispose()
