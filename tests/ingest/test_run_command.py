"""``triage run``: the schedule with an injected clock, the command on a watched folder, and its jobs."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import typer
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from classifier.analysis import Analyzer
from ingest.errors import SourceAuthError
from ingest.records import ChangeEvent, Post
from triage.cli.run import (
    AnalysedSince,
    Job,
    StopRequested,
    analysis_job,
    delivery_job,
    run,
    run_schedule,
    triage_job,
)
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.settings import Settings
from triage.sources_settings import SourcesSettings
from triage.storage.intake import store_changes, store_posts
from triage.storage.models import AnalysisRow

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """A clock that moves only when the scheduler waits (or a job says it took time)."""

    def __init__(self) -> None:
        self.now = START
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)

    def elapsed(self) -> float:
        return (self.now - START).total_seconds()


def recording_job(name: str, every: float, runs: list[tuple[str, float]], fake: FakeTime) -> Job:
    def work() -> None:
        runs.append((name, fake.elapsed()))
        return None

    return Job(name=name, interval=timedelta(seconds=every), work=work)


def no_errors(job: Job, error: Exception, fatal: bool) -> None:
    raise AssertionError(f"{job.name} failed: {error!r}")


def test_each_job_runs_on_its_own_interval() -> None:
    fake, runs = FakeTime(), list[tuple[str, float]]()
    jobs = [recording_job("x", 10, runs, fake), recording_job("analysis", 25, runs, fake)]

    run_schedule(
        jobs, clock=fake.clock, wait=fake.wait, should_stop=lambda: fake.elapsed() > 50, on_error=no_errors
    )

    assert runs == [
        ("x", 0),
        ("analysis", 0),
        ("x", 10),
        ("x", 20),
        ("analysis", 25),
        ("x", 30),
        ("x", 40),
        ("x", 50),
        ("analysis", 50),
    ]


def test_a_rate_limited_source_comes_back_after_the_reset_not_the_interval() -> None:
    fake, runs = FakeTime(), list[tuple[str, float]]()
    reset = START + timedelta(minutes=15)

    def limited() -> datetime | None:
        runs.append(("x", fake.elapsed()))
        return reset if len(runs) == 1 else None

    jobs = [Job("x", timedelta(seconds=60), limited)]
    run_schedule(
        jobs, clock=fake.clock, wait=fake.wait, should_stop=lambda: len(runs) >= 3, on_error=no_errors
    )

    assert runs == [("x", 0), ("x", 901), ("x", 961)]


def test_a_rejected_token_drops_that_source_and_a_5xx_is_retried() -> None:
    fake, runs = FakeTime(), list[tuple[str, float]]()
    errors: list[tuple[str, str, bool]] = []

    def dead_token() -> None:
        raise SourceAuthError("X rejected the bearer token (401 Unauthorized)")

    def flaky() -> None:
        runs.append(("zendesk", fake.elapsed()))
        if len(runs) == 1:
            raise requests.HTTPError("503 Server Error: Service Unavailable")
        return None

    jobs = [Job("twitter", timedelta(seconds=10), dead_token), Job("zendesk", timedelta(seconds=10), flaky)]
    run_schedule(
        jobs,
        clock=fake.clock,
        wait=fake.wait,
        should_stop=lambda: fake.elapsed() > 20,
        on_error=lambda job, error, fatal: errors.append((job.name, type(error).__name__, fatal)),
    )

    assert errors == [("twitter", "SourceAuthError", True), ("zendesk", "HTTPError", False)]
    assert runs == [("zendesk", 0), ("zendesk", 10), ("zendesk", 20)]


def test_a_stop_between_batches_ends_the_schedule_and_once_runs_each_job_one_time() -> None:
    fake, runs = FakeTime(), list[tuple[str, float]]()

    def stopping() -> None:
        raise StopRequested

    stopped = [Job("x", timedelta(seconds=10), stopping), recording_job("never", 10, runs, fake)]
    run_schedule(stopped, clock=fake.clock, wait=fake.wait, should_stop=lambda: False, on_error=no_errors)
    once = [recording_job("x", 10, runs, fake), recording_job("analysis", 30, runs, fake)]
    run_schedule(
        once, clock=fake.clock, wait=fake.wait, should_stop=lambda: False, on_error=no_errors, once=True
    )

    assert runs == [("x", 0), ("analysis", 0)] and fake.waits == []


# --- the command --------------------------------------------------------------------------------


def drop_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    lines = [
        json.dumps(
            {
                "type": "post",
                "source": "forum",
                "id": f"f{index}",
                "author": f"u{index}",
                "text": "payments fail",
                "created_at": "2026-03-01T10:00:00Z",
            }
        )
        for index in range(count)
    ]
    (folder / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(folder / "posts.jsonl", (0, 0))
    return folder


def command_app() -> typer.Typer:
    app = typer.Typer()
    app.command("run")(run)

    @app.callback()
    def main() -> None:
        """Keeps `run` a subcommand, as in the real app."""

    return app


def test_run_once_pulls_every_configured_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", f"sqlite:///{(tmp_path / 'run.db').as_posix()}")
    config = SourcesSettings(watched_folder=drop_folder(tmp_path, 3))
    monkeypatch.setattr("triage.cli.run.sources_settings", lambda settings: config)
    monkeypatch.setattr("triage.cli.sources.sources_settings", lambda settings: config)
    from triage.cli.app import app as triage_app

    CliRunner().invoke(triage_app, ["sources", "add", "second-drop", "--kind", "folder"])
    result = CliRunner().invoke(command_app(), ["run", "--once", "--no-analysis", "-q"])

    assert result.exit_code == 0, result.output
    assert "running folder, second-drop" in result.output
    assert "folder: 1 batch(es), 3 new post(s)" in result.output
    assert "second-drop: 1 batch(es), 0 new post(s), 3 already stored" in result.output


def test_run_with_nothing_configured_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", f"sqlite:///{(tmp_path / 'run.db').as_posix()}")
    monkeypatch.setattr("triage.cli.run.sources_settings", lambda settings: SourcesSettings())
    result = CliRunner().invoke(command_app(), ["run", "--once", "--no-analysis"])
    assert result.exit_code != 0 and "nothing to run: configure a source" in str(result.exception)


def test_ctrl_c_stops_after_the_stored_batch(tmp_path: Path) -> None:
    """A real SIGINT to a running `triage run`: it ends cleanly, and a restart stores the rest once."""
    folder = drop_folder(tmp_path, 3000)
    database = tmp_path / "run.db"
    env = {
        **os.environ,
        "SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{database.as_posix()}",
        "SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER": str(folder),
        "SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_SETTLE_SECONDS": "0",
        "SIGNAL_TRIAGE_SOURCES__POLL_INTERVAL_SECONDS": "3600",
    }
    # until `run` is registered on the app, it is started as its own Typer command
    script = "import typer; from triage.cli.run import run; typer.run(run)"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--no-analysis", "--batch-lines", "10"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:  # bounded by the deadline and by the process ending
        if "folder: batch 1:" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)

    assert process.returncode == 0, rest
    assert "stopped; every stored batch and its cursor are kept" in rest
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert 0 < stored < 3000, "the stop did not land mid-ingest"

    again = subprocess.run(
        [sys.executable, "-c", script, "--no-analysis", "--once", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert f"{3000 - stored} new post(s), 0 already stored" in again.stderr


# --- the analysis, triage and delivery jobs, on the real model ----------------------------------


def test_analysis_then_triage_and_triage_waits_for_something_new(
    sessions: sessionmaker[Session], analyzer: Analyzer, tmp_path: Path
) -> None:
    with sessions.begin() as session:
        store_posts(session, "acme", [complaint(index) for index in range(6)])
    settings = Settings(data_dir=tmp_path)
    output = io.StringIO()
    console = Console(file=output, width=200)
    analysed = AnalysedSince()
    analysis = analysis_job(sessions, "acme", settings, analyzer, analysed, threading.Event(), console, 30)
    triage = triage_job(sessions, "acme", settings, analyzer, analysed, console, 60)

    analysis.work()
    triage.work()
    analysis.work()  # nothing new
    triage.work()  # skipped: nothing analysed, no change, no decision
    with sessions.begin() as session:
        store_changes(session, "acme", [deploy()])
    triage.work()

    lines = output.getvalue().splitlines()
    assert lines[0] == "analysis: 6 new post(s) analysed"
    assert [line.split(",")[0] for line in lines[1:]] == ["triage: 6 post(s)", "triage: 6 post(s)"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnalysisRow)) == 6


def webhook_target() -> TargetSettings:
    secret = SecretStr("whsec_" + "QUJD" * 8)
    return TargetSettings(name="hook", kind="webhook", url="https://hooks.example.com/triage", secret=secret)


def test_delivery_job_runs_a_pass_over_the_outbox(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    target = webhook_target()
    settings = Settings(data_dir=tmp_path, escalation=EscalationSettings(targets=[target]))
    output = io.StringIO()

    job, close = delivery_job(sessions, settings, Console(file=output), 10)
    try:
        assert job.work() is None
    finally:
        close()

    assert job.name == "delivery" and output.getvalue() == ""  # an empty outbox says nothing


def complaint(index: int) -> Post:
    return Post(
        source="forum",
        external_id=f"c{index}",
        author_key=f"u{index}",
        text=f"card payments are declined at checkout again ({index})",
        created_at=datetime(2026, 3, 1, 10, index, tzinfo=UTC),
    )


def deploy() -> ChangeEvent:
    return ChangeEvent(
        external_id="d1",
        service="payments",
        kind="deploy",
        summary="payments v2.3",
        started_at=datetime(2026, 3, 1, 9, 55, tzinfo=UTC),
        source="github",
    )


def test_run_once_runs_every_stage_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analyzer: Analyzer
) -> None:
    config = SourcesSettings(watched_folder=drop_folder(tmp_path, 3), tenant="acme")
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{(tmp_path / 'run.db').as_posix()}",
        sources=config,
        escalation=EscalationSettings(targets=[webhook_target()]),
    )
    monkeypatch.setattr("triage.cli.run.Settings", lambda: settings)
    monkeypatch.setattr("classifier.analysis.load_analyzer", lambda model_dir, backend="torch": analyzer)

    result = CliRunner().invoke(command_app(), ["run", "--once", "-q"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("model v") and lines[1].startswith(
        "running folder, analysis, triage, delivery"
    )
    assert lines[2] == "folder: 1 batch(es), 3 new post(s), 0 already stored"
    assert lines[3] == "analysis: 3 new post(s) analysed"
    assert lines[4].startswith("triage: 3 post(s), ")
