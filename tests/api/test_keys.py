"""Stored API keys: created by ``triage keys create``, kept only as salted hashes, with roles."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from tests.api.factories import build_incident_day
from triage.access.models import ApiKeyRow
from triage.access.service import ApiKeyError, create_api_key, find_api_key, revoke_api_key
from triage.access.settings import ApiKey, ApiSettings
from triage.cli.keys import keys_app
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, transaction
from triage.storage.models import Base

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
POST = {
    "source": "forum",
    "id": "f1",
    "author": "a1",
    "text": "checkout is broken",
    "created_at": NOW.isoformat(),
}


def _create(app: FastAPI, name: str, role: str) -> str:
    with transaction(app.state.sessions) as session:
        return create_api_key(session, name, role, NOW).key


def test_only_a_salted_hash_is_stored(app: FastAPI) -> None:
    first, second = _create(app, "dana", "lead"), _create(app, "dana", "lead")
    secret = first.split("_", 2)[2]
    with transaction(app.state.sessions) as session:
        rows = session.scalars(select(ApiKeyRow)).all()
    stored_text = " ".join(f"{row.key_id} {row.salt} {row.secret_hash}" for row in rows)
    assert secret not in stored_text and first not in stored_text and second not in stored_text
    assert hashlib.sha256(secret.encode()).hexdigest() not in stored_text
    assert rows[0].salt != rows[1].salt and len(rows[0].secret_hash) == 64


def test_a_key_is_found_only_with_its_whole_secret(app: FastAPI) -> None:
    key = _create(app, "dana", "lead")
    with transaction(app.state.sessions) as session:
        assert find_api_key(session, key).name == "dana"  # type: ignore[union-attr]
        assert find_api_key(session, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert find_api_key(session, "st_000000000000_nope") is None
        assert find_api_key(session, "not-a-stored-key") is None


def test_unknown_role_and_empty_name_are_refused(app: FastAPI) -> None:
    with transaction(app.state.sessions) as session, pytest.raises(ApiKeyError, match="unknown role"):
        create_api_key(session, "dana", "owner", NOW)
    with transaction(app.state.sessions) as session, pytest.raises(ApiKeyError, match="needs a name"):
        create_api_key(session, "  ", "viewer", NOW)


def test_a_stored_key_ends_open_mode_and_acts_under_its_name(app: FastAPI, client: TestClient) -> None:
    assert client.get("/v1/clusters").status_code == 200  # open mode: no keys anywhere
    key = _create(app, "dana", "lead")
    assert client.get("/v1/clusters").status_code == 401
    acted = client.post("/v1/clusters/k-pay/actions", json={"action": "confirm"}, headers={"X-API-Key": key})
    assert acted.status_code == 201 and acted.json()["actor"] == "dana"


def test_a_revoked_key_is_refused_and_the_server_stays_keyed(app: FastAPI, client: TestClient) -> None:
    key = _create(app, "vic", "viewer")
    assert client.get("/v1/clusters", headers={"X-API-Key": key}).status_code == 200
    with transaction(app.state.sessions) as session:
        revoke_api_key(session, key.split("_")[1], NOW)
    assert client.get("/v1/clusters", headers={"X-API-Key": key}).status_code == 401
    assert client.get("/v1/clusters").status_code == 401


def test_revoking_a_stored_key_ends_its_ui_session(app: FastAPI, client: TestClient) -> None:
    key = _create(app, "vic", "viewer")
    client.post("/login", data={"key": key})
    cookie = client.cookies["signal_triage_session"]
    assert key not in cookie and key.split("_", 2)[2] not in cookie
    assert client.get("/v1/clusters").status_code == 200
    with transaction(app.state.sessions) as session:
        revoke_api_key(session, key.split("_")[1], NOW)
    assert client.get("/v1/clusters").status_code == 401


def test_ingest_key_pushes_posts_and_nothing_else(app: FastAPI, client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {_create(app, 'forum-bridge', 'ingest')}"}
    pushed = client.post("/v1/posts", json=[POST], headers=headers)
    assert pushed.status_code == 200 and pushed.json()["stored"] == 1
    assert client.get("/v1/clusters", headers=headers).status_code == 403
    assert client.get("/v1/posts", headers=headers).status_code == 403
    assert client.get("/", headers={**headers, "accept": "text/html"}).status_code == 403


def test_ingest_key_cannot_sign_in_to_the_web_ui(app: FastAPI, client: TestClient) -> None:
    key = _create(app, "forum-bridge", "ingest")
    response = client.post("/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303 and "error=" in response.headers["location"]
    assert "signal_triage_session" not in response.cookies


def test_lead_may_not_push_posts(app: FastAPI, client: TestClient) -> None:
    headers = {"X-API-Key": _create(app, "dana", "lead")}
    refused = client.post("/v1/posts", json=[POST], headers=headers)
    assert refused.status_code == 403 and "ingest" in refused.json()["detail"]


@pytest.fixture
def configured_and_stored(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    keys = [ApiKey(name="ops", key=SecretStr("configured-key"), role="admin")]
    app = create_app(settings.model_copy(update={"api": ApiSettings(keys=keys)}))
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    stored = _create(app, "vic", "viewer")
    with TestClient(app) as test_client:
        yield test_client, stored
    app.state.engine.dispose()


def test_configured_keys_keep_working_beside_stored_ones(
    configured_and_stored: tuple[TestClient, str],
) -> None:
    client, stored = configured_and_stored
    assert client.get("/v1/clusters", headers={"X-API-Key": "configured-key"}).status_code == 200
    assert client.get("/v1/clusters", headers={"X-API-Key": stored}).status_code == 200
    client.post("/login", data={"key": stored})
    assert "vic · viewer" in client.get("/").text


def test_cli_creates_shows_once_lists_and_revokes(tmp_path: Path) -> None:
    env = {"SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{(tmp_path / 'keys.db').as_posix()}", "COLUMNS": "200"}
    runner = CliRunner()

    created = runner.invoke(keys_app, ["create", "--role", "lead", "--name", "dana"], env=env)
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("st_") and "not shown again" in created.output

    listed = runner.invoke(keys_app, ["list"], env=env)
    key_id = key.split("_")[1]
    assert listed.exit_code == 0 and key_id in listed.output and "dana" in listed.output
    assert key.split("_", 2)[2] not in listed.output

    assert runner.invoke(keys_app, ["revoke", key_id], env=env).exit_code == 0
    engine = create_db_engine(env["SIGNAL_TRIAGE_DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(ApiKeyRow.revoked_at)) is not None
    engine.dispose()


def test_cli_refuses_an_unknown_role(tmp_path: Path) -> None:
    env = {"SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{(tmp_path / 'keys.db').as_posix()}"}
    result = CliRunner().invoke(keys_app, ["create", "--role", "owner", "--name", "x"], env=env)
    assert result.exit_code == 2 and "owner" in result.output


def test_migration_0004_matches_the_model(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{(tmp_path / 'm.db').as_posix()}")
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [diff for diff in differences if "api_keys" in repr(diff)] == []
    engine.dispose()


def test_cli_role_choices_are_the_roles() -> None:
    from triage.access.settings import ROLES
    from triage.cli.keys import RoleChoice

    assert tuple(choice.value for choice in RoleChoice) == ROLES
