"""``triage sources``: pull a live source into the database, once or on a loop.

This is a runner: it supplies the wall clock and a real sleeper to the pull
stage, which itself never reads either. Progress goes to stderr, one line per
stored batch, plus the rate-limit state after each pull.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from ingest.sources.base import SourceBatch
from triage.ingestion import SOURCE_NAMES, PullResult, build_source, pull_loop, pull_source
from triage.settings import Settings
from triage.sources_settings import sources_settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.intake import load_cursor

sources_app = typer.Typer(
    help="Live sources (X, Zendesk, a watched folder): pull them into the database, resumably.",
    no_args_is_help=True,
)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    return session_factory(engine)


def _describe_rate_limit(result: PullResult) -> str:
    parts = []
    status = result.rate_limit
    if status is not None and status.remaining is not None:
        parts.append(f"{status.remaining}/{status.limit if status.limit is not None else '?'} requests left")
        if status.reset_at is not None:
            parts.append(f"window resets {status.reset_at:%H:%M:%S}Z")
    if result.retry_at is not None:
        parts.append(f"rate limited ({result.retry_reason}) until {result.retry_at:%H:%M:%S}Z")
    return ", ".join(parts)


def _summary(result: PullResult) -> str:
    line = (
        f"{result.name}: {result.batches} batch(es), {result.posts_new} new post(s), "
        f"{result.posts_seen_before} already stored"
    )
    if result.posts_updated or result.posts_deleted:
        line += f", {result.posts_updated} updated, {result.posts_deleted} deleted"
    if result.changes:
        line += f", {result.changes} change(s)"
    if result.skipped:
        line += f", {result.skipped} invalid record(s) skipped"
    rate = _describe_rate_limit(result)
    return f"{line}; {rate}" if rate else line


@sources_app.command("pull")
def pull(
    name: str = typer.Argument(..., help=f"Which source: {', '.join(SOURCE_NAMES)}."),
    loop: bool = typer.Option(False, "--loop", help="Keep pulling; wait between pulls and out rate limits."),
    interval: float | None = typer.Option(
        None, help="Seconds between pulls with --loop (default: settings)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary of each pull."),
) -> None:
    """Pull NAME from where it last stopped; with --loop, keep going until Ctrl-C.

    Each batch and the cursor after it are stored together, so stopping at any
    moment (or a crash) loses nothing and stores nothing twice on the next run.
    A rejected token stops the loop at once with one line saying what to fix.
    """
    settings = Settings()
    config = sources_settings(settings)
    source = build_source(name, config, _wall_clock, time.sleep)
    sessions = _sessions(settings)
    console = Console(stderr=True, highlight=False)

    def on_batch(result: PullResult, batch: SourceBatch) -> None:
        if not quiet:
            console.print(
                f"  {name}: batch {result.batches}: {len(batch.posts)} post(s), "
                f"{len(batch.changes)} change(s), cursor {batch.cursor}"
            )

    def on_result(result: PullResult) -> None:
        console.print(_summary(result))

    if not loop:
        result = pull_source(sessions, config.tenant, name, source, clock=_wall_clock, on_batch=on_batch)
        on_result(result)
        return

    def sleep_with_notice(seconds: float) -> None:
        console.print(f"  next pull in {seconds:.0f}s (Ctrl-C to stop)")
        time.sleep(seconds)

    pull_loop(
        sessions,
        config.tenant,
        name,
        source,
        clock=_wall_clock,
        sleeper=sleep_with_notice,
        interval=timedelta(seconds=interval if interval is not None else config.poll_interval_seconds),
        should_stop=lambda: False,
        on_result=on_result,
        on_batch=on_batch,
    )


@sources_app.command("list")
def list_sources() -> None:
    """The source names, what each reads, and where each stopped."""
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    table = Table("name", "reads", "cursor")
    with transaction(sessions) as session:
        for name, description in SOURCE_NAMES.items():
            cursor = load_cursor(session, config.tenant, name)
            table.add_row(name, description, str(cursor) if cursor else "(never pulled)")
    Console().print(table)
