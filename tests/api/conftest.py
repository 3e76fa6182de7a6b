"""An app on a fresh database per test, filled by the factories.

The ``settings`` fixture, and so ``app``, ``client`` and ``session``, runs every API test twice: on
a SQLite file and on a throwaway PostgreSQL database (created with a unique name on the server at
``SIGNAL_TRIAGE_TEST_POSTGRES``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``, and
dropped ``WITH (FORCE)`` afterwards; see ``postgres_url`` in tests/conftest.py). The PostgreSQL run
skips with the reason when that server is not reachable. Modules in ``SQLITE_ONLY_MODULES`` (the
browser tests, which run a real server and a browser) use SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from tests.api.factories import build_incident_day
from triage.settings import Settings
from triage.storage.database import transaction

DATABASES = ("sqlite", "postgresql")
SQLITE_ONLY_MODULES = frozenset({"test_browser"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "settings" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    databases = ("sqlite",) if module in SQLITE_ONLY_MODULES else DATABASES
    metafunc.parametrize("settings", databases, indirect=True, ids=list(databases))


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    database = getattr(request, "param", "sqlite")
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{(tmp_path / 'api.db').as_posix()}"
    return Settings(data_dir=tmp_path, database_url=url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    with transaction(application.state.sessions) as session:
        build_incident_day(session)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    with transaction(app.state.sessions) as db_session:
        yield db_session
