"""The Celery runner resumes without a person after Redis restarts, or PostgreSQL stops, mid-replay.

Real ``triage worker`` processes on the machine's PostgreSQL and Redis (the
fixtures of ``tests/scale_out/conftest.py``), a small synthetic scenario
(``write_small_scenario``) replayed by ``replay_on_workers`` in analysis
batches of a few posts, and a fault injected as soon as the first batch runs:

- Redis is shut down without saving and started again: every queued message,
  result, lease and queue binding is gone;
- PostgreSQL is stopped for 30 seconds and started again: the workers' tasks
  fail and are retried with backoff until it is back.

Either way the replay finishes, every post has exactly one analysis, the
stored counts in the worker's log add up to the posts (nothing analysed
twice), and the report equals the embedded runner's.

Both servers are restarted in a ``finally`` and waited for, whatever happens.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import write_small_scenario
from tests.faults.servers import postgres_restarted_on_exit, redis_restarted_on_exit, wait_until
from tests.scale_out import conftest as scale_out
from triage.replay.flow import replay_file
from triage.runners.celery_app import create_celery_app
from triage.runners.replay import WorkersReplay, replay_on_workers
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory, transaction
from triage.storage.models import AnalysisRow, PostRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# the scale-out fixtures: Redis (a DB number of its own), worker settings, real `triage worker` processes
redis_url = scale_out.redis_url
worker_environment = scale_out.worker_environment
workers = scale_out.workers
beats = scale_out.beats
scale_out_settings = scale_out.scale_out_settings


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """As the session-wide fixture, but dropping the database over a fresh connection: the server restarts
    in between, which kills every pooled one."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    from tests.conftest import POSTGRES_ADMIN_URL

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"signal_triage_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error.orig}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BATCH = 16
PG_DOWN_SECONDS = 30
REPLAY_TIMEOUT = 150.0
_STORED = re.compile(r"analysis_batch_stored task_id=\S+ tenant=\S+ posts=\d+ analysed=(\d+)")


def _replay_with_fault(
    scenario: Path,
    settings: Settings,
    analyzer: Any,
    worker: Any,
    fault: Callable[[], None],
) -> WorkersReplay:
    """Replays ``scenario`` on the workers in a thread; ``fault`` runs once the first analysis batch began."""
    outcome: dict[str, Any] = {}

    def run_replay() -> None:
        try:
            outcome["replay"] = replay_on_workers(
                scenario,
                settings,
                create_celery_app(settings),
                analyzer.model_version,
                analysis_batch=BATCH,
                timeout=REPLAY_TIMEOUT,
                redispatch_after=10.0,
                timer=lambda: 0.0,
            )
        except Exception as error:  # reported by the assertion below, with the worker's log
            outcome["error"] = error

    runner = threading.Thread(target=run_replay, daemon=True)
    runner.start()
    worker.wait_for("analysis_batch_started", timeout=120)
    fault()
    runner.join(REPLAY_TIMEOUT + 30)
    assert not runner.is_alive(), f"the replay did not finish:\n{worker.text()[-3000:]}"
    assert "error" not in outcome, f"{outcome.get('error')!r}\n{worker.text()[-3000:]}"
    replay: WorkersReplay = outcome["replay"]
    return replay


def _assert_exactly_once(
    replay: WorkersReplay, embedded: dict[str, Any], settings: Settings, worker: Any
) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(session_factory(engine)) as session:
            posts = session.scalar(
                select(func.count()).select_from(PostRow).where(PostRow.tenant == replay.tenant)
            )
            analyses = session.scalar(
                select(func.count())
                .select_from(AnalysisRow)
                .join(PostRow, PostRow.id == AnalysisRow.post_id)
                .where(PostRow.tenant == replay.tenant)
            )
    finally:
        engine.dispose()
    analysed = sum(int(count) for count in _STORED.findall(worker.text()))
    assert posts == embedded["stats"]["posts"] == replay.report["stats"]["posts"], (
        "no post lost or duplicated"
    )
    assert analyses == posts, "every post has its analysis"
    assert analysed == posts, "no post was analysed and stored twice"
    assert replay.report == embedded


def _embedded_report(scenario: Path, analyzer: Any, tmp_path: Path) -> dict[str, Any]:
    return replay_file(
        scenario,
        Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", data_dir=tmp_path),
        analyzer,
        timer=lambda: 0.0,
    ).report


def test_redis_restart_mid_replay_resumes(
    workers: Any, scale_out_settings: Callable[[], Settings], analyzer: Any, tmp_path: Path
) -> None:
    scenario = tmp_path / "bank.jsonl"
    write_small_scenario(scenario)
    embedded = _embedded_report(scenario, analyzer, tmp_path)
    with redis_restarted_on_exit() as restart_redis:
        settings = scale_out_settings()
        worker = workers.start("redis-fault")
        replay = _replay_with_fault(scenario, settings, analyzer, worker, restart_redis)
    assert worker.text().count("analysis_dispatched") >= 2, "the batches the broker lost were sent again"
    _assert_exactly_once(replay, embedded, settings, worker)


def test_postgres_down_30s_mid_replay_resumes(
    workers: Any, scale_out_settings: Callable[[], Settings], analyzer: Any, tmp_path: Path
) -> None:
    scenario = tmp_path / "bank.jsonl"
    write_small_scenario(scenario)
    embedded = _embedded_report(scenario, analyzer, tmp_path)
    with postgres_restarted_on_exit() as outage:
        settings = scale_out_settings()
        # retries 3 s, 6 s, 12 s, 24 s, 48 s after the first failure: the later ones outlast a 30-s outage
        worker = workers.start("pg-fault", "--max-retries", "5", "--retry-backoff", "3")
        replay = _replay_with_fault(scenario, settings, analyzer, worker, lambda: outage(PG_DOWN_SECONDS))
    assert "retry: Retry in" in worker.text(), "the outage made tasks fail and retry"
    assert "task_dead_lettered" not in worker.text()
    _assert_exactly_once(replay, embedded, settings, worker)


def test_postgres_down_longer_than_the_retries_with_beat_resumes(
    workers: Any,
    beats: Callable[[str], Any],
    scale_out_settings: Callable[[], Settings],
    analyzer: Any,
    tmp_path: Path,
) -> None:
    """The live topology (beat and a worker pulling a watched folder) with retries far shorter than a
    30-s PostgreSQL outage: the batches failing in it are dead-lettered, their posts are offered again
    a few seconds later, and every post ends up analysed exactly once without anyone resending them."""
    folder = tmp_path / "drop"
    folder.mkdir()
    scenario = folder / "bank.jsonl"
    write_small_scenario(scenario)
    os.utime(scenario, (1_000_000, 1_000_000))  # long settled
    posts = sum(1 for line in scenario.read_text(encoding="utf-8").splitlines() if '"type": "post"' in line)
    workers.environment.update(
        SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER=str(folder),
        SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_SETTLE_SECONDS="0",
        SIGNAL_TRIAGE_ANALYSIS_RETRY_AFTER_FAILURE_SECONDS="5",
    )
    with postgres_restarted_on_exit() as outage:
        settings = scale_out_settings()
        # one retry a second later: every batch caught by the outage fails for good
        worker = workers.start("pg-long", "--max-retries", "1", "--retry-backoff", "1")
        beats("beat")
        worker.wait_for("analysis_batch_started", timeout=120)
        outage(PG_DOWN_SECONDS)

    def tenant_counts() -> tuple[int, int]:
        engine = create_db_engine(settings.resolved_database_url)
        try:
            with transaction(session_factory(engine)) as session:
                stored = session.scalar(
                    select(func.count()).select_from(PostRow).where(PostRow.tenant == "default")
                )
                analysed = session.scalar(
                    select(func.count())
                    .select_from(AnalysisRow)
                    .join(PostRow, PostRow.id == AnalysisRow.post_id)
                    .where(PostRow.tenant == "default")
                )
        finally:
            engine.dispose()
        return int(stored or 0), int(analysed or 0)

    wait_until(lambda: tenant_counts() == (posts, posts), "every post analysed", timeout=REPLAY_TIMEOUT)
    log = worker.text()
    assert "analysis_batch_failed" in log, "a batch failed for good in the outage (else no test)"
    analysed = sum(int(count) for count in _STORED.findall(log))
    assert analysed == posts, "no post was analysed and stored twice"
