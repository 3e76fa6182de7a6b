"""API keys with roles, and the labels export."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from tests.api.factories import build_incident_day
from triage.access.settings import ApiKey, ApiSettings
from triage.settings import Settings
from triage.storage.database import transaction


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient]:
    keys = [
        ApiKey(name="vic", key=SecretStr("view-key"), role="viewer"),
        ApiKey(name="dana", key=SecretStr("lead-key"), role="lead"),
    ]
    app = create_app(settings.model_copy(update={"api": ApiSettings(keys=keys)}))
    with transaction(app.state.sessions) as session:
        build_incident_day(session)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def test_no_key_is_401_problem(keyed: TestClient) -> None:
    response = keyed.get("/v1/clusters")
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"].endswith("/unauthorized")


def test_viewer_reads_but_cannot_act(keyed: TestClient) -> None:
    headers = {"X-API-Key": "view-key"}
    assert keyed.get("/v1/clusters", headers=headers).status_code == 200
    refused = keyed.post("/v1/clusters/k-pay/actions", json={"action": "confirm"}, headers=headers)
    assert refused.status_code == 403 and "lead" in refused.json()["detail"]


def test_lead_acts_and_is_recorded_by_name(keyed: TestClient) -> None:
    response = keyed.post(
        "/v1/clusters/k-pay/actions", json={"action": "confirm"}, headers={"Authorization": "Bearer lead-key"}
    )
    assert response.status_code == 201 and response.json()["actor"] == "dana"


def test_ui_sign_in_sets_a_cookie(keyed: TestClient) -> None:
    assert keyed.get("/", headers={"accept": "text/html"}).status_code == 401
    keyed.post("/login", data={"key": "lead-key"})
    page = keyed.get("/clusters/k-pay").text
    assert "dana · lead" in page and "Confirm problem" in page


def test_ui_session_cookie_is_signed_not_the_key(keyed: TestClient) -> None:
    keyed.post("/login", data={"key": "lead-key"})
    cookie = keyed.cookies.get("signal_triage_session")
    assert cookie and "lead-key" not in cookie and "signal_triage_key" not in keyed.cookies
    body, _, signature = cookie.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["k"] == "configured:dana" and claims["r"] == "lead" and isinstance(claims["iat"], int)
    assert keyed.get("/v1/clusters").status_code == 200


def test_tampered_session_cookie_is_refused(keyed: TestClient) -> None:
    keyed.post("/login", data={"key": "view-key"})
    cookie = keyed.cookies["signal_triage_session"]
    body, _, signature = cookie.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    promoted = (
        base64.urlsafe_b64encode(json.dumps({**claims, "k": "configured:dana", "r": "lead"}).encode())
        .rstrip(b"=")
        .decode()
    )
    for forged in (f"{promoted}.{signature}", f"{body}.{signature[:-2]}xx", body, "view-key"):
        keyed.cookies.clear()
        keyed.cookies.set("signal_triage_session", forged)
        assert keyed.get("/v1/clusters").status_code == 401, forged
        assert keyed.get("/", headers={"accept": "text/html"}).status_code == 401


def test_session_from_another_secret_or_too_old_is_refused(keyed: TestClient) -> None:
    from api.sessions import SessionClaims, sign_session

    keyed.cookies.set(
        "signal_triage_session",
        sign_session("other", SessionClaims("configured:dana", "lead", int(time.time()))),
    )
    assert keyed.get("/v1/clusters").status_code == 401
    secret = keyed.app.state.session_secret
    old = sign_session(secret, SessionClaims("configured:dana", "lead", int(time.time()) - 13 * 3600))
    keyed.cookies.set("signal_triage_session", old)
    assert keyed.get("/v1/clusters").status_code == 401
    fresh = sign_session(secret, SessionClaims("configured:dana", "lead", int(time.time())))
    keyed.cookies.set("signal_triage_session", fresh)
    assert keyed.get("/v1/clusters").status_code == 200


def test_labels_export_csv_and_json(client: TestClient) -> None:
    post_id = client.get("/v1/posts", params={"q": "dark mode"}).json()["items"][0]["id"]
    client.post(f"/v1/posts/{post_id}/labels", json={"label": "problem"})
    client.post(f"/v1/posts/{post_id}/labels", json={"label": "not_problem", "note": "praise"})
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/labels/export").text)))
    assert len(rows) == 1 and rows[0]["label"] == "not_problem" and rows[0]["is_problem"] == "False"
    assert rows[0]["text"].startswith("love the new dark mode") and rows[0]["model_sentiment"] == "positive"
    history = client.get("/v1/labels/export", params={"format": "json", "history": True}).json()
    assert [row["label"] for row in history] == ["problem", "not_problem"]


def test_category_label_needs_a_category(client: TestClient) -> None:
    post_id = client.get("/v1/posts").json()["items"][0]["id"]
    response = client.post(f"/v1/posts/{post_id}/labels", json={"label": "category"})
    assert response.status_code == 409 and "category name" in response.json()["detail"]
