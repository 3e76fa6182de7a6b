"""Replaying a scenario file through the Celery workers instead of in-process.

The steps are those of ``replay_file`` — store, analyse, triage, persist,
report — but each runs as a task on its queue, so the result shows that the
scale-out runner and the embedded one compute the same thing: with
``stats.seconds`` zeroed the two reports are equal. The workers must see the
file at the same path (a shared volume in ``compose.yaml``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from sqlalchemy.exc import OperationalError

from triage.errors import StorageError, TriageError
from triage.replay.flow import tenant_for
from triage.runners.tasks import DEFAULT_ANALYSIS_BATCH
from triage.settings import Settings
from triage.storage.analyses import posts_to_analyse
from triage.storage.database import create_db_engine, migrate, session_factory, transaction


class WorkersReplayError(TriageError):
    """A replay task failed for good (it is in dead_letters) or the workers did not finish in time."""


@dataclass
class WorkersReplay:
    report: dict[str, Any]
    tenant: str
    database_url: str
    skipped: int = 0
    #: seconds per stage as the runner saw them (queueing included)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    analysis_batches: int = 0
    #: the tick's own duration in the worker (the rest of "triage and persist" is queueing and transfer)
    tick_seconds: float = 0.0


def replay_on_workers(
    path: Path,
    settings: Settings,
    app: Celery,
    model_version: str,
    *,
    tenant: str | None = None,
    skip_invalid: bool = False,
    analysis_batch: int = DEFAULT_ANALYSIS_BATCH,
    timeout: float = 3600.0,
    redispatch_after: float = 30.0,
    timer: Callable[[], float] = time.perf_counter,
) -> WorkersReplay:
    """Send ``path`` through the ingest, analysis and triage queues and wait for the report.

    ``model_version`` is the version the workers analyse with; the runner waits
    until no post of the tenant lacks an analysis by it, so posts that batches
    of an earlier dispatch (a beat-scheduled one) hold are waited for too.
    """
    tenant = tenant or tenant_for(path)
    deadline = time.monotonic() + timeout
    db_engine = create_db_engine(settings.resolved_database_url)
    migrate(db_engine)
    sessions = session_factory(db_engine)
    started = timer()
    try:
        stored = _wait(
            app.send_task(
                "triage.ingest.replay_file",
                kwargs={"tenant": tenant, "path": str(path.resolve()), "skip_invalid": skip_invalid},
            ),
            deadline,
        )
        stages = {"read and store": timer() - started}
        mark = timer()
        dispatch = _wait(
            app.send_task(
                "triage.analysis.dispatch", kwargs={"tenant": tenant, "batch_size": analysis_batch}
            ),
            deadline,
        )
        batches = [app.AsyncResult(task_id) for task_id in dispatch["batches"]]
        # wait on the database, not on the batches' results: a broker that restarted lost the queued
        # batches (and their leases), so when nothing moves for a while the posts are dispatched again
        # (leases keep a re-dispatch from sending what is still queued); a database that is down
        # for a while is waited out like the workers wait it out, by trying again
        left, moved = -1, time.monotonic()
        while True:
            try:
                with transaction(sessions) as session:
                    now_left = len(posts_to_analyse(session, tenant, model_version))
            except (OperationalError, StorageError):
                now_left = left
            if now_left == 0:
                break
            _raise_if_failed(batches)
            if now_left != left:
                left, moved = now_left, time.monotonic()
            elif time.monotonic() - moved > redispatch_after:
                moved = time.monotonic()
                try:
                    again = _wait(
                        app.send_task(
                            "triage.analysis.dispatch",
                            kwargs={"tenant": tenant, "batch_size": analysis_batch},
                        ),
                        min(deadline, time.monotonic() + redispatch_after),
                    )
                    batches.extend(app.AsyncResult(task_id) for task_id in again["batches"])
                except WorkersReplayError:
                    pass  # broker or database still down: try again after the next quiet spell
            if time.monotonic() > deadline:
                raise WorkersReplayError(f"{left} post(s) still unanalysed when the replay timed out")
            time.sleep(0.5)
        stages["analyse"] = timer() - mark
        mark = timer()
        while True:
            tick = _wait(app.send_task("triage.tick", kwargs={"tenant": tenant, "report": True}), deadline)
            if tick["status"] == "ran":
                break
            time.sleep(0.5)  # a scheduled tick holds the lock; ours must see everything, so it runs after
        stages["triage and persist"] = timer() - mark
    finally:
        db_engine.dispose()
    report = tick["report"]
    report["stats"]["seconds"] = round(timer() - started, 3)
    return WorkersReplay(
        report,
        tenant,
        settings.resolved_database_url,
        int(stored.get("skipped", 0)),
        stages,
        len(dispatch["batches"]),
        float(tick["seconds"]),
    )


def _raise_if_failed(batches: list[Any]) -> None:
    """A batch that failed for good (dead-lettered) will not be analysed by waiting longer."""
    for result in batches:
        try:
            failed = result.failed()
        except Exception:  # the result backend (the broker) is unreachable: nothing known yet
            return
        if failed:
            _wait(result, time.monotonic() + 1.0)


def _wait(result: Any, deadline: float) -> Any:
    try:
        return result.get(timeout=max(deadline - time.monotonic(), 1.0), propagate=True)
    except TriageError:
        raise
    except Exception as error:
        raise WorkersReplayError(
            f"task {result.id} failed ({type(error).__name__}: {error}); "
            "see `dead_letters` and the worker log"
        ) from error
