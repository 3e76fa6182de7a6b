"""``triage labels export``: people's reviews as a Parquet/CSV dataset with its data card.

Presentation only: rows come from :func:`triage.actions.export.export_rows`, the same function behind
``GET /v1/labels/export``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from triage.actions.export import ExportFilter, card_markdown, data_card, export_rows, write_export
from triage.errors import ConfigurationError
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

labels_app = typer.Typer(
    help="People's labels (post relabels, confirmed and dismissed clusters) for retraining.",
    no_args_is_help=True,
)


@labels_app.callback()
def labels_group() -> None:
    """People's labels (keeps `export` a subcommand while it is the only one)."""


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 date or time; without an offset it is UTC, like every stored time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"{option} {value!r} is not an ISO 8601 date or time (e.g. 2026-03-01 or 2026-03-01T10:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _format_for(out: Path, given: str | None) -> str:
    chosen = given or {".parquet": "parquet", ".csv": "csv"}.get(out.suffix)
    if chosen not in ("parquet", "csv"):
        raise ConfigurationError(
            f"cannot tell the format of {out}; name it .parquet or .csv, or pass --format parquet|csv"
        )
    return chosen


@labels_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .parquet or .csv.")],
    tenant: Annotated[str, typer.Option(help="Tenant whose reviews to export.")] = "default",
    format: Annotated[
        str | None, typer.Option("--format", help="parquet or csv; default from the file name.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only posts created at or after this time (ISO 8601, UTC if bare).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only posts created before this time.")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only posts from this source (repeatable).")
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every decision given, not only each post's latest label.")
    ] = False,
) -> None:
    """Write reviewed labels with post text, source, time, who labelled and when, plus a data card."""
    chosen = _format_for(out, format)
    filters = ExportFilter(
        parse_time(since, "--since"), parse_time(until, "--until"), tuple(source or ()), history
    )
    engine = create_db_engine(Settings().resolved_database_url)
    migrate(engine)
    try:
        with transaction(session_factory(engine)) as session:
            rows = export_rows(session, tenant, filters)
    finally:
        engine.dispose()
    card = data_card(rows, tenant, filters, datetime.now(UTC))
    card_json, card_md = write_export(rows, out, chosen, card)
    typer.echo(card_markdown(card))
    Console(stderr=True).print(f"wrote {out} ({len(rows)} rows), data card {card_md} and {card_json}")
