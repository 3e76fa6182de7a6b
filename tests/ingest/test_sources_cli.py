"""``triage sources`` through the real Typer app: a watched folder, and X and Zendesk faked at the wire."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers
from typer.testing import CliRunner, Result

from tests.ingest.x_fakes import SEARCH_URL, rate_headers, search_page, tweet
from tests.ingest.zendesk_fakes import BASE, EXPORT_URL, comments, export_page, ticket
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


# --- add, list, test, backfill -------------------------------------------------------------------

NOW = datetime.now(UTC)


def folder_with_posts(tmp_path: Path, count: int, name: str = "posts.jsonl") -> Path:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    lines = [
        json.dumps(
            {
                "type": "post",
                "source": "forum",
                "id": f"f{index}",
                "author": f"u{index}",
                "text": "login fails",
                "created_at": "2026-03-01T10:00:00Z",
            }
        )
        for index in range(count)
    ]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(folder / name, (0, 0))
    return folder


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **settings: object) -> None:
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", f"sqlite:///{(tmp_path / 'cli.db').as_posix()}")
    config = SourcesSettings.model_validate(settings)
    monkeypatch.setattr("triage.cli.sources.sources_settings", lambda _settings: config)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["sources", *args])


def test_an_added_source_is_listed_and_pulled_with_its_own_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, watched_folder=folder_with_posts(tmp_path, 3))

    added = invoke("add", "support-drop", "--kind", "folder")
    again = invoke("add", "support-drop", "--kind", "folder")
    before = invoke("list")
    pulled = invoke("pull", "support-drop", "-q")
    builtin = invoke("pull", "folder", "-q")
    after = invoke("list")

    assert added.exit_code == 0 and "added support-drop (folder)" in added.output
    assert "already there" in again.output
    assert "support-drop (folder)" in before.output and "never pulled" in before.output
    assert "3 new post(s)" in pulled.output
    assert "0 new post(s), 3 already stored" in builtin.output  # its own cursor, the same posts
    assert after.output.count("posts.jsonl") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "drop", "--kind", "ftp"], "unknown kind 'ftp'"),
        (["add", "zendesk", "--kind", "folder"], "built-in zendesk source"),
        (["pull", "nowhere"], "triage sources add nowhere --kind KIND"),
    ],
)
def test_names_and_kinds_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    configure(monkeypatch, tmp_path)
    result = invoke(*args)
    assert result.exit_code != 0 and message in str(result.exception)


def test_an_added_name_keeps_its_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path)
    invoke("add", "drop", "--kind", "folder")
    result = invoke("add", "drop", "--kind", "zendesk")
    assert "exists already as kind 'folder'" in str(result.exception)


def test_folder_check_counts_ready_files_and_names_a_missing_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, watched_folder=folder_with_posts(tmp_path, 1))
    ok = invoke("test", "folder")
    configure(monkeypatch, tmp_path, watched_folder=tmp_path / "missing")
    missing = invoke("test", "folder")

    assert ok.exit_code == 0 and ok.output.startswith("OK folder:") and "1 JSONL/CSV file(s)" in ok.output
    assert missing.exit_code == 1 and missing.output.count("\n") == 1
    assert missing.output.startswith("FAIL folder: cannot read") and "not a folder" in missing.output


def test_unconfigured_source_check_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path)
    result = invoke("test", "zendesk")
    assert result.exit_code == 1 and "FAIL zendesk: Zendesk needs sources.zendesk_subdomain" in result.output


X_SETTINGS = {"twitter_bearer_token": "x-token", "author_hash_salt": "pepper", "twitter_query": "@acme"}


@responses.activate
def test_x_check_sends_one_search_and_reports_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, **X_SETTINGS)
    responses.add(
        responses.GET, SEARCH_URL, json=search_page([tweet(5), tweet(4)]), headers=rate_headers(448)
    )

    result = invoke("test", "twitter")

    assert result.exit_code == 0, result.output
    assert "OK twitter: X accepted the bearer token" in result.output
    assert "finds 2 recent post(s)" in result.output and "448/450 requests left" in result.output
    assert len(responses.calls) == 1 and "max_results=10" in str(responses.calls[0].request.url)


@responses.activate
def test_x_check_with_a_revoked_token_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path, **X_SETTINGS)
    responses.add(
        responses.GET,
        SEARCH_URL,
        status=401,
        json={"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    )

    result = invoke("test", "twitter")

    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "FAIL twitter: X rejected the bearer token (401 Unauthorized)" in result.output
    assert "x-token" not in result.output


@responses.activate
def test_x_check_names_an_unreachable_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path, **X_SETTINGS)
    responses.add(responses.GET, SEARCH_URL, body=requests.ConnectionError("connection refused"))

    result = invoke("test", "twitter")

    assert result.exit_code == 1
    assert "FAIL twitter: cannot reach the API (ConnectionError: connection refused)" in result.output


ZENDESK_SETTINGS = {"zendesk_subdomain": "acme", "zendesk_email": "agent@acme.test", "zendesk_token": "zd"}
ME_URL = f"{BASE}/users/me.json"


@responses.activate
def test_zendesk_check_signs_in_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path, **ZENDESK_SETTINGS)
    responses.add(
        responses.GET,
        ME_URL,
        json={"user": {"id": 42, "email": "agent@acme.test", "role": "agent", "name": "Agent"}},
    )
    result = invoke("test", "zendesk")
    assert result.exit_code == 0, result.output
    assert "OK zendesk: Zendesk acme.zendesk.com accepted the token of agent@acme.test" in result.output


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": "Couldn't authenticate you"}, "Zendesk refused the API token (401)"),
        (200, {"user": {"id": None, "email": "invalid@example.com", "role": "end-user"}}, "did not sign in"),
    ],
)
@responses.activate
def test_zendesk_check_with_bad_credentials_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, body: dict[str, object], message: str
) -> None:
    configure(monkeypatch, tmp_path, **ZENDESK_SETTINGS)
    responses.add(responses.GET, ME_URL, status=status, json=body)
    result = invoke("test", "zendesk")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("FAIL zendesk:") and message in result.output


@responses.activate
def test_zendesk_backfill_exports_from_since_through_the_pull(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, **ZENDESK_SETTINGS)
    responses.add(
        responses.GET,
        EXPORT_URL,
        match=[matchers.query_param_matcher({"start_time": "1772276400", "per_page": "100"})],
        json=export_page([ticket(7)], "c9", True),
    )
    responses.add(responses.GET, f"{BASE}/tickets/7/comments.json", json=comments(7, []))

    result = invoke("backfill", "zendesk", "--since", "2026-02-28T11:00:00Z", "-q")
    listing = invoke("list")

    assert result.exit_code == 0, result.output
    assert "zendesk: 1 batch(es), 1 new post(s)" in result.output
    assert "'after_cursor': 'c9'" in listing.output


@responses.activate
def test_x_backfill_searches_from_start_time_then_polls_from_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, **X_SETTINGS)
    since = (NOW - timedelta(days=2)).replace(microsecond=0)
    start = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = "author_id,created_at,lang,public_metrics,conversation_id"
    base = {"query": "@acme", "max_results": "100", "tweet.fields": fields, "start_time": start}
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=[matchers.query_param_matcher(base)],
        json=search_page([tweet(9), tweet(8)], next_token="p2"),
        headers=rate_headers(440),
    )
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=[matchers.query_param_matcher({**base, "next_token": "p2"})],
        json=search_page([tweet(7)]),
        headers=rate_headers(439),
    )

    result = invoke("backfill", "twitter", "--since", since.isoformat(), "-q")
    listing = invoke("list")

    assert result.exit_code == 0, result.output
    assert "twitter: 2 batch(es), 3 new post(s)" in result.output
    assert "{'since_id': '9'}" in listing.output


def test_x_backfill_beyond_seven_days_says_how_far_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, tmp_path, **X_SETTINGS)
    since = (NOW - timedelta(days=9)).isoformat()
    result = invoke("backfill", "twitter", "--since", since)
    assert result.exit_code != 0 and "reaches back 7 days" in str(result.exception)


def test_folder_backfill_reads_changed_files_again_and_stores_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = folder_with_posts(tmp_path, 4)
    folder_with_posts(tmp_path, 2, name="old.jsonl")
    os.utime(folder / "posts.jsonl", (1_000_000, 1_000_000))
    configure(monkeypatch, tmp_path, watched_folder=folder, watched_folder_settle_seconds=0)
    invoke("pull", "folder", "-q")

    result = invoke("backfill", "folder", "--since", "1970-01-06T00:00:00Z", "-q")

    assert result.exit_code == 0, result.output
    # only posts.jsonl (modified after --since) is read again; old.jsonl keeps its position
    assert "0 new post(s), 4 already stored" in result.output


def test_backfill_rejects_a_malformed_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, tmp_path)
    result = invoke("backfill", "zendesk", "--since", "last tuesday")
    assert result.exit_code == 2 and "not an ISO time" in result.output
