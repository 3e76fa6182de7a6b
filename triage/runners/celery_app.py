"""The Celery application of the scale-out runner: broker, queues and delivery guarantees.

Guarantees, and the settings that give them:

- a task's message is acknowledged only after the task returned
  (``task_acks_late``), and a worker process that dies mid-task hands its
  message back (``task_reject_on_worker_lost``); with the Redis broker a
  whole worker killed with SIGKILL has its unacknowledged messages restored
  after ``broker_visibility_timeout_seconds``. Every task is idempotent, so
  running a message twice stores nothing twice.
- a worker reserves one message at a time (``worker_prefetch_multiplier=1``),
  so a slow analysis batch never holds others hostage and killing a worker
  puts back at most the message it was running.
- failures are retried a bounded number of times with exponential backoff,
  then written to ``dead_letters`` (``triage/runners/tasks.py``).

There is no module-level app: ``triage worker`` and ``triage beat`` build one
from the ``Settings`` they were given, as every other command does.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from kombu import Queue

from triage.errors import ConfigurationError
from triage.settings import Settings

INGEST, ANALYSIS, TRIAGE, DELIVERY = "ingest", "analysis", "triage", "delivery"
QUEUES = (INGEST, ANALYSIS, TRIAGE, DELIVERY)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_retries`` more tries, the n-th after about ``backoff_seconds * 2**n``."""

    max_retries: int = 3
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0


def create_celery_app(
    settings: Settings, retry: RetryPolicy | None = None, *, preload_model: bool = False
) -> Celery:
    """The scale-out app for ``settings``, with every task registered.

    ``preload_model``: a worker process loads the classifier when it starts, before it takes a
    task, so its first batch is not slowed by the load (and a broken artifact shows at start).

    Raises ``ConfigurationError`` when no broker is configured.
    """
    from triage.runners.context import WorkerContext
    from triage.runners.tasks import register_tasks

    if not settings.broker_url:
        raise ConfigurationError(
            "the scale-out runner needs a broker: set SIGNAL_TRIAGE_BROKER_URL, e.g. redis://127.0.0.1:6379/0"
        )
    app = Celery("signal_triage", set_as_current=False)
    visibility = settings.broker_visibility_timeout_seconds
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.broker_url,
        result_expires=24 * 3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue=TRIAGE,
        task_routes={
            "triage.ingest.*": {"queue": INGEST},
            "triage.analysis.*": {"queue": ANALYSIS},
            "triage.tick": {"queue": TRIAGE},
            "triage.delivery.*": {"queue": DELIVERY},
        },
        broker_transport_options={
            "visibility_timeout": visibility,
            # sweep for messages of dead workers often enough that the timeout is what decides
            "unacked_restore_interval": max(1, min(10, visibility // 4)),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    register_tasks(app, WorkerContext(settings), retry or RetryPolicy(), preload_model=preload_model)
    return app
