"""A candidate model version against the one in use: held-out test sets and scenario replays.

``triage model evaluate`` (and the retraining notebook) call :func:`compare_candidate`. Held-out figures
come from :mod:`classifier.evaluation`; detection figures from replaying scenarios with each version and
scoring the reports with the shared scorer: a classifier that scores better on datasets can still page
later or more often. Both versions replay into the same throwaway database per scenario, so the second
reuses the embeddings of the first (versions differ in their heads only): one encoder pass per scenario,
or two when a version's heads read every layer's pool (:mod:`classifier.features`), which a stored
embedding does not hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.analysis import Analyzer
from classifier.artifact import ModelArtifact
from classifier.comparison import (
    DEFAULT_TOLERANCE,
    FigureChange,
    detection_changes,
    held_out_changes,
    regressions,
)
from classifier.encoder import SentenceEncoder
from classifier.evaluation import evaluate_versions
from classifier.paths import REPO_ROOT, shared_dir
from classifier.training.reviewed import ReviewedLabels
from triage.errors import ConfigurationError
from triage.replay.flow import replay_file
from triage.replay.report import write_report
from triage.settings import Settings

#: the small scenarios a comparison replays unless told otherwise (seconds each on a CPU)
DEFAULT_SCENARIOS = ("smoke", "demo")
DEMO_SCENARIO = REPO_ROOT / "data" / "demo" / "demo_day.jsonl"


@dataclass(frozen=True)
class Scenario:
    """A replay file and the truth file the scorer judges its report by."""

    name: str
    path: Path
    truth: Path


def find_scenario(name_or_path: str) -> Scenario:
    """``demo``, a scenario name in ``../shared/scenarios`` (``smoke``, ``fintech_day``, ...), or a path
    to a ``.jsonl`` with its ``.truth.json`` beside it."""
    if name_or_path == "demo":
        path = DEMO_SCENARIO
    elif name_or_path.endswith(".jsonl"):
        path = Path(name_or_path)
    else:
        path = shared_dir() / "scenarios" / f"{name_or_path}.jsonl"
    truth = path.with_suffix(".truth.json")
    if not path.is_file() or not truth.is_file():
        raise ConfigurationError(
            f"scenario {name_or_path!r}: needs {path} and {truth}; name one in ../shared/scenarios, "
            "'demo', or a .jsonl path with its .truth.json beside it"
        )
    return Scenario(path.stem, path, truth)


def score_report(truth: Path, report: Path) -> dict[str, Any]:
    """The shared scorer's figures (``score_replay.py --json``) for one report."""
    scorer = shared_dir() / "tools" / "score_replay.py"
    if not scorer.is_file():
        raise ConfigurationError(f"the scorer {scorer} is missing; set SIGNAL_TRIAGE_SHARED_DIR")
    output = subprocess.run(
        [sys.executable, str(scorer), str(truth), str(report), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(output)
    return figures


def detection_figures(
    scenarios: list[Scenario], analyzers: dict[str, Analyzer], work_dir: Path | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scenario: {label: scorer figures}}`` for each analyzer (label → analyzer), in the given order."""
    work = work_dir or Path(tempfile.mkdtemp(prefix="model-evaluate-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in scenarios:
        database = work / f"{scenario.name}.db"
        settings = Settings(data_dir=work, database_url=f"sqlite:///{database.as_posix()}")
        figures[scenario.name] = {}
        for label, analyzer in analyzers.items():
            result = replay_file(scenario.path, settings, analyzer, tenant=scenario.name)
            report = work / f"{scenario.name}.{label}.json"
            write_report(result.report, report)
            figures[scenario.name][label] = score_report(scenario.truth, report)
    return figures


@dataclass
class Comparison:
    """Everything ``evaluate`` prints and stores; ``regressions`` block a promotion."""

    candidate: str
    current: str
    held_out: dict[str, dict[str, Any]]
    detection: dict[str, dict[str, dict[str, Any]]]
    changes: list[FigureChange]
    tolerance: float

    @property
    def regressions(self) -> list[FigureChange]:
        return regressions(self.changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "current": self.current,
            "tolerance": self.tolerance,
            "held_out": self.held_out,
            "detection": self.detection,
            "changes": [change.as_json() for change in self.changes],
            "regressions": [change.as_json() for change in self.regressions],
        }


def compare_candidate(
    candidate: ModelArtifact,
    current: ModelArtifact,
    encoder: SentenceEncoder,
    *,
    scenarios: list[Scenario],
    sample: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
    reviewed: ReviewedLabels | None = None,
    work_dir: Path | None = None,
) -> Comparison:
    """Evaluate both versions on the same held-out rows and replays and list what changed.

    The held-out rows (general-tweet test part included) are drawn as the version in use was trained,
    with its seed and noise sample, so its figures equal those of its own card when ``sample`` is 0.
    """
    options = current.manifest.get("training_options", {})
    held_out = evaluate_versions(
        {"current": current, "candidate": candidate},
        lambda: encoder,
        sample=sample,
        seed=int(options.get("seed", 13)),
        noise_sample=int(options.get("noise_sample", 6000)),
        extra=reviewed.records if reviewed else None,
    )
    changes = held_out_changes(held_out["current"], held_out["candidate"], tolerance)
    detection: dict[str, dict[str, dict[str, Any]]] = {}
    if scenarios:
        analyzers = {"current": Analyzer(encoder, current), "candidate": Analyzer(encoder, candidate)}
        detection = detection_figures(scenarios, analyzers, work_dir)
        for name, figures in detection.items():
            changes += detection_changes(name, figures["current"], figures["candidate"], tolerance)
    return Comparison(candidate.version, current.version, held_out, detection, changes, tolerance)
