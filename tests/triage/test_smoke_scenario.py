"""The shared smoke scenario, replayed and scored by the official scorer, against the naive baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage.replay.flow import replay_file
from triage.replay.report import write_report
from triage.settings import Settings


def score(shared: Path, truth: Path, report: Path) -> dict:  # type: ignore[type-arg]
    output = subprocess.run(
        [sys.executable, str(shared / "tools" / "score_replay.py"), str(truth), str(report), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


@pytest.mark.slow
def test_smoke_catches_every_incident_with_the_right_cause_and_no_false_page(
    tmp_path: Path,
    analyzer,
    shared_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    scenario = shared_dir / "scenarios" / "smoke.jsonl"
    truth = scenario.with_suffix("").with_suffix(".truth.json")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'smoke.db'}")
    write_report(replay_file(scenario, settings, analyzer).report, tmp_path / "product.json")
    subprocess.run(
        [
            sys.executable,
            str(shared_dir / "tools" / "naive_baseline.py"),
            str(scenario),
            str(tmp_path / "naive.json"),
        ],
        check=True,
        capture_output=True,
    )
    product = score(shared_dir, truth, tmp_path / "product.json")
    naive = score(shared_dir, truth, tmp_path / "naive.json")

    assert product["incidents_detected"] == product["incidents_total"]
    assert product["false_escalations"] == 0 and product["duplicate_escalations"] == 0
    assert product["cause_top1_accuracy"] == 1.0
    # issue #5's latest-trigger target: every incident paged by its 8th distinct author
    assert all(incident["authors_by_trigger"] <= 8 for incident in product["per_incident"])
    assert product["false_escalations"] < naive["false_escalations"]
    assert product["incidents_detected"] >= naive["incidents_detected"]
