"""Configured secrets never appear in logs, errors, stored rows or the UI, and escalation target URLs
are validated (http(s) with a host, no credentials in them, https unless on this machine).

The full run is the embedded service as a real process (``triage run --once`` on a watched folder,
delivering to a loopback receiver that refuses with a 503 whose body echoes the request, so the
retry path and its stored error run too) with every logger at DEBUG; its stdout, stderr, every
log record and a dump of the database are searched for each secret value. The UI and API pages are
then rendered with the same settings and searched the same way.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from tests.faults.support import PATIENCE_SECONDS, service_env, write_scenario
from triage.errors import ConfigurationError
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.settings import Settings

SECRETS = {
    "webhook": "whsec_" + base64.b64encode(b"never-print-this-webhook-key-32!").decode(),
    "api_key": "api-key-never-printed-7f3a9c",
    "session": "session-secret-never-printed-41d2",
    "github": "github-secret-never-printed-9e1b",
    "alertmanager": "alertmanager-token-never-printed-55c0",
    "twitter": "twitter-bearer-never-printed-a8d4",
    "zendesk": "zendesk-token-never-printed-0b7e",
    "salt": "author-salt-never-printed-c3f1",
}


def secret_env() -> dict[str, str]:
    return {
        "SIGNAL_TRIAGE_API": json.dumps(
            {
                "keys": [{"name": "lead", "key": SECRETS["api_key"], "role": "admin"}],
                "session_secret": SECRETS["session"],
            }
        ),
        "SIGNAL_TRIAGE_SOURCES__WEBHOOKS__GITHUB_SECRET": SECRETS["github"],
        "SIGNAL_TRIAGE_SOURCES__WEBHOOKS__ALERTMANAGER_TOKEN": SECRETS["alertmanager"],
        "SIGNAL_TRIAGE_SOURCES__TWITTER_BEARER_TOKEN": SECRETS["twitter"],
        "SIGNAL_TRIAGE_SOURCES__ZENDESK_TOKEN": SECRETS["zendesk"],
        "SIGNAL_TRIAGE_SOURCES__ZENDESK_SUBDOMAIN": "acme",
        "SIGNAL_TRIAGE_SOURCES__ZENDESK_EMAIL": "agent@example.com",
        "SIGNAL_TRIAGE_SOURCES__AUTHOR_HASH_SALT": SECRETS["salt"],
    }


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


@pytest.fixture
def echoing_receiver() -> Iterator[str]:
    """Answers 503 with a minute's Retry-After and the request (headers and body) echoed back, so the
    message is put back in the outbox with that answer as its stored error."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            echo = (str(dict(self.headers)) + body.decode()).encode()
            self.send_response(503)
            self.send_header("Retry-After", "60")
            self.send_header("Content-Length", str(len(echo)))
            self.end_headers()
            self.wfile.write(echo)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_a_full_run_prints_logs_and_stores_no_secret(tmp_path: Path, echoing_receiver: str) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    write_scenario(folder / "day.jsonl")
    os.utime(folder / "day.jsonl", (1_000_000, 1_000_000))
    database = tmp_path / "triage.db"
    escalation = {
        "targets": [
            {"name": "hook", "kind": "webhook", "url": echoing_receiver, "secret": SECRETS["webhook"]}
        ],
    }
    env = service_env(database, folder, SIGNAL_TRIAGE_ESCALATION=json.dumps(escalation), **secret_env())
    # the CLI's own entry point, with every logger (httpx, sqlalchemy, the delivery worker) at DEBUG
    program = (
        "import logging, sys; logging.basicConfig(level=logging.DEBUG); "
        "sys.argv = ['triage', 'run', '--once', '--source', 'folder']; "
        "from triage.cli.app import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "delivery: " in result.stderr and "outbox_retry_later" in result.stderr, (
        "the retry path must have run"
    )
    assert "DEBUG" in result.stderr, "the run must have logged at DEBUG for this test to mean anything"
    assert leaks(result.stdout + result.stderr) == []
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    assert "503" in dump, "the refused attempt's error is stored"
    assert leaks(dump) == []


def test_ui_api_and_error_pages_show_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in secret_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "SIGNAL_TRIAGE_ESCALATION",
        json.dumps(
            {
                "targets": [
                    {
                        "name": "hook",
                        "kind": "webhook",
                        "url": "https://hooks.example",
                        "secret": SECRETS["webhook"],
                    }
                ]
            }
        ),
    )
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{(tmp_path / 'ui.db').as_posix()}")
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    key = {"X-API-Key": SECRETS["api_key"]}
    pages = [
        "/",
        "/sentiment",
        "/sources",
        "/login",
        "/docs",
        "/openapi.json",
        "/v1/sources",
        "/v1/models",
        "/v1/health",
    ]
    seen = [client.get(page, headers=key) for page in pages]
    seen.append(client.get("/v1/clusters", headers={"X-API-Key": "wrong-" + SECRETS["api_key"]}))
    seen.append(
        client.post("/v1/changes/github", content=b"{}", headers={"x-hub-signature-256": "sha256=00"})
    )
    seen.append(
        client.post("/login", data={"key": SECRETS["api_key"][:-1]}, headers={"origin": "http://testserver"})
    )
    for response in seen:
        assert response.status_code < 500, (response.url, response.status_code)
        assert leaks(response.text) == [], response.url
        assert leaks(str(response.headers)) == [], response.url
    assert leaks(repr(settings)) == [] and leaks(str(settings.model_dump())) == []


@pytest.mark.parametrize(
    "kind,url,problem",
    [
        ("webhook", "ftp://hooks.example/x", "http:// or https:// URL"),
        ("webhook", "hooks.example/x", "http:// or https:// URL"),
        ("webhook", "https://user:hunter2@hooks.example/x", "must not carry credentials"),
        ("webhook", "http://hooks.example/x", "must start with https://"),
        ("webhook", "https://hooks.example:notaport/x", "not a valid URL"),
        ("zendesk", "http://acme.zendesk.com", "must start with https://"),
        ("pagerduty", "https://key:s3cr3t@events.pagerduty.com", "must not carry credentials"),
    ],
)
def test_target_urls_are_validated_without_quoting_them(kind: str, url: str, problem: str) -> None:
    target = TargetSettings.model_validate(
        {
            "name": "t",
            "kind": kind,
            "url": url,
            "secret": SECRETS["webhook"],
            "email": "a@b.c",
            "routing_key": "rk",
        }
    )
    with pytest.raises(ConfigurationError) as error:
        EscalationSettings(targets=[target]).check()
    assert problem in str(error.value)
    assert (
        url not in str(error.value) and "hunter2" not in str(error.value) and "s3cr3t" not in str(error.value)
    )


@pytest.mark.parametrize(
    "url", ["https://hooks.example/x", "http://127.0.0.1:9000/x", "http://localhost/x", "http://[::1]:80/"]
)
def test_good_target_urls_pass(url: str) -> None:
    target = TargetSettings(name="t", kind="webhook", url=url, secret=SecretStr(SECRETS["webhook"]))
    EscalationSettings(targets=[target]).check()
