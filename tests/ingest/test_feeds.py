from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ingest.errors import InvalidRecordError, WebhookRejectedError
from ingest.feeds.alertmanager import AlertmanagerFeed
from ingest.feeds.github import GitHubDeploymentFeed
from ingest.feeds.service_map import ServiceMap, ServiceRule
from triage.ingestion import receive_changes
from triage.storage.post_updates import recent_changes

SERVICES = ServiceMap(
    (
        ServiceRule(
            "checkout",
            repositories=("acme/checkout-api",),
            alert_labels=(("job", "checkout-api"),),
            keywords=("cart", "payment"),
        ),
        ServiceRule("search", keywords=("search",)),
    )
)


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ({"repository": "ACME/Checkout-API"}, "checkout"),
        ({"labels": {"job": "checkout-api"}}, "checkout"),
        ({"labels": {"service": "Search"}}, "search"),
        ({"text": "new cart badge"}, "checkout"),
        ({"text": "cartography tiles"}, None),
        ({"repository": "acme/ledger", "text": "nothing known"}, None),
        ({"repository": "acme/checkout-api", "text": "search tweaks"}, "checkout"),
    ],
)
def test_service_map_prefers_explicit_evidence(evidence: dict, expected: str | None) -> None:
    assert SERVICES.resolve(**evidence) == expected


def test_github_feed_without_signature_header_is_rejected() -> None:
    feed = GitHubDeploymentFeed(SERVICES, "secret")
    with pytest.raises(WebhookRejectedError):
        feed.receive(b"{}", {"x-github-event": "deployment_status"})


def test_feed_repr_never_shows_the_secret() -> None:
    assert "hunter2" not in repr(GitHubDeploymentFeed(SERVICES, "hunter2"))


def test_alert_without_start_is_an_invalid_record_naming_the_field() -> None:
    body = json.dumps({"alerts": [{"status": "firing", "labels": {"alertname": "X"}}]}).encode()
    with pytest.raises(InvalidRecordError, match="alerts.0.startsAt"):
        AlertmanagerFeed(SERVICES, None).receive(body, {})


def alert_delivery(status: str, ends_at: str) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "HighErrorRate", "job": "checkout-api"},
                    "annotations": {"summary": "5xx above 5%"},
                    "startsAt": "2026-03-01T10:10:00Z",
                    "endsAt": ends_at,
                    "fingerprint": "c6eadffa33fcdf37",
                }
            ],
        }
    ).encode()


@pytest.mark.postgres
def test_firing_then_resolved_alert_is_stored_once_and_closed_on_postgresql(
    pg_sessions: sessionmaker[Session],
) -> None:
    feed = AlertmanagerFeed(SERVICES, None)
    with pg_sessions.begin() as session:
        firing = receive_changes(
            session, "t", feed.receive(alert_delivery("firing", "0001-01-01T00:00:00Z"), {})
        )
    with pg_sessions.begin() as session:
        resolved = receive_changes(
            session, "t", feed.receive(alert_delivery("resolved", "2026-03-01T10:40:00Z"), {})
        )
    with pg_sessions.begin() as session:
        [change] = recent_changes(session, "t")

    assert (firing.stored, resolved.stored, resolved.closed) == (1, 0, 1)
    assert change.service == "checkout" and change.ended_at is not None
