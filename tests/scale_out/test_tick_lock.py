"""The tick is a single writer per tenant: a second tick that starts while one runs returns "skipped"."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from triage.runners.continued_triage import ContinuedTriage
from triage.runners.tick import RAN, SKIPPED, TickOutcome, triage_tick
from triage.runners.tick_lock import tenant_lock_key, tenant_tick_lock
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory


class _HeldInsideTick:
    """Stands in for the analyzer of a tenant with nothing stored: the tick reads ``model_version``
    once, inside its lock, and this one waits there until the test lets it go, so the first tick is
    provably still running when the second starts."""

    problem_threshold = 0.5

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    @property
    def model_version(self) -> str:
        self.inside.set()
        assert self.release.wait(60), "the test never released the first tick"
        return "held-test"


class _Instant:
    problem_threshold = 0.5
    model_version = "instant-test"


def _two_ticks_at_once(engine: Engine, tenant: str) -> tuple[TickOutcome, TickOutcome]:
    sessions = session_factory(engine)
    settings = Settings(database_url=str(engine.url))
    held = _HeldInsideTick()
    outcomes: dict[str, TickOutcome] = {}

    def first() -> None:
        outcomes["first"] = triage_tick(engine, sessions, tenant, held, ContinuedTriage(settings))  # type: ignore[arg-type]

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert held.inside.wait(60), "the first tick never reached its triage pass"
        second = triage_tick(engine, sessions, tenant, _Instant(), ContinuedTriage(settings))  # type: ignore[arg-type]
    finally:
        held.release.set()
        thread.join(60)
    return outcomes["first"], second


@pytest.mark.postgres
def test_second_tick_skips_while_the_first_holds_the_advisory_lock(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    migrate(engine)
    try:
        first, second = _two_ticks_at_once(engine, "acme")
        assert (first.status, second.status) == (RAN, SKIPPED)
        # released with the tick: the next one runs
        third = triage_tick(engine, session_factory(engine), "acme", _Instant(), ContinuedTriage(Settings()))  # type: ignore[arg-type]
        assert third.status == RAN
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_ticks_of_different_tenants_do_not_block_each_other(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    try:
        with tenant_tick_lock(engine, "acme") as acme, tenant_tick_lock(engine, "globex") as globex:
            assert (acme, globex) == (True, True)
            with tenant_tick_lock(engine, "acme") as again:
                assert again is False
    finally:
        engine.dispose()


def test_sqlite_fallback_is_a_file_lock_with_the_same_behaviour(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'embedded.db'}")
    migrate(engine)
    try:
        first, second = _two_ticks_at_once(engine, "acme")
        assert (first.status, second.status) == (RAN, SKIPPED)
        assert list(tmp_path.glob("embedded.db.tick-*.lock")), "the fallback lock file is beside the database"
    finally:
        engine.dispose()


def test_lock_key_is_stable_and_fits_a_postgres_int() -> None:
    assert tenant_lock_key("acme") == tenant_lock_key("acme")
    assert tenant_lock_key("acme") != tenant_lock_key("globex")
    assert -(2**31) <= tenant_lock_key("acme") < 2**31
