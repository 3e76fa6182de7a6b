from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ingest.sources_app import client_for
from triage.access.settings import ApiKey, ApiSettings
from triage.sources_settings import SourcesSettings


def post(number: int, **overrides: Any) -> dict[str, Any]:
    item = {
        "source": "forum",
        "id": f"f{number}",
        "author": f"u{number}",
        "text": "checkout spins forever",
        "created_at": "2026-03-01T10:02:11Z",
        "lang": "en",
        "meta": {"thread": number},
    }
    return {**item, **overrides}


def test_batch_is_stored_once_per_source_and_id(tmp_path: Path) -> None:
    client = client_for(tmp_path)

    first = client.post("/v1/posts", json={"posts": [post(1), post(2), post(2)]})
    again = client.post("/v1/posts", json=[post(2), post(3)])

    assert first.status_code == 200 and first.json() == {"received": 3, "stored": 2, "duplicates": 1}
    assert again.json() == {"received": 2, "stored": 1, "duplicates": 1}


def test_invalid_items_are_422_problem_details_with_pointers_and_nothing_is_stored(tmp_path: Path) -> None:
    client = client_for(tmp_path)

    response = client.post(
        "/v1/posts",
        json={
            "posts": [
                post(1),
                post(2, created_at="yesterday"),
                {"source": "forum", "text": "no id"},
                "not an object",
                post(5, type="change"),
            ]
        },
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (
        body["status"] == 422 and body["title"] == "Invalid posts" and body["type"].endswith("/invalid-posts")
    )
    pointers = {error["pointer"] for error in body["errors"]}
    assert {
        "/posts/1/created_at",
        "/posts/2/id",
        "/posts/2/author",
        "/posts/2/created_at",
        "/posts/3",
        "/posts/4/type",
    } <= pointers
    assert client.post("/v1/posts", json=[post(1)]).json()["stored"] == 1  # the rejected batch stored nothing


def test_oversized_body_is_413_before_parsing(tmp_path: Path) -> None:
    client = client_for(tmp_path, SourcesSettings(intake_max_body_bytes=1000))

    response = client.post("/v1/posts", json=[post(number) for number in range(30)])

    assert response.status_code == 413 and response.json()["type"].endswith("/body-too-large")


def test_malformed_json_and_wrong_shape_are_problems(tmp_path: Path) -> None:
    client = client_for(tmp_path)

    assert (
        client.post("/v1/posts", content=b"{nope", headers={"content-type": "application/json"}).status_code
        == 400
    )
    wrong = client.post("/v1/posts", json={"items": []})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"] == ""


def test_pushing_posts_needs_an_ingest_key_once_keys_are_configured(tmp_path: Path) -> None:
    keys = ApiSettings(
        keys=[
            ApiKey(name="board", key="viewer-key", role="viewer"),
            ApiKey(name="forum-bridge", key="ingest-key", role="ingest"),
        ]
    )
    client = client_for(tmp_path, api=keys)

    anonymous = client.post("/v1/posts", json=[post(1)])
    viewer = client.post("/v1/posts", json=[post(1)], headers={"X-API-Key": "viewer-key"})
    ingest = client.post("/v1/posts", json=[post(1)], headers={"Authorization": "Bearer ingest-key"})

    assert (anonymous.status_code, viewer.status_code, ingest.status_code) == (401, 403, 200)
    assert "ingest-key" not in anonymous.text
