"""``triage keys``: create, list and revoke the API keys of the API and web UI.

A key is printed once, when it is created; the database keeps only a salted hash of it, so a lost
key is revoked and replaced, never shown again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from triage.access.service import create_api_key, list_api_keys, revoke_api_key
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

keys_app = typer.Typer(
    help="API keys for the API and web UI: viewer, lead, ingest or admin. Stored hashed, shown once.",
    no_args_is_help=True,
)


class RoleChoice(StrEnum):
    """The choices of ``--role``: ``triage.access.settings.ROLES``."""

    viewer = "viewer"
    lead = "lead"
    ingest = "ingest"
    admin = "admin"


def _sessions(settings: Settings) -> sessionmaker[Session]:
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    return session_factory(engine)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@keys_app.command("create")
def create_command(
    name: Annotated[
        str, typer.Option(help="Who uses the key; recorded as the actor of every decision made with it.")
    ],
    role: Annotated[
        RoleChoice,
        typer.Option(
            help="viewer: read; lead: also act and relabel; ingest: only push posts; admin: everything.",
        ),
    ] = RoleChoice.viewer,
) -> None:
    """Create a key and print it once. Once any key exists, the server leaves local open mode."""
    with transaction(_sessions(Settings())) as session:
        created = create_api_key(session, name, role.value, _wall_clock())
    console = Console()
    console.print(
        f"created key [bold]{created.stored.key_id}[/] for {created.stored.name} ({created.stored.role}). "
        "Copy it now; it is not shown again:",
        highlight=False,
    )
    # the key alone on its own line, unstyled, so it can be copied or piped
    typer.echo(created.key)


@keys_app.command("list")
def list_command() -> None:
    """Stored keys (never their secrets), oldest first."""
    with transaction(_sessions(Settings())) as session:
        keys = list_api_keys(session)
    table = Table("key id", "name", "role", "created", "revoked")
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            key.role,
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console = Console()
    console.print(table if keys else "no stored keys; create one with `triage keys create`")


@keys_app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key id `triage keys list` shows.")],
) -> None:
    """Revoke a key at once: requests with it answer 401 from now on."""
    with transaction(_sessions(Settings())) as session:
        revoked = revoke_api_key(session, key_id, _wall_clock())
    Console().print(f"revoked key {revoked.key_id} of {revoked.name} ({revoked.role})", highlight=False)
