"""Candidate versus the version in use: which figures got worse beyond a tolerance.

The promotion gate of ``triage model promote``. Rates (F1, recall, precision) may drop by at most
``tolerance`` (absolute, default 0.02: smaller differences are within what a reseeded run moves on
these test sets); counts that page people (incidents missed, false escalations) may not get worse at
all. Detection figures come in as plain dicts (the scorer's JSON), so this module needs no replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TOLERANCE = 0.02


@dataclass(frozen=True)
class FigureChange:
    """One compared figure; ``worse`` when the candidate is beyond the tolerance on the bad side."""

    name: str
    current: float | None
    candidate: float | None
    higher_is_better: bool
    tolerance: float

    @property
    def delta(self) -> float | None:
        if self.current is None or self.candidate is None:
            return None
        return self.candidate - self.current

    @property
    def worse(self) -> bool:
        delta = self.delta
        if delta is None:
            return False
        return delta < -self.tolerance if self.higher_is_better else delta > self.tolerance

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": self.current,
            "candidate": self.candidate,
            "delta": self.delta,
            "higher_is_better": self.higher_is_better,
            "tolerance": self.tolerance,
            "worse": self.worse,
        }


def _get(data: dict[str, Any], *path: str) -> float | None:
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


def held_out_changes(
    current: dict[str, Any], candidate: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> list[FigureChange]:
    """Held-out figures of two :func:`classifier.evaluation.evaluate_artifact` results."""
    changes = [
        FigureChange(
            "problem F1 mean",
            _get(current, "problem_f1_mean"),
            _get(candidate, "problem_f1_mean"),
            True,
            tolerance,
        ),
        FigureChange(
            "sentiment macro recall",
            _get(current, "sentiment", "tweeteval_test_macro_recall"),
            _get(candidate, "sentiment", "tweeteval_test_macro_recall"),
            True,
            tolerance,
        ),
        FigureChange(
            "general tweets flagged rate",
            _get(current, "general_tweets_flagged_rate"),
            _get(candidate, "general_tweets_flagged_rate"),
            False,
            tolerance,
        ),
    ]
    for dataset in sorted(set(current.get("problem", {})) & set(candidate.get("problem", {}))):
        if (_get(current, "problem", dataset, "positives") or 0) > 0:
            changes.append(
                FigureChange(
                    f"problem F1 {dataset}",
                    _get(current, "problem", dataset, "f1"),
                    _get(candidate, "problem", dataset, "f1"),
                    True,
                    # one dataset's test part is small (500-3000 rows): allow twice the pooled tolerance
                    2 * tolerance,
                )
            )
    return changes


def detection_changes(
    scenario: str, current: dict[str, Any], candidate: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> list[FigureChange]:
    """Scorer figures (``score_replay.py --json``) of one scenario replayed with each version."""
    return [
        FigureChange(
            f"{scenario}: incidents detected",
            _get(current, "incidents_detected"),
            _get(candidate, "incidents_detected"),
            True,
            0.0,
        ),
        FigureChange(
            f"{scenario}: false escalations",
            _get(current, "false_escalations"),
            _get(candidate, "false_escalations"),
            False,
            0.0,
        ),
        FigureChange(
            f"{scenario}: B-cubed F1",
            _get(current, "bcubed", "f1"),
            _get(candidate, "bcubed", "f1"),
            True,
            tolerance,
        ),
    ]


def regressions(changes: list[FigureChange]) -> list[FigureChange]:
    """The changes that block a promotion."""
    return [change for change in changes if change.worse]


EVALUATIONS_FOLDER = "evaluations"


def evaluation_path(root: Path, version: str) -> Path:
    """Where ``triage model evaluate`` keeps its latest comparison of ``version`` for the promotion gate."""
    return root / EVALUATIONS_FOLDER / f"{version}.json"


def save_evaluation(root: Path, record: dict[str, Any]) -> Path:
    """Store a comparison record (``candidate``, ``candidate_sha256``, ``current``, ``current_sha256``,
    ``changes``, ``regressions``, ...) so a later ``promote`` can check it without rerunning it."""
    path = evaluation_path(root, str(record["candidate"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def gate_evaluation(
    root: Path, candidate: str, candidate_sha256: str, current: str | None, current_sha256: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The stored evaluation that allows promoting ``candidate`` over ``current``, or why there is none.

    An evaluation counts only for the same candidate weights against the same version in use: a
    retrained candidate or a promotion in between makes it stale.
    """
    path = evaluation_path(root, candidate)
    if not path.is_file():
        return None, f"{candidate} has not been evaluated; run `triage model evaluate {candidate}` first"
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None, f"{path} is not valid JSON; run `triage model evaluate {candidate}` again"
    if record.get("candidate_sha256") != candidate_sha256:
        return None, f"{path} evaluated other weights than {candidate}'s; evaluate it again"
    if current is not None and (
        record.get("current") != current or record.get("current_sha256") != current_sha256
    ):
        return None, (
            f"{path} compared {candidate} with {record.get('current')}, but {current} is in use now; "
            "evaluate it again"
        )
    if record.get("regressions"):
        names = ", ".join(str(change["name"]) for change in record["regressions"])
        return record, f"{candidate} is worse than {record.get('current')} beyond the tolerance on: {names}"
    return record, ""
