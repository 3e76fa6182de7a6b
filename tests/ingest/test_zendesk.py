from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from ingest.errors import RateLimitedError, SourceAuthError, SourceConfigError
from ingest.sources.zendesk import ZendeskSource
from tests.ingest.zendesk_fakes import BASE, EXPORT_URL, comments, export_page, ticket

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def source() -> ZendeskSource:
    return ZendeskSource("acme", "agent@acme.test", "zd-secret-token", clock=lambda: NOW)


def add_comments(ticket_id: int, bodies: list[tuple[str, bool]]) -> None:
    responses.add(
        responses.GET, f"{BASE}/tickets/{ticket_id}/comments.json", json=comments(ticket_id, bodies)
    )


@responses.activate
def test_first_pull_starts_at_lookback_and_builds_posts_from_public_comments() -> None:
    responses.add(
        responses.GET,
        EXPORT_URL,
        match=[
            matchers.query_param_matcher({"start_time": str(int(NOW.timestamp()) - 86400), "per_page": "100"})
        ],
        json=export_page([ticket(7), ticket(8, organization_id=None, requester_id=9)], "c1", True),
        headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "698"},
    )
    add_comments(
        7,
        [
            ("My card is declined at every shop", True),
            ("internal: check auth logs", False),
            ("Still declined this morning", True),
        ],
    )
    add_comments(8, [("My card is declined at every shop", True)])

    batches = list(source().read({}))

    assert len(batches) == 1
    first, second = batches[0].posts
    assert first.external_id == "7" and first.author_key == "org3:u5"
    assert first.text == "Card declined\n\nMy card is declined at every shop\n\nStill declined this morning"
    assert "internal" not in first.text
    assert first.meta["priority"] == "high" and first.meta["tags"] == ["cards", "declined"]
    assert first.meta["channel"] == "email" and first.meta["status"] == "open"
    assert first.url == "https://acme.zendesk.com/agent/tickets/7"
    assert second.author_key == "u9"
    assert batches[0].cursor == {"after_cursor": "c1"}
    assert batches[0].extra.rate_limit is not None and batches[0].extra.rate_limit.remaining == 698
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_follows_after_cursor_until_end_of_stream_and_lists_deleted_tickets() -> None:
    responses.add(
        responses.GET,
        EXPORT_URL,
        match=[matchers.query_param_matcher({"cursor": "c1"})],
        json=export_page([ticket(7)], "c2", False),
    )
    responses.add(
        responses.GET,
        EXPORT_URL,
        match=[matchers.query_param_matcher({"cursor": "c2"})],
        json=export_page([ticket(8, status="deleted")], "c3", True),
    )
    add_comments(7, [("My card is declined at every shop", True)])

    batches = list(source().read({"after_cursor": "c1"}))

    assert [batch.cursor for batch in batches] == [{"after_cursor": "c2"}, {"after_cursor": "c3"}]
    assert [post.external_id for post in batches[0].posts] == ["7"]
    assert batches[1].posts == [] and batches[1].extra.deleted_post_ids == ["8"]


@responses.activate
def test_429_with_retry_after_stops_without_sleeping_and_keeps_the_cursor() -> None:
    responses.add(
        responses.GET,
        EXPORT_URL,
        status=429,
        headers={"Retry-After": "42"},
        json={"error": "APIRateLimitExceeded", "description": "Number of allowed API requests exceeded"},
    )

    reader = source().read({"after_cursor": "c5"})
    with pytest.raises(RateLimitedError) as raised:
        next(reader)

    assert raised.value.retry_at == datetime(2026, 3, 2, 12, 0, 42, tzinfo=UTC)
    assert len(responses.calls) == 1


@responses.activate
def test_rejected_token_is_one_clear_error_without_the_token() -> None:
    responses.add(responses.GET, EXPORT_URL, status=401, json={"error": "Couldn't authenticate you"})

    with pytest.raises(SourceAuthError) as raised:
        list(source().read({}))

    assert "sources.zendesk_token" in str(raised.value)
    assert "zd-secret-token" not in str(raised.value) and "zd-secret-token" not in repr(source())


def test_missing_settings_are_named() -> None:
    with pytest.raises(SourceConfigError, match="sources.zendesk_token"):
        ZendeskSource("acme", "agent@acme.test", "", clock=lambda: NOW)


@responses.activate
def test_a_page_is_stored_in_chunks_and_a_rate_limit_mid_page_resumes_after_the_done_tickets() -> None:
    page = export_page([ticket(7), ticket(8)], "c2", True)
    responses.add(
        responses.GET, EXPORT_URL, match=[matchers.query_param_matcher({"cursor": "c1"})], json=page
    )
    add_comments(7, [("My card is declined at every shop", True)])
    responses.add(
        responses.GET,
        f"{BASE}/tickets/8/comments.json",
        status=429,
        headers={"Retry-After": "30"},
        json={"error": "APIRateLimitExceeded"},
    )
    chunked = ZendeskSource("acme", "agent@acme.test", "zd-token", clock=lambda: NOW, chunk_size=1)

    reader = chunked.read({"after_cursor": "c1"})
    first = next(reader)
    with pytest.raises(RateLimitedError):
        next(reader)

    assert [post.external_id for post in first.posts] == ["7"]
    assert first.cursor == {
        "after_cursor": "c1",
        "start_time": None,
        "page_done": {"7": "2026-03-01T10:05:00Z"},
    }

    responses.reset()
    responses.add(
        responses.GET, EXPORT_URL, match=[matchers.query_param_matcher({"cursor": "c1"})], json=page
    )
    add_comments(8, [("My card is declined at every shop", True)])
    resumed = list(chunked.read(first.cursor))

    assert [post.external_id for batch in resumed for post in batch.posts] == ["8"]
    assert resumed[-1].cursor == {"after_cursor": "c2"}
    assert not any("/tickets/7/" in call.request.url for call in responses.calls)
