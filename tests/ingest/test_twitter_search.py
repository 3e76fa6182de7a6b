from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from ingest.errors import RateLimitedError, SourceAuthError, SourceConfigError
from ingest.sources.twitter_search import TwitterSearchSource, author_key, build_query
from tests.ingest.x_fakes import RESET_EPOCH, SEARCH_URL, rate_headers, search_page, tweet

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "AAAA-test-bearer-token"
FIELDS = "author_id,created_at,lang,public_metrics,conversation_id"


def source() -> TwitterSearchSource:
    return TwitterSearchSource(TOKEN, "@acme -is:retweet", "pepper", clock=lambda: NOW, page_size=10)


def params(**extra: str) -> list[matchers.Any]:
    return [
        matchers.query_param_matcher(
            {"query": "@acme -is:retweet", "max_results": "10", "tweet.fields": FIELDS, **extra}
        )
    ]


def test_query_is_built_from_handles_terms_and_languages() -> None:
    query = build_query(["acme", "@acmehelp"], ["acme card", "acmepay"], ["en", "de"])
    assert query == '(@acme OR @acmehelp OR "acme card" OR acmepay) -is:retweet (lang:en OR lang:de)'
    with pytest.raises(SourceConfigError):
        build_query([], [], [])


@responses.activate
def test_pages_backwards_then_moves_since_id_to_the_newest_tweet() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=params(since_id="100"),
        json=search_page([tweet(105), tweet(104)], next_token="p2"),
        headers=rate_headers(449),
    )
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=params(since_id="100", next_token="p2"),
        json=search_page([tweet(103)]),
        headers=rate_headers(448),
    )

    batches = list(source().read({"since_id": "100"}))

    assert [[post.external_id for post in batch.posts] for batch in batches] == [["105", "104"], ["103"]]
    assert batches[0].cursor == {"since_id": "100", "next_token": "p2", "pending_newest_id": "105"}
    assert batches[1].cursor == {"since_id": "105"}
    post = batches[0].posts[0]
    assert post.author_key == author_key("2244994945", "pepper") and "2244994945" not in post.author_key
    assert post.url == "https://x.com/i/web/status/105" and post.lang == "en"
    assert post.meta["public_metrics"]["like_count"] == 5 and post.meta["conversation_id"] == "105"
    assert batches[1].extra.rate_limit is not None and batches[1].extra.rate_limit.remaining == 448
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_empty_poll_keeps_since_id() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=params(since_id="105"),
        json=search_page([]),
        headers=rate_headers(447),
    )
    assert [batch.cursor for batch in source().read({"since_id": "105"})] == [{"since_id": "105"}]


@responses.activate
def test_exhausted_window_stops_after_the_page_with_the_cursor_mid_poll() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=params(),
        json=search_page([tweet(5)], next_token="p2"),
        headers=rate_headers(0),
    )

    reader = source().read({})
    first = next(reader)
    with pytest.raises(RateLimitedError) as raised:
        next(reader)

    assert first.cursor == {"since_id": None, "next_token": "p2", "pending_newest_id": "5"}
    assert raised.value.retry_at == datetime.fromtimestamp(RESET_EPOCH, UTC)
    assert len(responses.calls) == 1


@responses.activate
def test_429_raises_rate_limited_until_the_reset_header() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        status=429,
        headers=rate_headers(0),
        json={
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
    )
    with pytest.raises(RateLimitedError) as raised:
        list(source().read({"since_id": "1", "next_token": "p9", "pending_newest_id": "9"}))
    assert raised.value.retry_at == datetime.fromtimestamp(RESET_EPOCH, UTC)


@responses.activate
def test_expired_token_is_one_clear_error_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        status=401,
        json={"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"},
    )
    caplog.set_level(logging.DEBUG, logger="tweepy")

    with pytest.raises(SourceAuthError) as raised:
        list(source().read({}))

    assert "401" in str(raised.value) and "sources.twitter_bearer_token" in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in repr(source())
    assert "Bearer [redacted]" in caplog.text and TOKEN not in caplog.text


def test_salt_is_required() -> None:
    with pytest.raises(SourceConfigError, match="author_hash_salt"):
        TwitterSearchSource(TOKEN, "@acme", "", clock=lambda: NOW)


@responses.activate
def test_since_id_older_than_seven_days_restarts_the_poll_instead_of_failing() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=params(since_id="1"),
        status=400,
        json={
            "errors": [
                {
                    "parameters": {"since_id": ["1"]},
                    "message": "Invalid 'since_id':'1'. 'since_id' must be a tweet id created "
                    "after 2026-02-22T12:00Z.",
                }
            ],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )
    responses.add(
        responses.GET, SEARCH_URL, match=params(), json=search_page([tweet(50)]), headers=rate_headers(440)
    )

    batches = list(source().read({"since_id": "1"}))

    assert [batch.cursor for batch in batches] == [{"since_id": "50"}]


@responses.activate
def test_other_bad_requests_are_one_clear_configuration_error() -> None:
    responses.add(
        responses.GET,
        SEARCH_URL,
        status=400,
        json={
            "errors": [{"message": "There were errors processing your request: Ambiguous use of and"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )
    with pytest.raises(SourceConfigError, match="Ambiguous use of and"):
        list(source().read({}))
