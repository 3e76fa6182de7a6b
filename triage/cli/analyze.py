"""`triage analyze FILE --out OUT.jsonl`: classify posts from a CSV/JSONL file with the classifier.

Presentation only: reading is :mod:`classifier.post_input`, analysis is :class:`classifier.analysis.Analyzer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from classifier.analysis import PostAnalysis, load_analyzer
from classifier.post_input import InputPost, PostInputError, read_posts

console = Console(stderr=True, soft_wrap=True)
CHUNK = 1024


def result_record(post: InputPost, analysis: PostAnalysis, threshold: float) -> dict[str, object]:
    """The JSON object written for one post (keys may be added, never renamed)."""
    return {
        "id": post.id,
        "problem": analysis.problem_probability >= threshold,
        "problem_probability": round(analysis.problem_probability, 4),
        "category": analysis.category,
        "sentiment": analysis.sentiment,
        "sentiment_scores": {label: round(score, 4) for label, score in analysis.sentiment_scores.items()},
        "language": analysis.language,
    }


def _advance(progress: Progress, task: TaskID, offset: int) -> Callable[[int], None]:
    return lambda done: progress.update(task, completed=offset + done)


def analyze(
    input_path: Annotated[
        Path, typer.Argument(help="CSV with a 'text' column (optional 'id') or JSONL of {id, text}.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write one JSON object per analysed post (JSONL).")
    ],
    model_dir: Annotated[
        Path | None,
        typer.Option("--model", help="Model artifact folder (default: the committed default version)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Texts per encoder call (default: the backend's own)."),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="Encoder backend: torch (fp32), torch-bf16 (about 2x on CPUs with native bf16), "
            "openvino-bf16 (about 2.5x on the same CPUs, same decisions), onnx-fp32, onnx-int8 "
            "(see benchmarks/analysis_speed.py).",
        ),
    ] = "torch",
) -> None:
    """Classify posts: problem report or not, category, sentiment. Bad rows are reported and skipped."""
    try:
        posts, rejected = read_posts(input_path)
        analyzer = load_analyzer(model_dir, backend=backend)
    except (PostInputError, ValueError) as error:  # a broken artifact, an unknown or unusable backend
        console.print(f"[red]error:[/red] {escape(str(error))}")  # messages name extras in [brackets]
        raise typer.Exit(1) from None
    for row in rejected:
        console.print(f"[yellow]skipped[/yellow] {input_path}:{row.line}: {row.reason}")
    columns = (TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle, Progress(*columns, console=console) as progress:
        task = progress.add_task("analyse", total=len(posts))
        for start in range(0, len(posts), CHUNK):
            chunk = posts[start : start + CHUNK]
            results = analyzer.analyze(
                [post.text for post in chunk], batch_size, _advance(progress, task, start)
            )
            for post, analysis in zip(chunk, results, strict=True):
                record = result_record(post, analysis, analyzer.problem_threshold)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    console.print(
        f"analysed {len(posts)} posts with model {analyzer.model_version} -> {out}"
        + (f"; skipped {len(rejected)} bad rows" if rejected else "")
    )
