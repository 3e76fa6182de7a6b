"""Helpers the benchmarks share: where ../shared is, and running its tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("SIGNAL_TRIAGE_SHARED_DIR", REPO.parent / "shared"))


def require_shared() -> Path:
    shared = shared_dir()
    if not (shared / "scenarios").is_dir():
        sys.exit(f"benchmarks need the shared data folder (looked in {shared}); set SIGNAL_TRIAGE_SHARED_DIR")
    return shared


def score(truth: Path, report: Path) -> dict[str, Any]:
    """The official scorer's figures for a report, as a dict."""
    output = subprocess.run(
        [sys.executable, str(shared_dir() / "tools" / "score_replay.py"), str(truth), str(report), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def naive_baseline_report(scenario: Path, out: Path) -> None:
    subprocess.run(
        [sys.executable, str(shared_dir() / "tools" / "naive_baseline.py"), str(scenario), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
