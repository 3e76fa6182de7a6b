"""Webhooks in: wrong, missing, replayed (timestamp outside the tolerance) and reused-id signatures are
refused with 401 problem details, nothing of a refused delivery is stored, and every check compares in
constant time (``hmac.compare_digest``, observed while it runs, not only read in the source)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ingest.errors import WebhookRejectedError
from ingest.feeds.registry import FEEDS
from ingest.feeds.service_map import ServiceMap
from ingest.feeds.standard_webhooks import ReplayGuard, sign
from tests.ingest.sources_app import client_for
from triage.sources_settings import SourcesSettings, WebhookSettings

SIGNING_SECRET = "whsec_" + base64.b64encode(b"incoming-webhook-key-32-bytes!!!").decode()
GITHUB_SECRET = "gh-secret-value"
TOKEN = "feed-bearer-token"

CHANGE = {"id": "c1", "kind": "deploy", "summary": "checkout v2", "created_at": "2026-03-01T10:00:00Z"}
GITHUB_BODY = {
    "deployment_status": {"id": 7, "state": "success", "created_at": "2026-03-01T10:00:00Z"},
    "deployment": {"id": 3, "ref": "main", "sha": "abcdef1234"},
    "repository": {"full_name": "acme/checkout"},
}


def client(tmp_path: Path, generic: str = SIGNING_SECRET) -> TestClient:
    webhooks = WebhookSettings(
        github_secret=SecretStr(GITHUB_SECRET),
        alertmanager_token=SecretStr(TOKEN),
        pagerduty_token=SecretStr(TOKEN),
        generic_token=SecretStr(generic),
    )
    return client_for(tmp_path, SourcesSettings(webhooks=webhooks))


def signed_headers(body: bytes, *, message_id: str = "msg_1", at: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(SIGNING_SECRET, message_id, timestamp, body),
    }


def stored_changes(api: TestClient) -> int:
    return len(api.get("/v1/changes").json())


def refused(response: Any, words: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]


def test_a_fresh_signed_delivery_is_accepted(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    response = api.post("/v1/changes/generic", content=body, headers=signed_headers(body))
    assert response.status_code == 200 and response.json()["stored"] == 1


def test_a_wrong_signature_is_refused(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    headers = signed_headers(body)
    tampered = json.dumps({**CHANGE, "summary": "something else"}).encode()
    refused(api.post("/v1/changes/generic", content=tampered, headers=headers), "does not match")
    other_key = "whsec_" + base64.b64encode(b"x" * 32).decode()
    headers["webhook-signature"] = sign(other_key, "msg_1", int(headers["webhook-timestamp"]), body)
    refused(api.post("/v1/changes/generic", content=body, headers=headers), "does not match")
    assert stored_changes(api) == 0


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_signature_header_is_refused(tmp_path: Path, missing: str) -> None:
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    headers = signed_headers(body)
    del headers[missing]
    refused(api.post("/v1/changes/generic", content=body, headers=headers), "are required")


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_timestamp_outside_the_tolerance_is_a_replay_and_refused(tmp_path: Path, offset: int) -> None:
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    headers = signed_headers(body, at=time.time() + offset)  # correctly signed, but not now
    refused(api.post("/v1/changes/generic", content=body, headers=headers), "more than 300 s")
    assert stored_changes(api) == 0


def test_a_reused_id_is_refused_even_with_a_fresh_valid_signature(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    first = api.post("/v1/changes/generic", content=body, headers=signed_headers(body, message_id="m-9"))
    again = api.post("/v1/changes/generic", content=body, headers=signed_headers(body, message_id="m-9"))
    other = json.dumps({**CHANGE, "id": "c2"}).encode()
    reused = api.post("/v1/changes/generic", content=other, headers=signed_headers(other, message_id="m-9"))
    assert first.status_code == 200
    refused(again, "already delivered")
    refused(reused, "already delivered")
    assert stored_changes(api) == 1


def test_a_refused_signature_does_not_use_up_its_id(tmp_path: Path) -> None:
    """Otherwise anyone could block a sender's next id by sending garbage under it first."""
    api = client(tmp_path)
    body = json.dumps(CHANGE).encode()
    forged = {**signed_headers(body, message_id="m-1"), "webhook-signature": "v1,AAAA"}
    refused(api.post("/v1/changes/generic", content=body, headers=forged), "does not match")
    assert (
        api.post(
            "/v1/changes/generic", content=body, headers=signed_headers(body, message_id="m-1")
        ).status_code
        == 200
    )


def test_replay_guard_forgets_ids_only_after_twice_the_tolerance() -> None:
    guard = ReplayGuard(tolerance_seconds=300)
    assert guard.first_time("generic", "a", 1000.0)
    assert not guard.first_time("generic", "a", 1000.0 + 599)
    assert guard.first_time("github", "a", 1000.0), "ids are per feed"
    assert guard.first_time("generic", "b", 1000.0 + 601)
    assert guard.first_time("generic", "a", 1000.0 + 602)


def test_github_wrong_and_missing_signatures_are_refused(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(GITHUB_BODY).encode()
    good = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-github-event": "deployment_status"}
    refused(api.post("/v1/changes/github", content=body, headers=headers), "does not match")
    wrong = {**headers, "x-hub-signature-256": "sha256=" + "0" * 64}
    refused(api.post("/v1/changes/github", content=body, headers=wrong), "does not match")
    assert (
        api.post(
            "/v1/changes/github", content=body, headers={**headers, "x-hub-signature-256": good}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("kind", ["alertmanager", "pagerduty"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_bearer_feeds_refuse_missing_or_wrong_tokens(
    tmp_path: Path, kind: str, authorization: str | None
) -> None:
    api = client(tmp_path)
    headers = {"authorization": authorization} if authorization else {}
    refused(api.post(f"/v1/changes/{kind}", json={}, headers=headers), "bearer token")


# -- constant time ---------------------------------------------------------------------------------


def spy_on_compare_digest(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    calls: list[tuple[Any, Any]] = []
    real: Callable[[Any, Any], bool] = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize("kind", sorted(FEEDS))
def test_every_feed_compares_its_secret_with_compare_digest(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_compare_digest(monkeypatch)
    secret = SIGNING_SECRET if kind == "generic" else TOKEN
    feed = FEEDS[kind](ServiceMap(), secret, clock=lambda: datetime.now(UTC), replay_guard=ReplayGuard())
    with pytest.raises(WebhookRejectedError):
        headers = {"authorization": "Bearer nope", "x-hub-signature-256": "sha256=00"}
        if kind == "generic":
            headers |= {
                "webhook-id": "i",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AA",
            }
        feed.verify(b"{}", headers)
    assert calls, f"the {kind} feed did not compare with hmac.compare_digest"
