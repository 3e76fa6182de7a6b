"""Poison messages end in ``dead_letters`` with their error after bounded retries, not in a retry loop,
and the worker goes on with the messages behind them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.errors import IngestError
from triage.runners.celery_app import create_celery_app
from triage.runners.dead_letters import list_dead_letters
from triage.runners.tasks import PoisonMessageError
from triage.storage.database import create_db_engine, session_factory, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MAX_RETRIES = 2


def _letters(database_url: str) -> list:  # type: ignore[type-arg]
    engine = create_db_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            return list_dead_letters(session)
    finally:
        engine.dispose()


def test_poison_messages_are_dead_lettered_after_bounded_retries(
    workers, scale_out_settings: Callable[[], object], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = scale_out_settings()
    worker = workers.start(
        "poison", "--max-retries", str(MAX_RETRIES), "--retry-backoff", "0.2", "--queues", "ingest,analysis"
    )
    app = create_celery_app(settings)  # type: ignore[arg-type]

    # a transient-looking failure: the file is not (yet) on the workers' volume; retried, then given up
    missing = app.send_task(
        "triage.ingest.replay_file", kwargs={"tenant": "acme", "path": str(tmp_path / "not-there.jsonl")}
    )
    # a malformed message no retry can fix: dead-lettered on its first failure
    malformed = app.send_task("triage.analysis.batch", kwargs={"tenant": "acme", "post_ids": "12,13"})
    # behind them, an ordinary message still runs
    healthy = app.send_task("triage.analysis.dispatch", kwargs={"tenant": "acme"})

    with pytest.raises(IngestError, match="not-there.jsonl"):
        missing.get(timeout=120)
    with pytest.raises(PoisonMessageError, match="post_ids"):
        malformed.get(timeout=120)
    assert healthy.get(timeout=300) == {"batches": [], "posts": 0}

    letters = {letter.task_id: letter for letter in _letters(settings.resolved_database_url)}  # type: ignore[attr-defined]
    assert set(letters) == {missing.id, malformed.id}

    retried = letters[missing.id]
    assert retried.task_name == "triage.ingest.replay_file"
    assert retried.attempts == MAX_RETRIES + 1
    assert retried.error_type == "IngestError" and "not-there.jsonl" in retried.error
    assert retried.tenant == "acme" and retried.queue == "ingest"
    assert retried.arguments["kwargs"]["path"].endswith("not-there.jsonl")

    poison = letters[malformed.id]
    assert poison.attempts == 1, "a malformed message is not retried"
    assert poison.error_type == "PoisonMessageError" and "post_ids" in poison.error

    log = worker.text()
    assert log.count(f"triage.ingest.replay_file[{missing.id}] retry") == MAX_RETRIES
    assert f"triage.analysis.batch[{malformed.id}] retry" not in log


def test_dead_letters_table_is_created_by_the_single_migration_head(postgres_url: str) -> None:
    from alembic.script import ScriptDirectory

    from triage.storage.database import alembic_config, migrate

    engine = create_db_engine(postgres_url)
    try:
        migrate(engine)
        heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
        assert len(heads) == 1  # one history, whatever later migrations add
        with transaction(session_factory(engine)) as session:
            assert list_dead_letters(session) == []
    finally:
        engine.dispose()
