"""``triage outbox``: see what is waiting or dead, retry it, purge it, deliver it now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from triage.errors import ConfigurationError
from triage.escalation.delivery import DeliveryReport, DeliveryWorker
from triage.escalation.models import FINAL_STATUSES, OPEN_STATUSES
from triage.escalation.outbox import count_by_status, list_messages, purge_messages, retry_messages
from triage.escalation.settings import EscalationSettings
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

outbox_app = typer.Typer(
    help="The escalation outbox: messages to PagerDuty, webhooks, Slack and Zendesk, and their dead letters.",
    no_args_is_help=True,
)

_ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--escalation-config",
        help="JSON file with the escalation settings (targets...); default: the application settings.",
        exists=True,
        dir_okay=False,
    ),
]


def _escalation_settings(settings: Settings, config: Path | None) -> EscalationSettings:
    if config is not None:
        try:
            escalation = EscalationSettings.model_validate(json.loads(config.read_text(encoding="utf-8")))
            escalation.check()
            return escalation
        except (ValueError, ValidationError) as error:
            first = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            raise ConfigurationError(
                f"{config}: invalid escalation settings ({first}); fix the file"
            ) from None
    configured = getattr(settings, "escalation", None)
    escalation = configured if isinstance(configured, EscalationSettings) else EscalationSettings()
    escalation.check()
    return escalation


def _sessions(settings: Settings) -> sessionmaker[Session]:
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    return session_factory(engine)


@outbox_app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(OPEN_STATUSES + FINAL_STATUSES)}.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most recent messages to show.")] = 50,
) -> None:
    """Messages in the outbox, newest first, with attempts and the last error."""
    if status is not None and status not in OPEN_STATUSES + FINAL_STATUSES:
        raise typer.BadParameter(f"unknown status {status!r}", param_hint="--status")
    sessions = _sessions(Settings())
    with transaction(sessions) as session:
        rows = list_messages(session, status=status, target=target, limit=limit)
        counts = count_by_status(session)
    table = Table("id", "target", "key", "action", "status", "tries", "next try", "last error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.target,
            row.delivery_key,
            row.action,
            row.status,
            str(row.attempts),
            row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if row.next_attempt_at else "",
            (row.last_error or "")[:80],
        )
    console = Console()
    console.print(table)
    totals = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    console.print(totals or "the outbox is empty")


@outbox_app.command("retry")
def retry_command(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Dead messages to retry; none: every dead one.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only dead messages of this target.")] = None,
) -> None:
    """Put dead letters back in the queue with a fresh attempt budget (stale ones are superseded)."""
    sessions = _sessions(Settings())
    with transaction(sessions) as session:
        outcome = retry_messages(session, ids or None, target=target)
    console = Console()
    console.print(f"{len(outcome.requeued)} message(s) queued again")
    if outcome.superseded:
        console.print(
            f"{len(outcome.superseded)} not retried because a later message of the same alert was delivered: "
            + ", ".join(map(str, outcome.superseded))
        )


@outbox_app.command("purge")
def purge_command(
    status: Annotated[
        list[str] | None, typer.Option(help="Statuses to delete: delivered, superseded, dead.")
    ] = None,
    older_than_days: Annotated[
        float, typer.Option(min=0, help="Only messages enqueued longer ago than this.")
    ] = 7.0,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
) -> None:
    """Delete finished messages; pending ones are never purged."""
    sessions = _sessions(Settings())
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    with transaction(sessions) as session:
        removed = purge_messages(
            session, statuses=status or ["delivered", "superseded"], older_than=cutoff, target=target
        )
    Console().print(f"{removed} message(s) purged")


def deliver_outbox(database_url: str, escalation: EscalationSettings, *, until_empty: bool) -> DeliveryReport:
    """Deliver the outbox of ``database_url`` through ``escalation``'s targets (``outbox deliver``,
    ``replay --deliver``)."""
    if not escalation.targets:
        raise ConfigurationError(
            "no escalation targets are configured, so nothing can be delivered; "
            "pass --escalation-config FILE or configure the escalation settings"
        )
    engine = create_db_engine(database_url)
    migrate(engine)
    worker = DeliveryWorker(session_factory(engine), escalation)
    try:
        return worker.deliver_until_empty() if until_empty else worker.deliver_once()
    finally:
        worker.close()
        engine.dispose()


def print_delivery_report(console: Console, report: DeliveryReport) -> None:
    console.print(
        f"delivered {report.delivered}, retry later {report.deferred}, rate limited {report.rate_limited}, "
        f"superseded {report.superseded}, dead {report.dead} ({report.attempts} attempts)"
    )
    for error in report.errors:
        console.print(f"[red]dead:[/] {error}", highlight=False)


@outbox_app.command("deliver")
def deliver_command(
    until_empty: Annotated[
        bool,
        typer.Option("--until-empty", help="Keep going (waiting out backoffs) until nothing is pending."),
    ] = False,
    escalation_config: _ConfigOption = None,
) -> None:
    """Deliver due messages once (default) or until the outbox is empty."""
    settings = Settings()
    escalation = _escalation_settings(settings, escalation_config)
    report = deliver_outbox(settings.resolved_database_url, escalation, until_empty=until_empty)
    print_delivery_report(Console(), report)
