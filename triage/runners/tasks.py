"""The scale-out runner's tasks: each one calls a stage function, nothing more.

| task | queue | stage it runs |
|---|---|---|
| ``triage.ingest.pull`` | ingest | ``pull_source`` for one configured source |
| ``triage.ingest.replay_file`` | ingest | ``pull_source`` over a scenario file |
| ``triage.analysis.dispatch`` | analysis | finds pending posts, sends them out in leased batches |
| ``triage.analysis.batch`` | analysis | analyses one batch (encoder and heads), stores it |
| ``triage.tick`` | triage | ``run_triage`` + ``replace_triage_state`` + ``enqueue_signal_messages`` |
| ``triage.delivery.deliver`` | delivery | ``DeliveryWorker.deliver_once`` |

Tasks take names and ids (JSON), never live objects, and are idempotent, so a
message run twice after a worker died stores nothing twice. Any failure is
retried with exponential backoff up to the retry policy's bound; errors no
retry can fix (a bad setting, a rejected token, a malformed message) are not
retried. Either way the task then lands in ``dead_letters`` with its error,
and its message is acknowledged instead of circling the queue forever.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.signals import worker_init, worker_process_init
from pydantic import ValidationError

from ingest.errors import InvalidRecordError, SourceAuthError, SourceConfigError
from triage.errors import ConfigurationError
from triage.runners.analysis_batches import (
    analyse_batch,
    offer_again_later,
    pending_batches,
    release_leases,
)
from triage.runners.celery_app import RetryPolicy
from triage.runners.context import WorkerContext
from triage.runners.dead_letters import DeadLetter, record_dead_letter
from triage.runners.tick import triage_tick
from triage.storage.database import transaction

log = logging.getLogger(__name__)

#: failures a retry cannot fix: straight to the dead letters
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    SourceAuthError,
    SourceConfigError,
    ConfigurationError,
    InvalidRecordError,
    ValidationError,
    TypeError,
)

#: posts per analysis batch: large enough that the encoder's length-sorted batches stay full, small
#: enough that adding workers shares a backlog and a killed worker redoes little
DEFAULT_ANALYSIS_BATCH = 512


class PoisonMessageError(ValueError):
    """A message whose arguments can never work (wrong types); dead-lettered without retrying."""


class StageTask(Task):  # type: ignore[misc]
    """A task that writes itself to the dead letters when it fails for good."""

    context: WorkerContext

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any
    ) -> None:
        delivery = self.request.delivery_info or {}
        letter = DeadLetter(
            task_id=task_id,
            task_name=self.name,
            queue=delivery.get("routing_key"),
            tenant=kwargs.get("tenant") if isinstance(kwargs.get("tenant"), str) else None,
            arguments={"args": list(args), "kwargs": kwargs},
            attempts=int(self.request.retries or 0) + 1,
            error_type=type(exc).__name__,
            error=str(exc) or repr(exc),
            failed_at=datetime.now(UTC),
        )
        try:
            with transaction(self.context.sessions) as session:
                record_dead_letter(session, letter)
        except Exception:  # the broker still gets its acknowledgement; the log keeps the letter
            log.exception("dead_letter_not_stored task=%s task_id=%s", self.name, task_id)
            return
        log.error(
            "task_dead_lettered task=%s task_id=%s attempts=%d error=%s",
            self.name,
            task_id,
            letter.attempts,
            letter.error_type,
        )


def _post_ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(item, int) for item in value):
        raise PoisonMessageError(f"post_ids must be a list of integers, got {value!r:.200}")
    return value


def _is_solo(pool: Any) -> bool:
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return "solo" in str(name)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def register_tasks(
    app: Celery, context: WorkerContext, retry: RetryPolicy, *, preload_model: bool = False
) -> None:
    """Register every task on ``app``, bound to this process's ``context`` and ``retry`` policy.

    With ``preload_model`` the model is loaded where tasks run: in each prefork child after the
    fork (torch must not be initialised in a parent that forks), or in a solo worker's own process.
    """
    options: dict[str, Any] = {
        "base": StageTask,
        "bind": True,
        # this app's own tasks, bound to this context: not shared with other apps in the process
        "shared": False,
        "context": context,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": (Exception,),
        "dont_autoretry_for": (*PERMANENT_ERRORS, PoisonMessageError),
        "max_retries": retry.max_retries,
        "retry_backoff": retry.backoff_seconds,
        "retry_backoff_max": retry.backoff_max_seconds,
        "retry_jitter": False,
    }

    @worker_process_init.connect(weak=False)
    def _forked(**_: Any) -> None:
        context.after_fork()
        if preload_model:
            context.analyzer()

    @worker_init.connect(weak=False)
    def _starting(sender: Any = None, **_: Any) -> None:
        if preload_model and getattr(sender, "pool_cls", None) is not None and _is_solo(sender.pool_cls):
            context.analyzer()

    @app.task(name="triage.ingest.pull", **options)
    def ingest_pull(self: StageTask, tenant: str, source: str) -> dict[str, Any]:
        from triage.ingestion import build_source, pull_source, source_kind
        from triage.sources_settings import sources_settings

        with transaction(context.sessions) as session:
            kind = source_kind(session, tenant, source)
        built = build_source(kind, sources_settings(context.settings), _wall_clock, time.sleep)
        result = pull_source(context.sessions, tenant, source, built, clock=_wall_clock)
        return {
            "source": source,
            "batches": result.batches,
            "posts_new": result.posts_new,
            "posts_seen_before": result.posts_seen_before,
            "changes": result.changes,
            "retry_at": result.retry_at.isoformat() if result.retry_at else None,
        }

    @app.task(name="triage.ingest.replay_file", **options)
    def ingest_replay_file(
        self: StageTask, tenant: str, path: str, skip_invalid: bool = False
    ) -> dict[str, Any]:
        from ingest.sources.replay_file import ReplayFileSource
        from triage.ingestion import pull_source
        from triage.storage.intake import load_cursor, save_cursor

        file = Path(path)
        name = f"replay:{file.name}"
        source = ReplayFileSource(file, skip_invalid=skip_invalid)
        with transaction(context.sessions) as session:
            # as `triage replay`: a finished file is read again from the top (storing nothing twice)
            if load_cursor(session, tenant, name).get("complete"):
                save_cursor(session, tenant, name, source.kind, {"line": 0}, None)
        result = pull_source(context.sessions, tenant, name, source, clock=_wall_clock)
        with transaction(context.sessions) as session:
            save_cursor(session, tenant, name, source.kind, {"line": 0, "complete": True}, None)
        return {
            "source": name,
            "batches": result.batches,
            "posts_new": result.posts_new,
            "posts_seen_before": result.posts_seen_before,
            "changes": result.changes,
            "skipped": result.skipped,
        }

    def _offer_again_later(tenant: str, ids: list[int]) -> None:
        seconds = context.settings.analysis_retry_after_failure_seconds
        try:
            offer_again_later(context.redis, tenant, ids, seconds)
        except Exception:  # the broker is down too: the leases run their full course
            log.exception("analysis_leases_not_shortened tenant=%s posts=%d", tenant, len(ids))
            return
        log.warning(
            "analysis_batch_failed tenant=%s posts=%d offered_again_in_s=%d", tenant, len(ids), seconds
        )

    @app.task(name="triage.analysis.batch", **options)
    def analysis_batch(self: StageTask, tenant: str, post_ids: list[int]) -> dict[str, int]:
        ids = _post_ids(post_ids)
        analyzer = context.analyzer()
        log.info("analysis_batch_started task_id=%s tenant=%s posts=%d", self.request.id, tenant, len(ids))
        try:
            analysed = analyse_batch(context.sessions, ids, analyzer, context.settings)
        except Exception as error:
            if isinstance(error, PERMANENT_ERRORS) or self.request.retries >= self.max_retries:
                _offer_again_later(tenant, ids)
            raise
        release_leases(context.redis, tenant, ids)
        log.info(
            "analysis_batch_stored task_id=%s tenant=%s posts=%d analysed=%d",
            self.request.id,
            tenant,
            len(ids),
            analysed,
        )
        return {"posts": len(ids), "analysed": analysed}

    @app.task(name="triage.analysis.dispatch", **options)
    def analysis_dispatch(
        self: StageTask, tenant: str, batch_size: int = DEFAULT_ANALYSIS_BATCH
    ) -> dict[str, Any]:
        analyzer = context.analyzer()
        batches = pending_batches(
            context.sessions, context.redis, tenant, analyzer.model_version, batch_size, owner=self.request.id
        )
        sent = [
            analysis_batch.apply_async(kwargs={"tenant": tenant, "post_ids": batch}).id for batch in batches
        ]
        log.info("analysis_dispatched tenant=%s batches=%d", tenant, len(sent))
        return {"batches": sent, "posts": sum(len(batch) for batch in batches)}

    @app.task(name="triage.tick", **options)
    def tick(self: StageTask, tenant: str, report: bool = False) -> dict[str, Any]:
        outcome = triage_tick(
            context.engine,
            context.sessions,
            tenant,
            context.analyzer(),
            context.continued_triage,
            with_report=report,
        )
        return outcome.as_dict()

    @app.task(name="triage.delivery.deliver", **options)
    def deliver(self: StageTask) -> dict[str, int]:
        delivered = context.delivery.deliver_once()
        return {
            "attempts": delivered.attempts,
            "delivered": delivered.delivered,
            "deferred": delivered.deferred,
            "dead": delivered.dead,
        }
