"""Session-wide fixtures: the analyzer (loaded once), PostgreSQL databases, ../shared."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGNAL_TRIAGE_SHARED_DIR", REPO.parent / "shared"))
POSTGRES_ADMIN_URL = os.environ.get(
    "SIGNAL_TRIAGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def analyzer():  # type: ignore[no-untyped-def]
    from classifier.analysis import load_analyzer

    return load_analyzer()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "scenarios").is_dir():
        pytest.skip(f"needs the shared data folder at {SHARED} (set SIGNAL_TRIAGE_SHARED_DIR)")
    return SHARED


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database on the machine's server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"signal_triage_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error.orig}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
