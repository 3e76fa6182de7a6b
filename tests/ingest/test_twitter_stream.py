from __future__ import annotations

import json

import pytest
import responses

from ingest.errors import SourceAuthError
from ingest.sources.twitter_stream import Backoff, TwitterStreamSource, _Disconnected
from tests.ingest.x_fakes import tweet

RULES_URL = "https://api.twitter.com/2/tweets/search/stream/rules"
STREAM_URL = "https://api.twitter.com/2/tweets/search/stream"


def stream_line(tweet_id: int) -> str:
    return json.dumps({"data": tweet(tweet_id), "matching_rules": [{"id": "r1", "tag": "brand"}]})


def source(waits: list[float], max_connections: int = 2) -> TwitterStreamSource:
    return TwitterStreamSource(
        "stream-token",
        {"brand": "@acme -is:retweet"},
        "pepper",
        sleeper=waits.append,
        max_connections=max_connections,
        batch_seconds=5.0,
    )


def add_rules(existing: list[dict[str, str]]) -> None:
    responses.add(
        responses.GET,
        RULES_URL,
        json={"data": existing, "meta": {"sent": "2026-03-01T10:00:00.000Z", "result_count": len(existing)}},
    )
    responses.add(
        responses.POST,
        RULES_URL,
        json={
            "meta": {
                "sent": "2026-03-01T10:00:00.000Z",
                "summary": {"created": 1, "not_created": 0, "valid": 1, "invalid": 0},
            }
        },
    )


@responses.activate
def test_rules_are_synced_to_configuration_then_tweets_stream_in_after_a_backoff() -> None:
    add_rules([{"id": "9", "value": "old rule", "tag": "old"}])
    responses.add(responses.GET, STREAM_URL, status=503, json={"title": "Service Unavailable"})
    responses.add(
        responses.GET,
        STREAM_URL,
        body="\r\n".join([stream_line(11), "", stream_line(12)]) + "\r\n",
        content_type="application/json",
    )
    waits: list[float] = []

    batches = list(source(waits).read({}))

    posts = [post for batch in batches for post in batch.posts]
    assert [post.external_id for post in posts] == ["11", "12"]
    assert posts[0].author_key.startswith("x:") and batches[-1].cursor == {"newest_id": "12"}
    assert waits == [5.0]  # one reconnect after the 503, none after the last connection
    rule_calls = [json.loads(call.request.body) for call in responses.calls if call.request.method == "POST"]
    assert {"delete": {"ids": ["9"]}} in rule_calls
    assert {"add": [{"value": "@acme -is:retweet", "tag": "brand"}]} in rule_calls


@responses.activate
def test_rejected_token_on_the_stream_stops_instead_of_reconnecting() -> None:
    add_rules([{"id": "1", "value": "@acme -is:retweet", "tag": "brand"}])
    responses.add(responses.GET, STREAM_URL, status=401, json={"title": "Unauthorized", "status": 401})
    waits: list[float] = []

    with pytest.raises(SourceAuthError, match="401"):
        list(source(waits, max_connections=5).read({}))
    assert waits == []


def test_backoff_follows_x_guidance() -> None:
    backoff = Backoff()
    assert [backoff.after(_Disconnected()) for _ in range(3)] == [0.25, 0.5, 0.75]
    assert [backoff.after(_Disconnected(status=503)) for _ in range(3)] == [5.0, 10.0, 20.0]
    backoff.reset()
    assert backoff.after(_Disconnected(status=429)) == 60.0


@responses.activate
def test_check_reads_the_rules_and_changes_nothing() -> None:
    add_rules([{"id": "r1", "value": "@acme -is:retweet", "tag": "brand"}])

    message = source([]).check()

    assert message == "X accepted the bearer token for the filtered stream; 1 rule(s) on X, 1 configured"
    assert [call.request.method for call in responses.calls] == ["GET"]


@responses.activate
def test_check_with_a_token_lacking_stream_access_names_the_access_level() -> None:
    responses.add(
        responses.GET,
        RULES_URL,
        status=403,
        json={
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account",
        },
    )

    with pytest.raises(SourceAuthError, match="403 Forbidden"):
        source([]).check()
