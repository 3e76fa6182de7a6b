"""The ``triage`` command line. Presentation only: every command calls stage
functions and prints their results."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from triage.cli import replay as replay_commands

app = typer.Typer(
    name="triage",
    help="signal-triage: turn customer problem reports on X and Zendesk into deduplicated incident signals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("replay")(replay_commands.replay)
app.command("demo")(replay_commands.demo)


def _register_optional_commands() -> None:
    from triage.cli.analyze import analyze
    from triage.cli.model import model_app

    app.command("analyze")(analyze)
    app.add_typer(model_app, name="model", help="Train, list and promote classifier versions.")


_register_optional_commands()


def main() -> None:
    """Entry point: user errors print one line and exit 1, never a traceback."""
    from classifier.artifact import ModelArtifactError
    from ingest.errors import IngestError
    from triage.errors import TriageError

    try:
        app(standalone_mode=False)
    except (TriageError, IngestError, ModelArtifactError) as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    except Exception as error:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
