"""`triage model list|promote|rollback` on a temporary artifacts root (no encoder, no datasets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from classifier.artifact import load_artifact, save_artifact
from classifier.comparison import save_evaluation
from classifier.versions import current_version, promotion_log
from tests.classifier.factories import tiny_artifact
from triage.cli.app import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for version, parent in (("v1", None), ("v2", "v1")):
        artifact = tiny_artifact(version)
        artifact.manifest.update(created=f"2026-11-2{version[-1]}T10:00:00+00:00", parent=parent)
        save_artifact(root / version, artifact, f"# {version}\n")
    (root / "DEFAULT").write_text("v1\n")
    return root


def evaluated(root: Path, candidate: str, regressions: list[dict[str, object]]) -> None:
    """What `triage model evaluate` stores, for the gate (the comparison itself is tested elsewhere)."""
    sha = {v: load_artifact(root / v).manifest["weights_sha256"] for v in (candidate, current_version(root))}
    save_evaluation(
        root,
        {
            "candidate": candidate,
            "candidate_sha256": sha[candidate],
            "current": current_version(root),
            "current_sha256": sha[current_version(root)],
            "regressions": regressions,
            "sample": 0,
            "scenarios": ["smoke", "demo"],
        },
    )


def triage(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it: errors are one line and a non-zero exit."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="300")
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_shows_versions_lineage_and_the_log(root: Path) -> None:
    evaluated(root, "v2", [])
    CliRunner().invoke(app, ["model", "promote", "v2", "--artifacts-root", str(root), "--reason", "better"])
    result = CliRunner().invoke(app, ["model", "list", "--artifacts-root", str(root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    v2 = next(line for line in lines if line.startswith("│ v2"))
    assert "yes" in v2 and "v1" in v2  # in use, parent v1
    assert any("promote v1 → v2" in line and ": better" in line for line in lines)


def test_promote_with_a_clean_evaluation_logs_the_os_user_and_reason(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "ana")
    monkeypatch.setenv("LOGNAME", "ana")
    evaluated(root, "v2", [])
    result = CliRunner().invoke(
        app, ["model", "promote", "v2", "--artifacts-root", str(root), "--reason", "why"]
    )
    assert result.exit_code == 0, result.output
    record = promotion_log(root)[-1]
    assert current_version(root) == "v2" and (record.by, record.reason, record.forced) == (
        "ana",
        "why",
        False,
    )
    assert record.evaluation["scenarios"] == ["smoke", "demo"] and record.evaluation["regressions"] == []


def test_promote_refuses_without_an_evaluation_or_with_a_regression(root: Path) -> None:
    missing = triage("model", "promote", "v2", "--artifacts-root", str(root), "--reason", "why")
    assert missing.returncode == 1 and "has not been evaluated" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    evaluated(root, "v2", [{"name": "smoke: incidents detected"}])
    worse = triage("model", "promote", "v2", "--artifacts-root", str(root), "--reason", "why")
    assert (
        worse.returncode == 1
        and "worse than v1 beyond the tolerance on: smoke: incidents detected" in worse.stderr
    )
    assert current_version(root) == "v1" and promotion_log(root) == []
    forced = triage(
        "model", "promote", "v2", "--artifacts-root", str(root), "--reason", "hotfix", "--force", "--by", "bo"
    )
    assert forced.returncode == 0, forced.stderr
    record = promotion_log(root)[-1]
    assert current_version(root) == "v2" and record.forced and record.by == "bo"
    assert record.evaluation["regressions"] == ["smoke: incidents detected"]


def test_reason_is_required(root: Path) -> None:
    result = triage("model", "promote", "v2", "--artifacts-root", str(root))
    assert (
        result.returncode == 1
        and "needs a reason (--reason)" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_promote_a_candidate_folder_from_a_notebook(root: Path, tmp_path: Path) -> None:
    save_artifact(tmp_path / "nb" / "v3", tiny_artifact("v3"), "# v3\n")
    result = CliRunner().invoke(
        app, ["model", "promote", str(tmp_path / "nb" / "v3"), "--artifacts-root", str(root), "--reason", "x"]
    )
    assert result.exit_code != 0 and "has not been evaluated" in str(result.exception)
    assert not (root / "v3").exists()  # nothing copied when refused
    result = CliRunner().invoke(
        app,
        [
            "model",
            "promote",
            str(tmp_path / "nb" / "v3"),
            "--artifacts-root",
            str(root),
            "--reason",
            "x",
            "--force",
        ],
    )
    assert result.exit_code == 0, result.output
    assert current_version(root) == "v3" and load_artifact(root / "v3").version == "v3"


def test_rollback_returns_to_the_previous_promotion(root: Path) -> None:
    evaluated(root, "v2", [])
    CliRunner().invoke(app, ["model", "promote", "v2", "--artifacts-root", str(root), "--reason", "better"])
    result = CliRunner().invoke(
        app, ["model", "rollback", "--artifacts-root", str(root), "--reason", "pages too often", "--by", "bo"]
    )
    assert result.exit_code == 0, result.output
    assert current_version(root) == "v1"
    assert [(r.action, r.version, r.by) for r in promotion_log(root)][-1] == ("rollback", "v1", "bo")
    again = triage("model", "rollback", "--artifacts-root", str(root), "--reason", "again")
    assert again.returncode == 1 and "nothing to roll back to" in again.stderr


def test_the_root_follows_the_model_dir_setting(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_TRIAGE_MODEL_DIR", str(root))
    evaluated(root, "v2", [])
    result = CliRunner().invoke(app, ["model", "promote", "v2", "--reason", "configured root"])
    assert result.exit_code == 0, result.output
    assert current_version(root) == "v2"


def test_the_first_promotion_into_a_fresh_root_needs_no_comparison(root: Path) -> None:
    (root / "DEFAULT").unlink()
    result = CliRunner().invoke(
        app, ["model", "promote", "v2", "--artifacts-root", str(root), "--reason", "start"]
    )
    assert result.exit_code == 0, result.output
    record = promotion_log(root)[-1]
    assert current_version(root) == "v2" and record.previous is None and not record.forced
