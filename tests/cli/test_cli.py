"""The ``triage`` command line as a person uses it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import write_small_scenario

COMMANDS = [
    "replay",
    "demo",
    "analyze",
    "model",
    "serve",
    "run",
    "sources",
    "outbox",
    "keys",
    "labels",
    "worker",
    "beat",
]


def run_triage(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SIGNAL_TRIAGE_DATA_DIR=str(cwd / "var"), HF_HUB_OFFLINE="1", COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "triage", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_help_explains_every_command(tmp_path: Path) -> None:
    result = run_triage("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(tmp_path: Path, command: str) -> None:
    result = run_triage(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_a_bad_option_value_is_a_usage_message_not_a_traceback(tmp_path: Path) -> None:
    result = run_triage("outbox", "list", "--status", "bogus", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown status 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_line_is_one_clear_error_and_a_nonzero_exit(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.jsonl"
    scenario.write_text('{"type": "service", "name": "cards"}\n{"type": "post", "id": 3\n', encoding="utf-8")
    result = run_triage(
        "replay", str(scenario), "--report", str(tmp_path / "r.json"), "--quiet", cwd=tmp_path
    )
    assert result.returncode == 1
    assert f"{scenario}:2: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_replay_writes_the_report_and_summarises(tmp_path: Path) -> None:
    write_small_scenario(tmp_path / "bank.jsonl")
    result = run_triage("replay", "bank.jsonl", "--report", "out/report.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["escalations"]) == 1
    assert "Incident" in result.stdout and "likely cause #1: c1" in result.stdout
    assert "Full report:" in result.stdout and "signal-triage.db" in result.stdout


def test_skip_invalid_goes_on_and_says_how_many(tmp_path: Path) -> None:
    write_small_scenario(tmp_path / "bank.jsonl")
    with (tmp_path / "bank.jsonl").open("a") as handle:
        handle.write("{broken\n")
    result = run_triage("replay", "bank.jsonl", "--report", "r.json", "--skip-invalid", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 invalid line(s) skipped" in result.stdout
