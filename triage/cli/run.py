"""``triage run``: the embedded scheduler. Pulls the configured sources, analyses and triages
new posts, and delivers the outbox, each on its interval.

This is a runner: it decides when the stages run (``pull_source`` per source,
``analyse_pending``, ``run_triage`` with its persistence, a delivery pass) and
gives them the wall clock; the stages themselves are the ones ``triage sources
pull``, ``triage replay`` and ``triage outbox deliver`` use. One process, one
thread, jobs taking turns, so the embedded SQLite database never sees two
writers from here.

Stopping: Ctrl-C (or SIGTERM) asks the jobs to stop after the batch they are
storing, which is committed with its cursor; a second Ctrl-C interrupts at
once, and the open transaction rolls back. Either way the next start resumes
exactly where the stored cursors say.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session, sessionmaker

from ingest.errors import SourceAuthError, SourceConfigError
from ingest.sources.base import Source, SourceBatch
from triage.cli.sources import pull_summary
from triage.errors import StorageError
from triage.ingestion import PullResult, build_source, pull_source, scheduled_sources, source_kind
from triage.settings import Settings
from triage.sources_settings import sources_settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

if TYPE_CHECKING:
    from classifier.analysis import Analyzer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class AnalysedSince:
    """Posts the analysis job analysed since the last triage pass (the two jobs share it)."""

    posts: int = 0


class StopRequested(Exception):
    """Raised between committed batches once a stop was asked for; ends the schedule cleanly."""


@dataclass
class Job:
    """One thing the scheduler runs every ``interval``.

    ``work`` returns when it wants to run next if that is not up to the
    interval (a rate limit's reset), else None.
    """

    name: str
    interval: timedelta
    work: Callable[[], datetime | None]
    next_at: datetime | None = None


ErrorListener = Callable[[Job, Exception, bool], None]

#: errors retrying cannot fix: the job is dropped from the schedule (the others go on)
_FATAL = (SourceAuthError, SourceConfigError)


def run_schedule(
    jobs: list[Job],
    *,
    clock: Clock,
    wait: Callable[[float], None],
    should_stop: Callable[[], bool],
    on_error: ErrorListener,
    once: bool = False,
) -> None:
    """Run each due job in turn, then wait for the next one to fall due, until told to stop.

    A job failing for a reason a person must fix (a rejected token, a missing
    setting) leaves the schedule; any other failure (a 5xx, a dropped
    connection) is reported and the job tried again after its interval. A
    database that cannot be written (full disk, read-only file) ends the whole
    schedule with ``StorageError``: every job needs it, and looping would only
    hide the problem.
    ``once`` runs every job one time and returns.
    """
    active = list(jobs)
    while active and not should_stop():
        for job in list(active):
            if should_stop():
                return
            if job.next_at is not None and job.next_at > clock():
                continue
            try:
                retry_at = job.work()
            except StopRequested:
                return
            except StorageError:
                raise
            except Exception as error:
                fatal = isinstance(error, _FATAL)
                on_error(job, error, fatal)
                if fatal:
                    active.remove(job)
                retry_at = None
            job.next_at = retry_at + timedelta(seconds=1) if retry_at else clock() + job.interval
        if once or not active:
            return
        soonest = min(job.next_at or clock() for job in active)
        delay = (soonest - clock()).total_seconds()
        if delay > 0 and not should_stop():
            wait(delay)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _stop_on_signals(stop: threading.Event, console: Console) -> Iterator[None]:
    """First Ctrl-C/SIGTERM: stop after the current batch. Second Ctrl-C: interrupt now."""

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("stopping after the current batch (Ctrl-C again to stop at once)")

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: posts the analysis job analyses before it lets the other jobs take a turn (in practice one committed
#: chunk of ``analyse_pending``): under a backlog, one job analysing everything pending held back the
#: triage passes and every delivery until the backlog was gone, which under steady load was never
ANALYSIS_TURN_POSTS = 2000


class _TurnOver(Exception):
    """Raised between committed chunks once the analysis job has had its turn."""


class _StoppableProgress:
    """Analysis progress that counts what was analysed and ends the stage between committed chunks:
    when a stop was asked for, or (with ``turn_posts``) once that many posts were analysed."""

    def __init__(self, stop: threading.Event, turn_posts: int | None = None) -> None:
        self._stop = stop
        self._turn_posts = turn_posts
        self.total = 0
        self.done = 0

    def stage(self, name: str, total: int | None) -> None:
        self.total = total or 0

    def advance(self, amount: int) -> None:
        self.done += amount
        if self._stop.is_set() and self.done < self.total:
            raise StopRequested
        if self._turn_posts is not None and self._turn_posts <= self.done < self.total:
            raise _TurnOver


def run(
    source: list[str] = typer.Option(
        [], "--source", "-s", help="Pull only these (repeatable); default: every configured polled source."
    ),
    interval: float | None = typer.Option(
        None, min=1, help="Seconds between pulls of each source (default: sources.poll_interval_seconds)."
    ),
    analysis: bool = typer.Option(
        True, "--analysis/--no-analysis", help="Analyse new posts with the model, then triage them."
    ),
    analysis_interval: float = typer.Option(30.0, min=1, help="Seconds between analyses of new posts."),
    triage_interval: float = typer.Option(60.0, min=1, help="Seconds between triage passes."),
    delivery: bool = typer.Option(
        True, "--delivery/--no-delivery", help="Deliver the outbox (when escalation targets are configured)."
    ),
    delivery_interval: float = typer.Option(10.0, min=1, help="Seconds between outbox deliveries."),
    once: bool = typer.Option(False, "--once", help="Run every job one time and exit (for cron)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line for each stored batch."),
    batch_lines: int | None = typer.Option(
        None,
        "--batch-lines",
        min=1,
        help="Folder sources: lines of a file stored per transaction (default: "
        "sources.watched_folder_batch_lines, 5000).",
    ),
) -> None:
    """Pull the configured sources, analyse and triage what they bring, and deliver the outbox,
    each on its interval, until Ctrl-C.

    Each source keeps its cursor in the database with every batch, so stopping
    (or a crash) loses nothing and stores nothing twice. A source whose token
    is rejected leaves the schedule with one line saying what to fix; the
    others go on.
    """
    settings = Settings()
    config = sources_settings(settings)
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = session_factory(engine)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    stop = threading.Event()

    def sleep(seconds: float) -> None:
        """Waits that a stop request cuts short."""
        stop.wait(seconds)

    with transaction(sessions) as session:
        names = source or scheduled_sources(session, config.tenant, config)
        kinds = {name: source_kind(session, config.tenant, name) for name in names}
    jobs = [
        pull_job(
            sessions,
            config.tenant,
            name,
            build_source(kinds[name], config, _wall_clock, sleep, batch_lines=batch_lines),
            stop=stop,
            console=console,
            quiet=quiet,
            interval=interval or config.poll_interval_seconds,
        )
        for name in names
    ]
    if analysis:
        from classifier.analysis import load_analyzer

        started = time.perf_counter()
        # at start: a broken artifact or an unusable backend fails before any pull
        analyzer = load_analyzer(settings.model_dir, backend=settings.analysis_backend)
        console.print(f"model {analyzer.model_version} loaded in {time.perf_counter() - started:.1f}s")
        analysed = AnalysedSince()
        jobs += [
            analysis_job(
                sessions,
                config.tenant,
                settings,
                analyzer,
                analysed,
                stop,
                console,
                analysis_interval,
                turn_posts=None if once else ANALYSIS_TURN_POSTS,
            ),
            triage_job(sessions, config.tenant, settings, analyzer, analysed, console, triage_interval),
        ]
    closers: list[Callable[[], None]] = []
    if delivery and settings.escalation.targets:
        job, close = delivery_job(sessions, settings, console, delivery_interval)
        jobs.append(job)
        closers.append(close)
    if not jobs:
        raise SourceConfigError(
            "nothing to run: configure a source (sources.twitter_*, sources.zendesk_*, "
            "sources.watched_folder) or leave analysis on"
        )
    console.print(f"running {', '.join(job.name for job in jobs)}" + ("" if once else " (Ctrl-C to stop)"))

    def on_error(job: Job, error: Exception, fatal: bool) -> None:
        if fatal:
            console.print(f"[red]{escape(job.name)} stopped:[/] {escape(str(error))}")
        else:
            console.print(
                f"[yellow]{escape(job.name)} failed, retrying in {job.interval.total_seconds():.0f}s:[/] "
                f"{escape(type(error).__name__)}: {escape(str(error).splitlines()[0] if str(error) else '')}"
            )
        log.warning("job_failed job=%s fatal=%s error=%s", job.name, fatal, type(error).__name__)

    try:
        with _stop_on_signals(stop, console):
            run_schedule(
                jobs, clock=_wall_clock, wait=sleep, should_stop=stop.is_set, on_error=on_error, once=once
            )
    except KeyboardInterrupt:
        console.print("interrupted; the batch in flight was rolled back and is read again next time")
        raise typer.Exit(130) from None
    finally:
        for close in closers:
            close()
        engine.dispose()
    if stop.is_set():
        console.print("stopped; every stored batch and its cursor are kept")


def pull_job(
    sessions: sessionmaker[Session],
    tenant: str,
    name: str,
    source: Source,
    *,
    stop: threading.Event,
    console: Console,
    quiet: bool,
    interval: float,
) -> Job:
    """Pull ``source`` from its cursor; a stop request ends it after the batch just stored."""

    def on_batch(result: PullResult, batch: SourceBatch) -> None:
        if not quiet:
            console.print(f"  {name}: batch {result.batches}: {len(batch.posts)} post(s)")
        if stop.is_set():
            raise StopRequested

    def work() -> datetime | None:
        result = pull_source(sessions, tenant, name, source, clock=_wall_clock, on_batch=on_batch)
        console.print(pull_summary(result))
        return result.retry_at

    return Job(name=name, interval=timedelta(seconds=interval), work=work)


def analysis_job(
    sessions: sessionmaker[Session],
    tenant: str,
    settings: Settings,
    analyzer: Analyzer,
    analysed: AnalysedSince,
    stop: threading.Event,
    console: Console,
    interval: float,
    turn_posts: int | None = ANALYSIS_TURN_POSTS,
) -> Job:
    """Analyse the posts this model has not seen, in committed chunks (a stop ends it between chunks).

    With a backlog, the job ends after ``turn_posts`` and asks to run again at once, so triage and
    delivery get their turns in between; ``None`` analyses everything pending in one go (``--once``).
    """
    from triage.replay.flow import analyse_pending

    def work() -> datetime | None:
        progress = _StoppableProgress(stop, turn_posts)
        try:
            analyse_pending(sessions, tenant, analyzer, settings, progress)
        except _TurnOver:
            console.print(
                f"analysis: {progress.done} new post(s) analysed, "
                f"{progress.total - progress.done} waiting for the next turn"
            )
            return _wall_clock()
        finally:
            analysed.posts += progress.done
        if progress.total:
            console.print(f"analysis: {progress.done} new post(s) analysed")
        return None

    return Job(name="analysis", interval=timedelta(seconds=interval), work=work)


def triage_job(
    sessions: sessionmaker[Session],
    tenant: str,
    settings: Settings,
    analyzer: Analyzer,
    analysed: AnalysedSince,
    console: Console,
    interval: float,
) -> Job:
    """A triage pass over the tenant's analysed posts and changes, giving what ``triage replay`` would.

    Each pass continues from the last one (``triage.runners.continued_triage``), so its cost follows
    the posts analysed since rather than all stored; it is skipped while nothing was analysed and no
    change, decision or label arrived (through the API) since the last one.
    """
    from triage.runners.continued_triage import ContinuedTriage, run_and_store

    last_inputs: list[tuple[int, ...]] = []
    memory = ContinuedTriage(settings)

    def work() -> None:
        with transaction(sessions) as session:
            inputs = _inputs_from_elsewhere(session, tenant)
        if last_inputs == [inputs] and not analysed.posts:
            return None
        analysed.posts = 0
        result, queued = run_and_store(sessions, tenant, analyzer, memory)
        engine = result.engine
        last_inputs[:] = [inputs]
        console.print(
            f"triage: {engine.posts_seen} post(s), {len(engine.signals)} signal(s), "
            f"{queued} message(s) queued"
        )
        return None

    return Job(name="triage", interval=timedelta(seconds=interval), work=work)


def _inputs_from_elsewhere(session: Session, tenant: str) -> tuple[int, ...]:
    """Count and newest id of the change events, decisions and labels that reach triage from other
    processes (webhooks and the API); any difference means a new triage pass is due."""
    from sqlalchemy import func, select

    from triage.actions.models import ClusterActionRow, PostLabelRow
    from triage.storage.models import ChangeEventRow

    summary: list[int] = []
    for table in (ChangeEventRow, ClusterActionRow, PostLabelRow):
        statement = select(func.count(), func.max(table.id)).where(table.tenant == tenant)
        count, newest = session.execute(statement).one()
        summary += [count or 0, newest or 0]
    return tuple(summary)


def delivery_job(
    sessions: sessionmaker[Session], settings: Settings, console: Console, interval: float
) -> tuple[Job, Callable[[], None]]:
    """One delivery pass of the outbox per interval; returns the job and what closes its targets."""
    from triage.escalation.delivery import DeliveryWorker

    worker = DeliveryWorker(sessions, settings.escalation)

    def work() -> None:
        report = worker.deliver_once()
        if report.attempts:
            console.print(
                f"delivery: {report.delivered} delivered, {report.deferred} to retry, {report.dead} dead"
            )
        return None

    return Job(name="delivery", interval=timedelta(seconds=interval), work=work), worker.close
