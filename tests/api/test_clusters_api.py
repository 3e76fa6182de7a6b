"""The REST API's reading side: clusters, posts, escalations, changes, sources; paging and filters."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_clusters_list_puts_live_problems_first_and_pages(client: TestClient) -> None:
    first = client.get("/v1/clusters", params={"limit": 2}).json()
    assert [item["key"] for item in first["items"]] == ["k-login", "k-pay"]
    assert first["total"] == 3 and first["next_offset"] == 2
    second = client.get("/v1/clusters", params={"limit": 2, "offset": 2}).json()
    assert [item["key"] for item in second["items"]] == ["k-old"] and second["next_offset"] is None


def test_cluster_row_carries_what_the_board_shows(client: TestClient) -> None:
    login = client.get("/v1/clusters", params={"service": "login"}).json()["items"][0]
    assert (login["distinct_authors"], login["post_count"], login["severity"]) == (12, 12, "error")
    assert login["likely_cause"]["summary"].startswith("auth-service v4.2")
    assert login["escalation_state"] == "triggered" and sum(login["trend"]) == 12


def test_clusters_filter_by_state_and_time(client: TestClient) -> None:
    emerging = client.get("/v1/clusters", params={"state": "emerging"}).json()["items"]
    assert [item["key"] for item in emerging] == ["k-pay"]
    recent = client.get("/v1/clusters", params={"since": "2026-05-04T08:00:00Z"}).json()["items"]
    assert {item["key"] for item in recent} == {"k-login", "k-pay"}


def test_unknown_state_is_a_problem_detail(client: TestClient) -> None:
    response = client.get("/v1/clusters", params={"state": "on-fire"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "on-fire" in response.json()["detail"]


def test_cluster_detail_has_series_causes_and_history(client: TestClient) -> None:
    body = client.get("/v1/clusters/k-login", params={"limit": 5}).json()
    assert sum(body["series"]["posts"]) == 12 and max(body["series"]["distinct_authors"]) >= 1
    assert body["samples"]["total"] == 12 and len(body["samples"]["items"]) == 5
    causes = body["escalation"]["causes"]
    assert [cause["change_id"] for cause in causes] == ["c1", "c2"]
    assert causes[0]["reasons"] == ["deployed 10 min before onset", "same service: login"]
    assert [entry["action"] for entry in body["escalation"]["history"]] == ["trigger", "update"]
    assert body["representative"]["text"].startswith("cannot log in")


def test_missing_cluster_is_404_problem(client: TestClient) -> None:
    response = client.get("/v1/clusters/nope")
    assert response.status_code == 404
    assert (
        response.json()["type"].endswith("/not-found") and response.json()["instance"] == "/v1/clusters/nope"
    )


def test_posts_filter_by_cluster_sentiment_and_text(client: TestClient) -> None:
    in_cluster = client.get("/v1/posts", params={"cluster": "k-pay"}).json()
    assert in_cluster["total"] == 4 and all(post["cluster_key"] == "k-pay" for post in in_cluster["items"])
    positive = client.get("/v1/posts", params={"sentiment": "positive"}).json()
    assert positive["total"] == 5
    found = client.get("/v1/posts", params={"q": "two factor"}).json()
    assert found["total"] == 2 and found["items"][0]["shares"] is not None


def test_escalations_sources_and_models(client: TestClient) -> None:
    escalations = client.get("/v1/escalations").json()
    assert [item["cluster_key"] for item in escalations["items"]] == ["k-login"]
    sources = {item["name"]: item for item in client.get("/v1/sources").json()}
    assert sources["zendesk"]["last_error"].startswith("429") and sources["x-search"]["cursor"] == {
        "since_id": "1790"
    }
    models = client.get("/v1/models").json()
    assert models[0]["version"] == "test-v1" and models[0]["posts_scored"] == 24


def test_openapi_lists_the_v1_resources(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/clusters",
        "/v1/clusters/{key}",
        "/v1/posts",
        "/v1/escalations",
        "/v1/clusters/{key}/actions",
        "/v1/labels/export",
        "/v1/sources",
    ):
        assert path in paths, path
