"""`triage model ...`: train, list, evaluate, promote and roll back classifier versions.

Presentation only: training is :func:`classifier.training.train_artifact` (the same function the notebooks
call), versions and the promotions log are :mod:`classifier.versions`, the comparison is
:func:`triage.replay.model_evaluation.compare_candidate`. The artifacts root is ``--artifacts-root``, else
the one ``SIGNAL_TRIAGE_MODEL_DIR`` designates, else the bundled ``classifier/artifacts``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from classifier.artifact import ModelArtifactError
from classifier.features import FEATURE_WIDTHS
from classifier.paths import SharedDataMissingError
from classifier.training import TrainingOptions, train_artifact
from classifier.training.reviewed import load_reviewed_labels
from classifier.versions import current_version
from triage.cli.model_versions import configured_root, register_version_commands

model_app = typer.Typer(help="Train and inspect the post classifier (problem report, category, sentiment).")
console = Console(stderr=True, soft_wrap=True)


@model_app.callback()
def model_group() -> None:
    """Train, evaluate, promote and roll back classifier versions."""


def _progress_factory(progress: Progress) -> Callable[[str, int], Callable[[int], None]]:
    """Per-pool encoding callbacks; a bar appears only when a pool actually needs encoding."""

    def factory(pool: str, total: int) -> Callable[[int], None]:
        task: list[TaskID] = []

        def advance(done: int) -> None:
            if not task:
                task.append(progress.add_task(f"encoding {pool}", total=None))
            progress.update(task[0], completed=done)

        return advance

    return factory


@model_app.command("train")
def train(
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "--artifacts-root",
            help="Artifacts root to write into; default: the configured one.",
        ),
    ] = None,
    version: Annotated[str, typer.Option("--version", help="Version folder name to write, e.g. v2.")] = "v2",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the SemEval subsamples and the MLP.")] = 13,
    sentiment_sample: Annotated[
        int,
        typer.Option("--sentiment-sample", help="Sentiment training tweets from the SemEval pool; 0 = all."),
    ] = 0,
    noise_sample: Annotated[
        int,
        typer.Option("--noise-sample", help="General tweets used as problem-report negatives (train part)."),
    ] = 6000,
    problem_head: Annotated[
        str, typer.Option("--problem-head", help="Problem head: mlp (v2 on) or logistic (v1).")
    ] = "mlp",
    dataset_weighting: Annotated[
        str, typer.Option("--dataset-weighting", help="Problem rows per dataset: equal (v2 on) or sqrt (v1).")
    ] = "equal",
    set_default: Annotated[
        bool,
        typer.Option(
            "--set-default/--no-set-default",
            help="Point DEFAULT at this version without evaluation or log (prefer `triage model promote`).",
        ),
    ] = False,
    reviewed_labels: Annotated[
        Path | None,
        typer.Option(
            "--reviewed-labels", help="A `triage labels export` file (.parquet/.csv) to train on too."
        ),
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Version this one replaces; default: the one in use.")
    ] = None,
    max_per_split: Annotated[
        int, typer.Option("--max-per-split", help="At most this many rows per dataset and split; 0 = all.")
    ] = 0,
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="What the heads read: embedding (v1, v2) or layer-pools (every layer's pool, v3 on).",
        ),
    ] = "embedding",
    problem_heads_from: Annotated[
        str | None,
        typer.Option(
            "--problem-heads-from",
            help="Keep this version's problem and category heads unchanged and train the sentiment head "
            "only (v3: v2's, so problem decisions and clustering stay as they were).",
        ),
    ] = None,
) -> None:
    """Train the heads on frozen MiniLM embeddings and write a versioned artifact with its model card."""
    if (
        problem_head not in ("mlp", "logistic")
        or dataset_weighting not in ("equal", "sqrt")
        or features not in FEATURE_WIDTHS
    ):
        console.print(
            "[red]error:[/red] --problem-head is mlp or logistic; --dataset-weighting is equal or sqrt; "
            f"--features is {' or '.join(FEATURE_WIDTHS)}"
        )
        raise typer.Exit(2)
    options = TrainingOptions(
        seed=seed,
        sentiment_sample=sentiment_sample,
        noise_sample=noise_sample,
        problem_head=problem_head,
        dataset_weighting=dataset_weighting,
        max_per_split=max_per_split,
        features=features,
        problem_heads_from=problem_heads_from,
    )
    root = configured_root(output_dir)
    if parent is None:
        try:
            parent = current_version(root)
        except ModelArtifactError:
            parent = None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            reviewed = load_reviewed_labels(reviewed_labels) if reviewed_labels else None
            report = train_artifact(
                root,
                version,
                options,
                progress=_progress_factory(progress),
                set_default=set_default,
                log=lambda message: progress.console.log(message),
                reviewed=reviewed,
                parent=parent,
            )
    except (SharedDataMissingError, ModelArtifactError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")  # messages name extras in [brackets]
        raise typer.Exit(1) from None
    sentiment = report.metrics["sentiment"]["tweeteval_test_macro_recall"]
    console.print(f"wrote {report.artifact_dir} — TweetEval test macro recall {100 * sentiment:.1f}")
    for dataset, scores in report.metrics["problem"]["test"].items():
        flagged = 100 * scores["flagged_rate"]
        console.print(f"  problem F1 {dataset}: {scores['f1']:.3f} (flagged {flagged:.1f} %)")


register_version_commands(model_app)
