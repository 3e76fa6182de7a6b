from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from triage.storage.database import create_db_engine, migrate

TABLES = {
    "sources",
    "posts",
    "change_events",
    "services",
    "analyses",
    "clusters",
    "cluster_members",
    "escalations",
}


def test_migrations_create_every_table_on_sqlite_and_are_rerunnable(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'nested' / 'db.sqlite'}")
    migrate(engine)
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


@pytest.mark.postgres
def test_migrations_create_every_table_on_postgresql(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()
