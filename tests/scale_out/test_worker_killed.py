"""A worker SIGKILLed in the middle of an analysis batch loses nothing and duplicates nothing.

Real ``triage worker`` processes on the machine's PostgreSQL and Redis: the
first worker is killed (no warm shutdown, no acknowledgement) right after it
starts a batch; a second worker, started afterwards, gets the batch back once
the broker's visibility timeout has passed, and the replay finishes with the
same report as the embedded runner.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from triage.replay.flow import replay_file
from triage.runners.celery_app import create_celery_app
from triage.runners.replay import WorkersReplay, replay_on_workers
from triage.settings import Settings
from triage.storage.database import create_db_engine, session_factory, transaction
from triage.storage.models import AnalysisRow, PostRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BATCH = 128
KILL_AT_BATCH = 4
VISIBILITY_SECONDS = "20"
_STARTED = re.compile(r"analysis_batch_started task_id=(\S+)")
_STORED = re.compile(r"analysis_batch_stored task_id=(\S+) tenant=\S+ posts=\d+ analysed=(\d+)")


def test_sigkilled_worker_mid_batch_loses_and_duplicates_nothing(
    workers: Any, scale_out_settings: Callable[[], Settings], shared_dir: Path, analyzer: Any, tmp_path: Path
) -> None:
    scenario = shared_dir / "scenarios" / "smoke.jsonl"
    embedded = replay_file(
        scenario,
        Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", data_dir=tmp_path),
        analyzer,
        timer=lambda: 0.0,
    ).report

    workers.environment["SIGNAL_TRIAGE_BROKER_VISIBILITY_TIMEOUT_SECONDS"] = VISIBILITY_SECONDS
    settings = scale_out_settings()
    first = workers.start("doomed")
    outcome: dict[str, Any] = {}

    def run_replay() -> None:
        try:
            outcome["replay"] = replay_on_workers(
                scenario,
                settings,
                create_celery_app(settings),
                analyzer.model_version,
                analysis_batch=BATCH,
                timeout=900,
                timer=lambda: 0.0,
            )
        except Exception as error:  # reported by the assertion below, with the workers' logs
            outcome["error"] = error

    runner = threading.Thread(target=run_replay)
    runner.start()
    offset = 0
    for _ in range(KILL_AT_BATCH):
        offset = first.wait_for("analysis_batch_started", timeout=600, after=offset)
    first.kill()
    killed = _STARTED.findall(first.text())[-1]
    assert killed not in dict(_STORED.findall(first.text())), "the batch finished before the kill; no test"

    second = workers.start("rescuer")
    runner.join(900)
    assert not runner.is_alive(), "the replay did not finish"
    assert "error" not in outcome, f"{outcome.get('error')!r}\n{second.text()[-3000:]}"
    replay: WorkersReplay = outcome["replay"]

    stored_by_first = _STORED.findall(first.text())
    stored_by_second = _STORED.findall(second.text())
    assert killed in dict(stored_by_second), "the killed worker's batch was not run again by the other"
    analysed = sum(int(count) for _, count in stored_by_first + stored_by_second)

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(session_factory(engine)) as session:
            posts = session.scalar(select(func.count()).select_from(PostRow).where(PostRow.tenant == "smoke"))
            analyses = session.scalar(
                select(func.count())
                .select_from(AnalysisRow)
                .join(PostRow, PostRow.id == AnalysisRow.post_id)
                .where(PostRow.tenant == "smoke")
            )
    finally:
        engine.dispose()
    assert posts == embedded["stats"]["posts"] == replay.report["stats"]["posts"]
    assert analyses == posts, "every post has its analysis"
    assert analysed == posts, "no post was analysed and stored twice"
    assert replay.report == embedded
