"""`triage model list|evaluate|promote|rollback`: the life of a model version after training.

A candidate is compared with the version in use (held-out test sets and scenario replays) by
``evaluate``, which stores the comparison beside the artifacts; ``promote`` accepts a candidate only
with a current comparison that shows no regression beyond the tolerance, unless ``--force``. Every
promotion and rollback is logged with who and why (``promotions.jsonl`` in the artifacts root).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from classifier.artifact import ModelArtifactError, load_artifact
from classifier.comparison import DEFAULT_TOLERANCE, FigureChange, gate_evaluation, save_evaluation
from classifier.evaluation import figure_table
from classifier.paths import SharedDataMissingError
from classifier.versions import (
    PromotionError,
    artifacts_root_for,
    current_version,
    import_candidate,
    is_artifact_dir,
    list_versions,
    promote,
    promotion_log,
    rollback,
)
from triage.settings import Settings

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--artifacts-root",
        help="Folder of versions with DEFAULT and promotions.jsonl; default: SIGNAL_TRIAGE_MODEL_DIR's, "
        "else the bundled classifier/artifacts.",
    ),
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who does it; default: the OS user.")]
# not a required click option: promote/rollback refuse an empty reason themselves, in one line
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why (required); recorded in the promotions log.")
]


def configured_root(artifacts_root: Path | None) -> Path:
    """``--artifacts-root``, else the root ``SIGNAL_TRIAGE_MODEL_DIR`` designates, else the bundled one."""
    return artifacts_root if artifacts_root is not None else artifacts_root_for(Settings().model_dir)


def resolve_candidate(root: Path, candidate: str) -> Path:
    """A version name in ``root``, or the path of an artifact folder written elsewhere (a notebook's)."""
    path = Path(candidate)
    if is_artifact_dir(path):
        return path
    if is_artifact_dir(root / candidate):
        return root / candidate
    raise ModelArtifactError(
        f"{candidate!r} is neither a version in {root} nor an artifact folder; see `triage model list`"
    )


def _fmt(value: float | None, count: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if count or abs(value) >= 10 else f"{value:.3f}"


def list_command(artifacts_root: RootOption = None) -> None:
    """Every version with its date, parent, training data, headline figures and whether it is in use."""
    root = configured_root(artifacts_root)
    table = Table("version", "in use", "parent", "reviewed labels", "problem F1", "sentiment")
    table.add_column("created", no_wrap=True, min_width=16)
    for info in list_versions(root):
        reviewed = info.training_data.get("reviewed_labels", {})
        table.add_row(
            info.version,
            "yes" if info.in_use else "",
            info.parent or "–",
            f"{reviewed['texts']} ({reviewed['file']})" if reviewed else "–",
            _fmt(info.headline.get("problem_f1_mean")) if info.valid else f"broken: {info.problem}",
            _fmt(info.headline.get("sentiment_macro_recall")),
            (info.created or "–")[:16],
        )
    out.print(f"artifacts root: {root}")
    out.print(table)
    log = promotion_log(root)
    for record in log[-5:]:
        forced = " (forced)" if record.forced else ""
        out.print(
            f"{record.at[:19]} {record.action} {record.previous or '–'} → {record.version} "
            f"by {record.by}{forced}: {record.reason}"
        )


def _print_comparison(changes: list[FigureChange], current: str, candidate: str) -> None:
    table = Table("figure", current, candidate, "change", "verdict")
    for change in changes:
        delta = change.delta
        verdict = "WORSE" if change.worse else ""
        count = change.tolerance == 0.0  # incidents and escalations are counts
        table.add_row(
            change.name,
            _fmt(change.current, count),
            _fmt(change.candidate, count),
            "–" if delta is None else f"{delta:+.0f}" if count else f"{delta:+.3f}",
            verdict,
        )
    out.print(table)


def evaluate_command(
    candidate: Annotated[str, typer.Argument(help="Version in the artifacts root, or an artifact folder.")],
    artifacts_root: RootOption = None,
    against: Annotated[
        str | None, typer.Option("--against", help="Version to compare with; default: the one in use.")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            help="Scenario to replay with both (repeatable): a name in ../shared/scenarios, 'demo', or a "
            ".jsonl path with its .truth.json; default: smoke and demo.",
        ),
    ] = None,
    no_replay: Annotated[bool, typer.Option("--no-replay", help="Held-out test sets only.")] = False,
    sample: Annotated[
        int, typer.Option("--sample", help="At most this many rows per test set (quick look); 0 = all.")
    ] = 0,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="How much worse a rate may get before promotion is refused.")
    ] = DEFAULT_TOLERANCE,
    reviewed_labels: Annotated[
        Path | None,
        typer.Option("--reviewed-labels", help="A labels export whose test part is evaluated too."),
    ] = None,
) -> None:
    """Compare a candidate with the version in use on held-out test sets and scenario replays."""
    from classifier.encoder import load_sentence_encoder
    from classifier.training.reviewed import load_reviewed_labels
    from triage.replay.model_evaluation import DEFAULT_SCENARIOS, compare_candidate, find_scenario

    root = configured_root(artifacts_root)
    candidate_dir = resolve_candidate(root, candidate)
    current_dir = root / (against or current_version(root))
    candidate_artifact, current_artifact = load_artifact(candidate_dir), load_artifact(current_dir)
    scenarios = [] if no_replay else [find_scenario(name) for name in (scenario or DEFAULT_SCENARIOS)]
    reviewed = load_reviewed_labels(reviewed_labels) if reviewed_labels else None
    console.print(
        f"evaluating {candidate_artifact.version} against {current_artifact.version}"
        + (f" (replaying {', '.join(s.name for s in scenarios)})" if scenarios else "")
    )
    try:
        comparison = compare_candidate(
            candidate_artifact,
            current_artifact,
            load_sentence_encoder(),
            scenarios=scenarios,
            sample=sample,
            tolerance=tolerance,
            reviewed=reviewed,
        )
    except SharedDataMissingError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")  # messages name extras in [brackets]
        raise typer.Exit(1) from None
    for label, version in (("current", current_artifact.version), ("candidate", candidate_artifact.version)):
        out.print(
            f"\n{version} ({label}) on the held-out test sets" + (f", {sample} rows each" if sample else "")
        )
        for name, value in figure_table(comparison.held_out[label]):
            out.print(f"  {name}: {value}")
    out.print("")
    _print_comparison(comparison.changes, current_artifact.version, candidate_artifact.version)
    record: dict[str, Any] = {
        **comparison.as_json(),
        "candidate": candidate_artifact.version,
        "candidate_sha256": candidate_artifact.manifest["weights_sha256"],
        "current_sha256": current_artifact.manifest["weights_sha256"],
        "sample": sample,
        "scenarios": [s.name for s in scenarios],
        "evaluated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    path = save_evaluation(root, record)
    worse = comparison.regressions
    if worse:
        out.print(
            f"{candidate_artifact.version} is worse beyond the tolerance on {len(worse)} figure(s); "
            "`promote` will refuse it without --force"
        )
    else:
        out.print(f"no regression beyond the tolerance: {candidate_artifact.version} can be promoted")
    console.print(f"comparison stored in {path}")


def promote_command(
    candidate: Annotated[str, typer.Argument(help="Version in the artifacts root, or an artifact folder.")],
    reason: ReasonOption = "",
    by: ByOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote without a current evaluation or despite regressions.")
    ] = False,
    artifacts_root: RootOption = None,
) -> None:
    """Make a candidate the version in use, if its evaluation against the current one allows it."""
    if not reason.strip():
        raise PromotionError("a promotion needs a reason (--reason), recorded in the promotions log")
    root = configured_root(artifacts_root)
    candidate_dir = resolve_candidate(root, candidate)
    artifact = load_artifact(candidate_dir)
    current: str | None = None
    current_sha: str | None = None
    try:
        current = current_version(root)
        current_sha = load_artifact(root / current).manifest["weights_sha256"]
    except ModelArtifactError:
        pass  # nothing usable in use yet: the first promotion into a fresh root needs no comparison
    record: dict[str, Any] | None = None
    problem = ""
    if current is not None:
        record, problem = gate_evaluation(
            root, artifact.version, artifact.manifest["weights_sha256"], current, current_sha
        )
    if problem and not force:
        raise PromotionError(f"not promoted: {problem} (or pass --force with a --reason saying why)")
    version = import_candidate(root, candidate_dir)
    summary: dict[str, Any] = {}
    if record:
        summary = {
            "against": record.get("current"),
            "sample": record.get("sample"),
            "scenarios": record.get("scenarios"),
            "tolerance": record.get("tolerance"),
            "regressions": [change["name"] for change in record.get("regressions", [])],
            "evaluated_at": record.get("evaluated_at"),
        }
    done = promote(
        root,
        version,
        by=by or getpass.getuser(),
        reason=reason,
        at=datetime.now(UTC).replace(microsecond=0),
        evaluation=summary,
        forced=bool(problem) and force,
    )
    out.print(f"{done.previous or 'nothing'} → {done.version} in use in {root} (by {done.by}: {done.reason})")
    if problem:
        out.print(f"forced past: {problem}")


def rollback_command(
    reason: ReasonOption = "", by: ByOption = None, artifacts_root: RootOption = None
) -> None:
    """Return to the version in use before the latest promotion, and log it."""
    root = configured_root(artifacts_root)
    done = rollback(
        root, by=by or getpass.getuser(), reason=reason, at=datetime.now(UTC).replace(microsecond=0)
    )
    out.print(f"{done.previous} → {done.version} in use in {root} (rolled back by {done.by}: {done.reason})")


def register_version_commands(app: typer.Typer) -> None:
    """Add list, evaluate, shadow, promote and rollback to ``triage model``."""
    from triage.cli.model_shadow import shadow_command

    commands: dict[str, Callable[..., None]] = {
        "list": list_command,
        "evaluate": evaluate_command,
        "shadow": shadow_command,
        "promote": promote_command,
        "rollback": rollback_command,
    }
    for name, command in commands.items():
        app.command(name)(command)
