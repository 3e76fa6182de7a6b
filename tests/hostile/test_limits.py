"""Intake is rate limited per key (429 with Retry-After) and every body has a size limit (413).

The limiter's clock is replaced by a counter the test moves, so nothing here sleeps or races.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.limits import RateLimiter
from tests.ingest.sources_app import client_for
from triage.access.settings import ApiKey, ApiSettings
from triage.sources_settings import SourcesSettings, WebhookSettings


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def post(number: int) -> dict[str, Any]:
    return {
        "source": "forum",
        "id": f"f{number}",
        "author": f"u{number}",
        "text": "checkout spins forever",
        "created_at": "2026-03-01T10:02:11Z",
    }


def limited_client(tmp_path: Path, **api: Any) -> tuple[TestClient, Ticks]:
    keys = [
        ApiKey(name="bridge-a", key=SecretStr("ingest-a"), role="ingest"),
        ApiKey(name="bridge-b", key=SecretStr("ingest-b"), role="ingest"),
    ]
    client = client_for(
        tmp_path,
        SourcesSettings(webhooks=WebhookSettings(generic_token=SecretStr("feed-token"))),
        ApiSettings(keys=keys, **api),
    )
    ticks = Ticks()
    client.app.state.intake_limiter = RateLimiter(  # type: ignore[attr-defined]
        api.get("intake_rate_per_second", 20.0), api.get("intake_burst", 100), clock=ticks
    )
    return client, ticks


def test_a_key_past_its_burst_gets_429_problem_with_retry_after_and_others_are_not_affected(
    tmp_path: Path,
) -> None:
    client, ticks = limited_client(tmp_path, intake_rate_per_second=0.5, intake_burst=3)
    a = {"X-API-Key": "ingest-a"}

    answers = [client.post("/v1/posts", json=[post(number)], headers=a).status_code for number in range(4)]
    refused = client.post("/v1/posts", json=[post(9)], headers=a)
    other_key = client.post("/v1/posts", json=[post(10)], headers={"X-API-Key": "ingest-b"})

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/rate-limited") and refused.json()["status"] == 429
    assert refused.headers["retry-after"] == "2"  # one token at 0.5/s
    assert other_key.status_code == 200, "each key has its own budget"

    ticks.now += 2.0
    assert client.post("/v1/posts", json=[post(11)], headers=a).status_code == 200


def test_nothing_from_a_refused_request_is_stored(tmp_path: Path) -> None:
    client, _ = limited_client(tmp_path, intake_rate_per_second=1.0, intake_burst=1)
    a = {"X-API-Key": "ingest-a"}
    assert client.post("/v1/posts", json=[post(1)], headers=a).json()["stored"] == 1
    assert client.post("/v1/posts", json=[post(2)], headers=a).status_code == 429
    client.app.state.intake_limiter.clock.now += 1.0  # type: ignore[attr-defined]
    again = client.post("/v1/posts", json=[post(1), post(2)], headers=a).json()
    assert again == {"received": 2, "stored": 1, "duplicates": 1}


def test_change_webhooks_are_rate_limited_per_feed(tmp_path: Path) -> None:
    client, _ = limited_client(tmp_path, intake_rate_per_second=1.0, intake_burst=2)
    change = {"id": "c1", "kind": "deploy", "summary": "x", "created_at": "2026-03-01T10:00:00Z"}
    auth = {"Authorization": "Bearer feed-token"}
    codes = [client.post("/v1/changes/generic", json=change, headers=auth).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_declared_oversized_body_is_413_on_any_route(tmp_path: Path) -> None:
    client = client_for(tmp_path, api=ApiSettings(max_body_bytes=2048))
    big = b"x" * 5000
    for path in ("/v1/clusters/cl-1/actions", "/login", "/v1/health"):
        response = client.post(path, content=big, headers={"content-type": "application/json"})
        assert response.status_code == 413, (path, response.status_code)
        assert response.json()["type"].endswith("/body-too-large")


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    client = client_for(
        tmp_path, SourcesSettings(intake_max_body_bytes=4096), ApiSettings(max_body_bytes=4096)
    )

    def chunks() -> Any:
        for _ in range(100):  # 100 KiB if it were read to the end
            yield b"[" + b" " * 1023

    for path in ("/v1/posts", "/v1/clusters/cl-1/actions"):
        response = client.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413, (path, response.text)
        assert response.json()["type"].endswith("/body-too-large")


def test_the_intake_keeps_its_own_larger_limit(tmp_path: Path) -> None:
    client = client_for(
        tmp_path, SourcesSettings(intake_max_body_bytes=200_000), ApiSettings(max_body_bytes=2048)
    )
    batch = [post(number) for number in range(100)]  # ~15 kB: over the general limit, under the intake's
    assert client.post("/v1/posts", json=batch).status_code == 200


@pytest.mark.parametrize("rate,burst,calls,refused", [(1.0, 1, 3, 2), (10.0, 5, 5, 0), (10.0, 5, 6, 1)])
def test_token_bucket_counts(rate: float, burst: int, calls: int, refused: int) -> None:
    limiter = RateLimiter(rate, burst, clock=Ticks())
    assert sum(1 for _ in range(calls) if limiter.acquire("k") > 0) == refused
