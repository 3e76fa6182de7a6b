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
    "triage_state_marks",
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


def test_every_table_matches_its_model_after_the_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from triage.storage.models import Base

    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [diff for diff in differences if "triage_state_marks" in repr(diff)] == []
    engine.dispose()
