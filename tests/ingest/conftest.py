from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from triage.storage.database import create_db_engine, migrate, session_factory


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    """A migrated SQLite database of its own for each test."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    migrate(engine)
    return session_factory(engine)


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    """The same, on a throwaway PostgreSQL database (skips when the server is not reachable)."""
    engine = create_db_engine(postgres_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()
