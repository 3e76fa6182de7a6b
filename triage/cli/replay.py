"""``triage replay`` and ``triage demo``."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from triage.errors import ConfigurationError
from triage.replay.flow import replay_file
from triage.replay.report import write_report
from triage.settings import Settings

DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo_day.jsonl"


def _load_analyzer(settings: Settings):  # type: ignore[no-untyped-def]
    from classifier.analysis import load_analyzer

    return load_analyzer(settings.model_dir, backend=settings.analysis_backend)


def replay(
    scenario: Path = typer.Argument(
        ...,
        help="Replay file: JSONL in the scenario contract (or a CSV of posts).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
    report: Path = typer.Option(..., "--report", "-r", help="Where to write the replay report (JSON)."),
    tenant: str | None = typer.Option(None, help="Tenant to store under; default: the file's name."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Report and skip malformed lines instead of stopping."
    ),
    no_timing: bool = typer.Option(
        False, "--no-timing", help="Write stats.seconds as 0, for byte-identical reports."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary."),
    deliver: bool = typer.Option(
        False,
        "--deliver",
        help="Then deliver the escalation outbox through the configured targets until it is empty "
        "(default: a replay delivers nothing).",
    ),
) -> None:
    """Replay a scenario file through the whole pipeline and write the replay report.

    Posts and changes are stored idempotently (replaying twice stores nothing
    twice), analysed once per model version, then triaged in event time. The
    same file always gives the same report. Escalation messages are written
    to the outbox; only --deliver sends them.
    """
    _run(scenario, report, tenant, skip_invalid, no_timing, quiet, deliver=deliver)


def demo(
    report: Path = typer.Option(
        Path("var/demo-report.json"), "--report", "-r", help="Where to write the report."
    ),
    scenario: Path = typer.Option(
        DEMO_SCENARIO, help="The scenario to replay (default: the bundled demo day)."
    ),
) -> None:
    """Replay the bundled demo day (a parcel company's day on X and Zendesk) and explain what it found."""
    if not scenario.exists():
        raise typer.BadParameter(f"{scenario} not found; run from a source checkout or pass --scenario FILE")
    _run(scenario, report, None, False, False, False)


def _run(
    scenario: Path,
    report_path: Path,
    tenant: str | None,
    skip_invalid: bool,
    no_timing: bool,
    quiet: bool,
    *,
    deliver: bool = False,
) -> None:
    from triage.cli.progress import RichProgress
    from triage.cli.summary import print_summary

    settings = Settings()
    if deliver and not settings.escalation.targets:
        raise ConfigurationError(
            "--deliver needs escalation targets; configure SIGNAL_TRIAGE_ESCALATION and replay again"
        )
    console = Console()
    with RichProgress(enabled=not quiet) as progress:
        progress.stage("loading model", None)
        analyzer = _load_analyzer(settings)
        result = replay_file(
            scenario,
            settings,
            analyzer,
            tenant=tenant,
            skip_invalid=skip_invalid,
            progress=progress,
            timer=(lambda: 0.0) if no_timing else time.perf_counter,
        )
    write_report(result.report, report_path)
    if not quiet:
        print_summary(console, result, report_path)
    elif result.skipped:
        Console(stderr=True).print(f"{len(result.skipped)} invalid line(s) skipped")
    if deliver:
        from triage.cli.outbox import deliver_outbox, print_delivery_report

        delivery = deliver_outbox(result.database_url, settings.escalation, until_empty=True)
        if not quiet or delivery.dead:
            print_delivery_report(Console(stderr=quiet), delivery)
