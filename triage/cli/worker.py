"""``triage worker``, ``triage beat`` and ``triage replay-workers``: the scale-out runner's processes.

Presentation only: each command builds ``Settings``, the Celery app from
``triage/runners/celery_app.py`` and hands over to Celery. The same image and
configuration as ``triage run``; only ``SIGNAL_TRIAGE_DATABASE_URL`` (PostgreSQL)
and ``SIGNAL_TRIAGE_BROKER_URL`` (Redis) are added.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer
from rich.console import Console

from triage.runners.celery_app import ANALYSIS, QUEUES, TRIAGE, RetryPolicy, create_celery_app
from triage.runners.schedule import Intervals, beat_schedule
from triage.runners.startup import migrate_serialised
from triage.runners.tasks import DEFAULT_ANALYSIS_BATCH
from triage.settings import Settings
from triage.storage.database import create_db_engine


def _queues(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if not names or unknown:
        raise typer.BadParameter(f"queues are a comma-separated subset of {','.join(QUEUES)}; got {value!r}")
    return names


def _prepare(settings: Settings) -> None:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        migrate_serialised(engine)
    finally:
        engine.dispose()


def worker(
    queues: str = typer.Option(
        ",".join(QUEUES), "--queues", "-Q", help="Queues to consume, comma-separated: " + ",".join(QUEUES)
    ),
    concurrency: int = typer.Option(
        1, "--concurrency", "-c", min=1, help="Task processes (prefork) of this worker; each loads the model."
    ),
    pool: str = typer.Option(
        "prefork",
        "--pool",
        help="prefork (a killed child hands its task back at once) or solo (runs tasks in this process).",
    ),
    name: str | None = typer.Option(None, "--name", "-n", help="Worker node name (default: celery@HOST)."),
    max_retries: int = typer.Option(3, min=0, help="Retries of a failing task before its dead letter."),
    retry_backoff: float = typer.Option(
        2.0, min=0.0, help="Seconds before the first retry; doubles with each."
    ),
    loglevel: str = typer.Option("info", help="Log level of the worker."),
) -> None:
    """Run a Celery worker of the scale-out runner (needs SIGNAL_TRIAGE_BROKER_URL).

    Start as many as the load needs, on as many machines: ingest, analysis and
    delivery scale by adding workers; the triage tick runs one at a time per
    tenant whatever the number of workers (an advisory lock).
    """
    names = _queues(queues)
    if pool not in ("prefork", "solo"):
        raise typer.BadParameter("--pool is prefork or solo")
    settings = Settings()
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_celery_app(
        settings,
        RetryPolicy(max_retries=max_retries, backoff_seconds=retry_backoff),
        preload_model=ANALYSIS in names or TRIAGE in names,
    )
    _prepare(settings)
    argv = [
        "worker",
        f"--queues={','.join(names)}",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel.upper()}",
        "--without-gossip",
        "--without-mingle",
    ]
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv)


def beat(
    pull_interval: float | None = typer.Option(
        None, min=1, help="Seconds between pulls of each source (default: sources.poll_interval_seconds)."
    ),
    analysis_interval: float = typer.Option(30.0, min=1, help="Seconds between analysis dispatches."),
    triage_interval: float = typer.Option(60.0, min=1, help="Seconds between triage ticks."),
    delivery_interval: float = typer.Option(10.0, min=1, help="Seconds between outbox deliveries."),
    analysis_batch: int = typer.Option(DEFAULT_ANALYSIS_BATCH, min=1, help="Posts per analysis batch."),
    schedule_file: Path | None = typer.Option(
        None, help="Where beat keeps its last-run times (default: DATA_DIR/celerybeat-schedule)."
    ),
    loglevel: str = typer.Option("info", help="Log level of beat."),
) -> None:
    """Send the scale-out runner's scheduled work: the same jobs, on the same intervals, as ``triage run``.

    Run exactly one beat per deployment: two would send every job twice
    (harmless, as tasks are idempotent and the tick is locked, but wasted).
    """
    from triage.ingestion import scheduled_sources
    from triage.sources_settings import sources_settings
    from triage.storage.database import session_factory, transaction

    settings = Settings()
    config = sources_settings(settings)
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_celery_app(settings)
    _prepare(settings)
    engine = create_db_engine(settings.resolved_database_url)
    with transaction(session_factory(engine)) as session:
        sources = scheduled_sources(session, config.tenant, config)
    engine.dispose()
    app.conf.beat_schedule = beat_schedule(
        config.tenant,
        sources,
        Intervals(
            pull=pull_interval or config.poll_interval_seconds,
            analysis=analysis_interval,
            triage=triage_interval,
            delivery=delivery_interval,
        ),
        delivery=bool(settings.escalation.targets),
        analysis_batch=analysis_batch,
    )
    schedule = schedule_file or settings.data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    Console(stderr=True).print(f"beat: {', '.join(app.conf.beat_schedule)} (Ctrl-C to stop)")
    app.Beat(schedule=str(schedule), loglevel=loglevel.upper()).run()


def replay_workers(
    scenario: Path = typer.Argument(
        ..., help="Replay file in the scenario contract.", exists=True, dir_okay=False, readable=True
    ),
    report: Path = typer.Option(..., "--report", "-r", help="Where to write the replay report (JSON)."),
    tenant: str | None = typer.Option(None, help="Tenant to store under; default: the file's name."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip malformed lines instead of failing."
    ),
    no_timing: bool = typer.Option(False, "--no-timing", help="Write stats.seconds as 0."),
    analysis_batch: int = typer.Option(DEFAULT_ANALYSIS_BATCH, min=1, help="Posts per analysis batch."),
    timeout: float = typer.Option(3600.0, min=1, help="Give up after this many seconds."),
) -> None:
    """``triage replay`` through the running workers: the same report, computed by the scale-out runner.

    Needs SIGNAL_TRIAGE_BROKER_URL, a database the workers share (PostgreSQL),
    and workers that see SCENARIO at the same path.
    """
    from classifier.artifact import default_artifact_dir, load_artifact
    from triage.replay.report import write_report
    from triage.runners.replay import replay_on_workers

    settings = Settings()
    app = create_celery_app(settings)
    version = load_artifact(settings.model_dir or default_artifact_dir()).version
    result = replay_on_workers(
        scenario,
        settings,
        app,
        version,
        tenant=tenant,
        skip_invalid=skip_invalid,
        analysis_batch=analysis_batch,
        timeout=timeout,
        timer=(lambda: 0.0) if no_timing else time.perf_counter,
    )
    write_report(result.report, report)
    stats = result.report["stats"]
    Console(stderr=True).print(
        f"replayed {stats['posts']} posts on the workers in {stats['seconds']:.1f} s "
        f"({result.analysis_batches} analysis batch(es)); report: {report}"
    )
