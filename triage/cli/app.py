"""The ``triage`` command line. Presentation only: every command calls stage
functions and prints their results."""

from __future__ import annotations

import importlib
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


#: (module, attribute, name): commands and command groups that live in their own modules
_COMMANDS = (
    ("triage.cli.analyze", "analyze", "analyze"),
    ("triage.cli.serve", "serve", "serve"),
    ("triage.cli.run", "run", "run"),
    ("triage.cli.worker", "worker", "worker"),
    ("triage.cli.worker", "beat", "beat"),
    ("triage.cli.worker", "replay_workers", "replay-workers"),
)
_GROUPS = (
    ("triage.cli.model", "model_app", "model"),
    ("triage.cli.outbox", "outbox_app", "outbox"),
    ("triage.cli.sources", "sources_app", "sources"),
    ("triage.cli.keys", "keys_app", "keys"),
    ("triage.cli.labels", "labels_app", "labels"),
)


def _register_commands() -> None:
    for module_name, attribute, name in _COMMANDS + _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        target = getattr(module, attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


_register_commands()


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
    except Exception as error:  # usage errors arrive here in non-standalone mode
        if _is_usage_error(error):
            error.show()  # type: ignore[attr-defined]
            sys.exit(getattr(error, "exit_code", 2))
        raise


def _is_usage_error(error: Exception) -> bool:
    """Click's and Typer's own (vendored) usage errors: both print themselves as one clear message."""
    import click

    if isinstance(error, click.ClickException):
        return True
    try:
        from typer._click.exceptions import ClickException as TyperClickException
    except ImportError:  # a Typer that uses click directly
        return False
    return isinstance(error, TyperClickException)
