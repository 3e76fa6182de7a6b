"""Stored clusters say which members count and which a surging incident only lists, and a database
written before that column existed reads its old members as counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import START, triage_post, unit_vector
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.engine import TriageEngine
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.models import ClusterMemberRow, PostRow
from triage.storage.outcomes import cluster_prints, replace_triage_state

TENANT = "acme"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{(tmp_path / 'db.sqlite').as_posix()}")
    yield engine
    engine.dispose()


def store_posts(sessions: sessionmaker[Session], count: int) -> list[int]:
    with transaction(sessions) as session:
        rows = [
            PostRow(
                tenant=TENANT,
                source="twitter",
                external_id=f"t{number}",
                author_key=f"author{number}",
                text="written for this test",
                created_at=START,
                meta={},
            )
            for number in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def engine_with_cluster(post_ids: list[int], attached: set[int]) -> TriageEngine:
    engine = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))), TENANT)
    cluster = Cluster("cl-incident", born_at=START.timestamp())
    for minute, post_id in enumerate(post_ids):
        post = triage_post(post_id, minute, f"author{minute}", unit_vector(minute))
        cluster.add(post, attached=post_id in attached)
    engine.book.clusters[cluster.key] = cluster
    return engine


def test_attached_members_are_stored_as_not_counted(database: Engine) -> None:
    migrate(database)
    sessions = session_factory(database)
    post_ids = store_posts(sessions, 4)
    with transaction(sessions) as session:
        replace_triage_state(session, TENANT, engine_with_cluster(post_ids, {post_ids[3]}))
    with transaction(sessions) as session:
        rows = session.execute(select(ClusterMemberRow.post_id, ClusterMemberRow.counted))
        stored = {post: counted for post, counted in rows}
    assert stored == {post_ids[0]: True, post_ids[1]: True, post_ids[2]: True, post_ids[3]: False}


def test_a_member_listed_instead_of_counted_changes_the_cluster_print() -> None:
    """A continuing runner rewrites only clusters whose print changed, so the print must see it."""
    counted = cluster_prints(engine_with_cluster([1, 2, 3], set()))
    listed = cluster_prints(engine_with_cluster([1, 2, 3], {3}))
    assert counted["cl-incident"] != listed["cl-incident"]


def test_members_stored_before_the_column_existed_read_as_counted(database: Engine) -> None:
    migrate(database, "0006")
    sessions = session_factory(database)
    (post_id,) = store_posts(sessions, 1)
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO clusters (tenant, key, label, state, onset_at, last_post_at, distinct_authors,"
                " post_count, details) VALUES ('acme', 'cl-old', 'old', 'active', :at, :at, 1, 1, '{}')"
            ),
            {"at": START},
        )
        connection.execute(
            text(
                "INSERT INTO cluster_members (cluster_id, post_id, joined_at)"
                " SELECT id, :post, :at FROM clusters WHERE key = 'cl-old'"
            ),
            {"post": post_id, "at": START},
        )
    migrate(database)
    with transaction(sessions) as session:
        assert session.scalars(select(ClusterMemberRow.counted)).all() == [True]
