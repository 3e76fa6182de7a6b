"""Real databases for the outbox: SQLite in a temporary folder and a throwaway PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from triage.storage.database import create_db_engine, migrate, session_factory

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def postgres_sessions() -> Iterator[sessionmaker[Session]]:
    import psycopg

    name = f"st_outbox_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({error}); start it from .ci/run")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        engine = create_db_engine(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}")
        try:
            migrate(engine)
            yield session_factory(engine)
        finally:
            engine.dispose()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    """The outbox on each real database the project supports."""
    return request.getfixturevalue(f"{request.param}_sessions")
