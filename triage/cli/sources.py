"""``triage sources``: list, add, test, pull and backfill the live sources.

This is a runner: it supplies the wall clock and a real sleeper to the pull
stage, which itself never reads either. Progress goes to stderr, one line per
stored batch, plus the rate-limit state after each pull.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import requests
import tweepy
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session, sessionmaker
from zenpy.lib.exception import APIException, ZenpyException

from ingest.errors import IngestError
from ingest.sources.base import Source, SourceBatch
from triage.ingestion import (
    SOURCE_NAMES,
    BatchListener,
    PullResult,
    add_source,
    backfill_source,
    build_source,
    list_sources,
    pull_loop,
    pull_source,
    source_kind,
)
from triage.settings import Settings
from triage.sources_settings import SourcesSettings, sources_settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

sources_app = typer.Typer(
    help="Live sources (X, Zendesk, a watched folder): pull them into the database, resumably.",
    no_args_is_help=True,
)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _sessions(settings: Settings) -> sessionmaker[Session]:
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


def pull_summary(result: PullResult) -> str:
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


def _parse_since(value: str) -> datetime:
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO time like 2026-03-01T09:00Z", param_hint="--since"
        ) from None
    return since if since.tzinfo is not None else since.replace(tzinfo=UTC)


def _open_source(
    sessions: sessionmaker[Session], config: SourcesSettings, name: str, batch_lines: int | None = None
) -> Source:
    """The source ``name`` stands for: a built-in name, or one recorded with ``add``."""
    with transaction(sessions) as session:
        kind = source_kind(session, config.tenant, name)
    return build_source(kind, config, _wall_clock, time.sleep, batch_lines=batch_lines)


def _batch_printer(console: Console, name: str, quiet: bool) -> BatchListener:
    def on_batch(result: PullResult, batch: SourceBatch) -> None:
        if not quiet:
            console.print(
                f"  {name}: batch {result.batches}: {len(batch.posts)} post(s), "
                f"{len(batch.changes)} change(s), cursor {batch.cursor}"
            )

    return on_batch


_BATCH_LINES = typer.Option(
    None,
    "--batch-lines",
    min=1,
    help="Folder source: lines of a file stored per transaction "
    "(default: sources.watched_folder_batch_lines).",
)


@sources_app.command("pull")
def pull(
    name: str = typer.Argument(..., help=f"Which source: {', '.join(SOURCE_NAMES)}, or one added."),
    loop: bool = typer.Option(False, "--loop", help="Keep pulling; wait between pulls and out rate limits."),
    interval: float | None = typer.Option(
        None, help="Seconds between pulls with --loop (default: settings)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary of each pull."),
    batch_lines: int | None = _BATCH_LINES,
) -> None:
    """Pull NAME from where it last stopped; with --loop, keep going until Ctrl-C.

    Each batch and the cursor after it are stored together, so stopping at any
    moment (or a crash) loses nothing and stores nothing twice on the next run.
    A rejected token stops the loop at once with one line saying what to fix.
    """
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    source = _open_source(sessions, config, name, batch_lines)
    console = Console(stderr=True, highlight=False)
    on_batch = _batch_printer(console, name, quiet)

    def on_result(result: PullResult) -> None:
        console.print(pull_summary(result))

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


@sources_app.command("backfill")
def backfill(
    name: str = typer.Argument(..., help="Which source (built-in or added)."),
    since: str = typer.Option(..., "--since", help="Read again from this ISO time (UTC if no offset)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary."),
    batch_lines: int | None = _BATCH_LINES,
) -> None:
    """Read NAME again from --since, through the same pull: what is stored already is stored once.

    X recent search reaches back 7 days; Zendesk's export any time; the folder
    source re-reads the files modified since then. A backfill cut short is
    finished by the next `triage sources pull NAME`.
    """
    start = _parse_since(since)
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    source = _open_source(sessions, config, name, batch_lines)
    console = Console(stderr=True, highlight=False)
    result = backfill_source(
        sessions,
        config.tenant,
        name,
        source,
        start,
        clock=_wall_clock,
        on_batch=_batch_printer(console, name, quiet),
    )
    console.print(pull_summary(result))


#: what reaching a source can fail with besides our own errors: the network, or the API answering 5xx
_UNREACHABLE = (requests.RequestException, tweepy.TweepyException, APIException, ZenpyException)


@sources_app.command("test")
def test_source(name: str = typer.Argument(..., help="Which source (built-in or added).")) -> None:
    """Reach NAME once with its configured credentials; one line says whether it works.

    Stores nothing and moves no cursor. Exits 1 when the source cannot be read.
    """
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    console = Console(highlight=False, soft_wrap=True)
    try:
        message = _open_source(sessions, config, name).check()
    except IngestError as error:
        console.print(f"[red]FAIL[/] {escape(name)}: {escape(str(error))}")
        raise typer.Exit(1) from None
    except _UNREACHABLE as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        console.print(
            f"[red]FAIL[/] {escape(name)}: cannot reach the API ({type(error).__name__}: {escape(reason)})"
        )
        raise typer.Exit(1) from None
    console.print(f"[green]OK[/] {escape(name)}: {escape(message)}")


@sources_app.command("add")
def add(
    name: str = typer.Argument(..., help="A name for the source, e.g. support-drop."),
    kind: str = typer.Option(..., "--kind", help=f"What it reads: {', '.join(SOURCE_NAMES)}."),
) -> None:
    """Record source NAME of --kind; it reads with that kind's settings and keeps its own cursor."""
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    with transaction(sessions) as session:
        added = add_source(session, config.tenant, name, kind, _wall_clock())
    console = Console(highlight=False, soft_wrap=True)
    if added:
        console.print(f"added {name} ({kind}); pull it with `triage sources pull {name}`")
    else:
        console.print(f"{name} ({kind}) was already there")


@sources_app.command("list")
def list_command() -> None:
    """Every source: what it reads, where it stopped, and its last error.

    Plain lines rather than a table: cursors are long and are meant to be copied whole.
    """
    settings = Settings()
    config = sources_settings(settings)
    sessions = _sessions(settings)
    with transaction(sessions) as session:
        states = list_sources(session, config.tenant)
    console = Console(highlight=False, soft_wrap=True)
    for state in states:
        console.print(f"[bold]{state.name}[/] ({state.kind}): {state.description}")
        if state.updated_at is None and not state.cursor:
            console.print("  never pulled")
        else:
            when = f" (stored {state.updated_at:%Y-%m-%d %H:%M:%S})" if state.updated_at else ""
            console.print(f"  cursor{when}: {state.cursor}", markup=False)
        if state.last_error:
            console.print(f"  last error: {state.last_error}", markup=False)
