"""``triage model shadow CANDIDATE``: the candidate scores the stored live posts beside the model in use.

Presentation only: the comparison is :func:`triage.actions.shadow.shadow_compare`. Nothing the
service uses changes; the disagreements go to the terminal and, with ``--out``, to a CSV or JSONL file
for review (label them through the API, export, retrain).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from classifier.analysis import load_encoder_backend
from classifier.artifact import ModelArtifact, ModelArtifactError, load_artifact
from classifier.encoder import SentenceEncoder
from classifier.features import EMBEDDING, artifact_features
from classifier.versions import resolve_artifact_dir
from triage.actions.shadow import ShadowFilters, ShadowReport, disagreement_rows, shadow_compare
from triage.cli.labels import parse_time
from triage.errors import ConfigurationError
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _write(report: ShadowReport, path: Path) -> None:
    rows = disagreement_rows(report.most_disputed(len(report.disagreements)))
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if path.suffix != ".csv":
        raise ConfigurationError(f"cannot tell the format of {path}; name it .csv or .jsonl")
    with path.open("w", encoding="utf-8", newline="") as handle:
        fields = list(rows[0]) if rows else ["post_id"]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _print(report: ShadowReport, show: int) -> None:
    in_use = ", ".join(f"{version} ({count})" for version, count in sorted(report.in_use_versions.items()))
    summary = Table(title=f"shadow: {report.candidate_version} beside {in_use or 'nothing analysed'}")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("posts compared", str(report.posts))
    summary.add_row("same problem decision", _share(report.problem_agreement))
    summary.add_row("  now a problem report (was not)", str(report.became_problem))
    summary.add_row("  no longer a problem report", str(report.stopped_being_problem))
    summary.add_row("same sentiment", _share(report.sentiment_agreement))
    summary.add_row(
        f"same category (of {report.both_problem} both call problems)", _share(report.category_agreement)
    )
    summary.add_row("posts with any disagreement", str(len(report.disagreements)))
    out.print(summary)
    disputed = report.most_disputed(show)
    if not disputed:
        return
    table = Table(title=f"most disputed {len(disputed)} (largest shift in problem probability first)")
    for column in ("post", "problem in use → candidate", "sentiment", "category", "text"):
        table.add_column(column, overflow="fold")
    for item in disputed:
        table.add_row(
            f"{item.source}:{item.external_id}",
            f"{item.in_use.problem_probability:.2f} → {item.candidate.problem_probability:.2f}",
            f"{item.in_use.sentiment} → {item.candidate.sentiment}",
            f"{item.in_use.category or '–'} → {item.candidate.category or '–'}",
            item.text[:160],
        )
    out.print(table)


def shadow_command(
    candidate: Annotated[
        str, typer.Argument(help="A version name in the artifacts root, or an artifact folder.")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant whose analysed posts to score.")] = "default",
    since: Annotated[
        str | None, typer.Option(help="Only posts created at or after this time (ISO 8601, UTC if bare).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Only posts created before this time.")] = None,
    source: Annotated[str | None, typer.Option(help="Only posts from this source.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many posts, oldest first.")] = None,
    show: Annotated[int, typer.Option(min=0, help="Disagreements to print.")] = 20,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every disagreement here (.csv or .jsonl).")
    ] = None,
    artifacts_root: Annotated[
        Path | None,
        typer.Option(
            "--artifacts-root", help="Where CANDIDATE's version folder is; default as `model list`."
        ),
    ] = None,
) -> None:
    """Score the stored posts with CANDIDATE beside the model in use and list where they disagree.

    Only the candidate's heads run (every version shares the encoder and each analysis keeps its
    embedding), so this is cheap on the whole stored stream; nothing the service uses changes. A
    candidate whose heads read every layer's pool (v3 on) has the texts encoded again, with the
    configured analysis backend.
    """
    from triage.cli.model_versions import configured_root, resolve_candidate

    settings = Settings()
    chosen = load_artifact(resolve_candidate(configured_root(artifacts_root), candidate))
    in_use = load_artifact(resolve_artifact_dir(settings.model_dir))
    filters = ShadowFilters(parse_time(since, "--since"), parse_time(until, "--until"), source, limit)
    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        with transaction(session_factory(engine)) as session:
            report = shadow_compare(
                session, tenant, chosen, in_use.problem_threshold, filters, _encoder_for(chosen, settings)
            )
    except ModelArtifactError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")  # messages name extras in [brackets]
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if not report.posts:
        console.print(f"no analysed posts of tenant {tenant!r} match; nothing to compare")
        raise typer.Exit(1)
    _print(report, show)
    if out_file is not None:
        _write(report, out_file)
        console.print(f"wrote {len(report.disagreements)} disagreement(s) to {out_file}")


def _encoder_for(candidate: ModelArtifact, settings: Settings) -> SentenceEncoder | None:
    """The configured encoder backend when ``candidate`` needs texts encoded again, else nothing."""
    if artifact_features(candidate) == EMBEDDING:
        return None
    console.print(
        f"{candidate.version} reads {artifact_features(candidate)}: encoding the stored posts again "
        f"with backend {settings.analysis_backend}"
    )
    return load_encoder_backend(settings.analysis_backend)
