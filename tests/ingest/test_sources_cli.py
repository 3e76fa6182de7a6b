"""``triage sources`` through the real Typer app, on a watched folder (no network needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.cli.app import app
from triage.sources_settings import SourcesSettings


def test_pull_folder_prints_progress_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    line = {
        "type": "post",
        "source": "forum",
        "id": "f1",
        "author": "u1",
        "text": "login fails",
        "created_at": "2026-03-01T10:00:00Z",
    }
    (folder / "posts.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    os.utime(folder / "posts.jsonl", (0, 0))
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", f"sqlite:///{(tmp_path / 'cli.db').as_posix()}")
    monkeypatch.setattr(
        "triage.cli.sources.sources_settings", lambda settings: SourcesSettings(watched_folder=folder)
    )
    runner = CliRunner()

    first = runner.invoke(app, ["sources", "pull", "folder"])
    second = runner.invoke(app, ["sources", "pull", "folder"])
    listing = runner.invoke(app, ["sources", "list"])

    assert first.exit_code == 0, first.output
    assert "1 new post(s)" in first.output and "0 new post(s)" in second.output
    assert "posts.jsonl" in listing.output


def test_unconfigured_source_is_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", f"sqlite:///{(tmp_path / 'cli.db').as_posix()}")
    result = CliRunner().invoke(app, ["sources", "pull", "zendesk"])
    assert result.exit_code != 0
    assert "sources.zendesk_subdomain" in str(result.exception)
