from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.ingest.sources_app import client_for
from triage.sources_settings import CatalogEntry, ServiceCatalogSettings, SourcesSettings, WebhookSettings

GITHUB_SECRET = "gh-webhook-secret"
CATALOG = ServiceCatalogSettings(
    services=[
        CatalogEntry(
            name="checkout",
            repositories=["acme/checkout-api"],
            alert_labels={"job": "checkout-api"},
            keywords=["cart", "payment"],
        ),
        CatalogEntry(name="search", keywords=["search"]),
    ]
)


def client(tmp_path: Path, **webhooks: Any) -> TestClient:
    secrets = {
        "github_secret": SecretStr(GITHUB_SECRET),
        "alertmanager_token": SecretStr("am-token"),
        "pagerduty_token": SecretStr("pd-token"),
        "generic_token": SecretStr("gen-token"),
        **webhooks,
    }
    return client_for(tmp_path, SourcesSettings(webhooks=WebhookSettings(**secrets), catalog=CATALOG))


def deployment_status(
    state: str = "success", repo: str = "acme/checkout-api", status_id: int = 901
) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "url": f"https://api.github.com/repos/{repo}/deployments/77/statuses/{status_id}",
            "id": status_id,
            "node_id": "DES_kwDOA",
            "state": state,
            "description": "card retry logic",
            "environment": "production",
            "target_url": "",
            "log_url": f"https://github.com/{repo}/actions/runs/5",
            "environment_url": "",
            "created_at": "2026-03-01T09:50:00Z",
            "updated_at": "2026-03-01T09:50:00Z",
            "deployment_url": f"https://api.github.com/repos/{repo}/deployments/77",
            "repository_url": f"https://api.github.com/repos/{repo}",
            "creator": {"login": "deploy-bot", "id": 1},
        },
        "deployment": {
            "url": f"https://api.github.com/repos/{repo}/deployments/77",
            "id": 77,
            "node_id": "DE_kwDOA",
            "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "ref": "v2.3.1",
            "task": "deploy",
            "payload": {},
            "original_environment": "production",
            "environment": "production",
            "description": None,
            "creator": {"login": "deploy-bot", "id": 1},
            "created_at": "2026-03-01T09:45:00Z",
            "updated_at": "2026-03-01T09:50:00Z",
            "statuses_url": "",
            "repository_url": "",
            "transient_environment": False,
            "production_environment": True,
        },
        "repository": {
            "id": 1,
            "name": repo.split("/")[1],
            "full_name": repo,
            "html_url": f"https://github.com/{repo}",
            "private": True,
        },
        "sender": {"login": "deploy-bot", "id": 1, "type": "Bot"},
    }


def signed(body: bytes, secret: str = GITHUB_SECRET, event: str = "deployment_status") -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e",
        "Content-Type": "application/json",
    }


def test_signed_github_deploy_is_stored_once_and_mapped_by_repository(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(deployment_status()).encode()

    first = api.post("/v1/changes/github", content=body, headers=signed(body))
    redelivered = api.post("/v1/changes/github", content=body, headers=signed(body))

    assert first.status_code == 200 and first.json()["stored"] == 1 and first.json()["unmapped"] == []
    assert redelivered.json()["stored"] == 0
    [change] = api.get("/v1/changes").json()
    assert change["service"] == "checkout" and change["kind"] == "deploy" and change["source"] == "github"
    assert change["summary"] == "acme/checkout-api deployed v2.3.1 (a1b2c3d) to production: card retry logic"
    assert change["started_at"].startswith("2026-03-01T09:50:00")


def test_bad_signature_is_401_and_nothing_stored(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(deployment_status()).encode()
    tampered = body.replace(b"v2.3.1", b"v6.6.6")

    response = api.post("/v1/changes/github", content=tampered, headers=signed(body))
    wrong_secret = api.post("/v1/changes/github", content=body, headers=signed(body, secret="guess"))

    assert response.status_code == 401 and wrong_secret.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert GITHUB_SECRET not in response.text
    assert api.get("/v1/changes").json() == []


def test_github_ping_and_pending_states_are_acknowledged_not_stored(tmp_path: Path) -> None:
    api = client(tmp_path)
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    pending = json.dumps(deployment_status(state="in_progress")).encode()

    assert (
        api.post("/v1/changes/github", content=ping, headers=signed(ping, event="ping")).json()["ignored"]
        == "ping"
    )
    assert api.post("/v1/changes/github", content=pending, headers=signed(pending)).json()["stored"] == 0


def test_unmapped_deploy_is_stored_with_no_service_and_listed(tmp_path: Path) -> None:
    api = client(tmp_path)
    body = json.dumps(deployment_status(repo="acme/ledger")).encode()

    response = api.post("/v1/changes/github", content=body, headers=signed(body))

    assert response.json()["unmapped"] == ["github:acme/ledger:deployment:77:status:901"]
    [unmapped] = api.get("/v1/changes", params={"unmapped": True}).json()
    assert unmapped["service"] is None


def alertmanager_body(status: str, ends_at: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "signal-triage",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "page"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.acme.test:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighErrorRate", "job": "checkout-api", "severity": "page"},
                "annotations": {"summary": "5xx above 5% on checkout-api"},
                "startsAt": "2026-03-01T10:10:00Z",
                "endsAt": ends_at,
                "generatorURL": "http://prometheus.acme.test:9090/graph?g0.expr=...",
                "fingerprint": "c6eadffa33fcdf37",
            },
            {
                "status": status,
                "labels": {"alertname": "DiskFull", "instance": "db-7"},
                "annotations": {"description": "disk 95% full"},
                "startsAt": "2026-03-01T10:12:00Z",
                "endsAt": ends_at,
                "generatorURL": "",
                "fingerprint": "bc97ff14869b13e3",
            },
        ],
    }


def test_alertmanager_firing_then_resolved_closes_the_stored_alert(tmp_path: Path) -> None:
    api = client(tmp_path)
    token = {"Authorization": "Bearer am-token"}

    firing = api.post("/v1/changes/alertmanager", json=alertmanager_body("firing"), headers=token)
    resolved = api.post(
        "/v1/changes/alertmanager", json=alertmanager_body("resolved", "2026-03-01T10:40:00Z"), headers=token
    )

    assert firing.json()["stored"] == 2 and firing.json()["unmapped"] == [
        "alertmanager:bc97ff14869b13e3:2026-03-01T10:12:00Z"
    ]
    assert resolved.json()["stored"] == 0 and resolved.json()["closed"] == 2
    changes = {change["summary"]: change for change in api.get("/v1/changes").json()}
    error_rate = changes["HighErrorRate: 5xx above 5% on checkout-api"]
    assert error_rate["service"] == "checkout" and error_rate["kind"] == "alert"
    assert error_rate["ended_at"].startswith("2026-03-01T10:40:00")


def test_token_feeds_refuse_a_wrong_token_and_unconfigured_feeds(tmp_path: Path) -> None:
    api = client(tmp_path, generic_token=None)

    wrong = api.post(
        "/v1/changes/alertmanager", json=alertmanager_body("firing"), headers={"Authorization": "Bearer x"}
    )
    unconfigured = api.post(
        "/v1/changes/generic", json={"id": "c1", "kind": "deploy", "created_at": "2026-03-01T10:00:00Z"}
    )
    unknown = api.post("/v1/changes/jenkins", json={})

    assert (wrong.status_code, unconfigured.status_code, unknown.status_code) == (401, 403, 404)


def test_pagerduty_change_event_maps_by_keyword_and_dedups_by_content(tmp_path: Path) -> None:
    api = client(tmp_path)
    event = {
        "routing_key": "R0UT1NGKEY",
        "payload": {
            "summary": "Raise payment provider timeout to 8s",
            "timestamp": "2026-03-01T09:30:00Z",
            "source": "terraform",
            "custom_details": {"kind": "config", "change_id": "tf-1183"},
        },
        "links": [{"href": "https://ci.acme.test/runs/1183", "text": "Terraform run"}],
    }
    headers = {"Authorization": "Bearer pd-token"}

    first = api.post("/v1/changes/pagerduty", json=event, headers=headers)
    again = api.post("/v1/changes/pagerduty", json=event, headers=headers)

    assert (first.json()["stored"], again.json()["stored"]) == (1, 0)
    [change] = api.get("/v1/changes").json()
    assert change["service"] == "checkout" and change["kind"] == "config"
    assert change["url"] == "https://ci.acme.test/runs/1183"


def test_generic_changes_and_per_field_errors(tmp_path: Path) -> None:
    api = client(tmp_path)
    headers = {"Authorization": "Bearer gen-token"}

    stored = api.post(
        "/v1/changes/generic",
        headers=headers,
        json=[
            {
                "id": "flag-9",
                "kind": "flag",
                "summary": "enable new search ranking",
                "created_at": "2026-03-01T09:00:00Z",
            },
            {
                "id": "cfg-2",
                "service": "billing",
                "kind": "config",
                "summary": "raise limits",
                "created_at": "2026-03-01T09:05:00Z",
            },
        ],
    )
    invalid = api.post(
        "/v1/changes/generic",
        headers=headers,
        json={"id": "x", "kind": "earthquake", "created_at": "2026-03-01T09:00:00Z"},
    )

    assert stored.json()["stored"] == 2 and stored.json()["unmapped"] == []
    services = {change["external_id"]: change["service"] for change in api.get("/v1/changes").json()}
    assert services == {"flag-9": "search", "cfg-2": "billing"}
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["pointer"] == "/0/kind"


def test_oversized_webhook_is_413(tmp_path: Path) -> None:
    api = client_for(
        tmp_path,
        SourcesSettings(webhook_max_body_bytes=100, webhooks=WebhookSettings(generic_token=SecretStr("t"))),
    )
    response = api.post(
        "/v1/changes/generic",
        headers={"Authorization": "Bearer t"},
        json={"summary": "x" * 200, "created_at": "2026-03-01T09:00:00Z"},
    )
    assert response.status_code == 413
