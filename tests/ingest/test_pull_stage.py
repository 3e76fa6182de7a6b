"""The pull stage end to end: real client libraries against wire fakes, real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import responses
from responses import matchers
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.errors import SourceAuthError
from ingest.sources.twitter_search import TwitterSearchSource
from ingest.sources.zendesk import ZendeskSource
from tests.ingest.x_fakes import SEARCH_URL, rate_headers, search_page, tweet
from tests.ingest.zendesk_fakes import BASE, EXPORT_URL, comments, export_page, ticket
from triage.ingestion import pull_loop, pull_source
from triage.storage.intake import load_cursor, save_cursor
from triage.storage.models import AnalysisRow, PostRow, SourceRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIELDS = "author_id,created_at,lang,public_metrics,conversation_id"


def x_source() -> TwitterSearchSource:
    return TwitterSearchSource("token", "@acme", "pepper", clock=lambda: NOW, page_size=10)


def x_params(**extra: str) -> list[matchers.Any]:
    return [
        matchers.query_param_matcher({"query": "@acme", "max_results": "10", "tweet.fields": FIELDS, **extra})
    ]


def post_ids(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(PostRow.external_id)))


@responses.activate
def test_restart_after_rate_limit_resumes_from_the_stored_cursor(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        save_cursor(session, "acme", "twitter", "twitter", {"since_id": "100"}, NOW)
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=x_params(since_id="100"),
        json=search_page([tweet(105), tweet(104)], next_token="p2"),
        headers=rate_headers(0),
    )

    limited = pull_source(sessions, "acme", "twitter", x_source(), clock=lambda: NOW)

    assert limited.retry_at == datetime(2026, 3, 1, 13, 0, tzinfo=UTC) and limited.posts_new == 2
    assert limited.rate_limit is not None and limited.rate_limit.remaining == 0

    # a new process: only the database remembers where the poll stopped
    responses.add(
        responses.GET,
        SEARCH_URL,
        match=x_params(since_id="100", next_token="p2"),
        json=search_page([tweet(103)]),
        headers=rate_headers(449),
    )
    resumed = pull_source(sessions, "acme", "twitter", x_source(), clock=lambda: NOW)

    assert resumed.retry_at is None and resumed.posts_new == 1
    assert post_ids(sessions) == ["103", "104", "105"]
    with sessions() as session:
        assert load_cursor(session, "acme", "twitter") == {"since_id": "105"}


@responses.activate
def test_a_replayed_page_stores_nothing_twice(sessions: sessionmaker[Session]) -> None:
    page = search_page([tweet(7), tweet(6)])
    responses.add(responses.GET, SEARCH_URL, json=page, headers=rate_headers(400))
    pull_source(sessions, "acme", "twitter", x_source(), clock=lambda: NOW)
    with sessions.begin() as session:  # as if the cursor commit had been lost
        save_cursor(session, "acme", "twitter", "twitter", {}, NOW)

    again = pull_source(sessions, "acme", "twitter", x_source(), clock=lambda: NOW)

    assert again.posts_new == 0 and again.posts_seen_before == 2
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PostRow)) == 2


@responses.activate
def test_loop_waits_for_the_rate_limit_reset_with_the_injected_sleeper(
    sessions: sessionmaker[Session],
) -> None:
    responses.add(
        responses.GET, SEARCH_URL, status=429, headers=rate_headers(0), json={"title": "Too Many Requests"}
    )
    waits: list[float] = []
    results = []

    pull_loop(
        sessions,
        "acme",
        "twitter",
        x_source(),
        clock=lambda: NOW,
        sleeper=waits.append,
        interval=timedelta(seconds=60),
        should_stop=lambda: len(results) >= 2,
        on_result=results.append,
    )

    reset_at = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    assert [result.retry_at for result in results] == [reset_at, reset_at]
    assert waits == [(reset_at - NOW).total_seconds() + 1.0]


def zendesk_source() -> ZendeskSource:
    return ZendeskSource("acme", "agent@acme.test", "zd-token", clock=lambda: NOW)


@responses.activate
def test_updated_ticket_is_rewritten_and_analysed_again_and_deleted_ticket_removed(
    sessions: sessionmaker[Session],
) -> None:
    updated_and_deleted_tickets(sessions)


@pytest.mark.postgres
@responses.activate
def test_ticket_updates_and_deletions_on_postgresql(pg_sessions: sessionmaker[Session]) -> None:
    updated_and_deleted_tickets(pg_sessions)


def updated_and_deleted_tickets(sessions: sessionmaker[Session]) -> None:
    responses.add(responses.GET, EXPORT_URL, json=export_page([ticket(7), ticket(8)], "c1", True))
    responses.add(
        responses.GET,
        f"{BASE}/tickets/7/comments.json",
        json=comments(7, [("My card is declined at every shop", True)]),
    )
    responses.add(
        responses.GET,
        f"{BASE}/tickets/8/comments.json",
        json=comments(8, [("My card is declined at every shop", True)]),
    )
    first = pull_source(sessions, "acme", "zendesk", zendesk_source(), clock=lambda: NOW)
    assert first.posts_new == 2
    with sessions.begin() as session:
        post_id = session.scalar(select(PostRow.id).where(PostRow.external_id == "7"))
        session.add(
            AnalysisRow(
                post_id=post_id,
                model_version="m1",
                problem_probability=0.9,
                sentiment="negative",
                embedding=np.zeros(384, np.float32).tobytes(),
            )
        )

    responses.reset()
    responses.add(
        responses.GET,
        EXPORT_URL,
        match=[matchers.query_param_matcher({"cursor": "c1"})],
        json=export_page(
            [ticket(7, updated_at="2026-03-01T11:00:00Z"), ticket(8, status="deleted")], "c2", True
        ),
    )
    responses.add(
        responses.GET,
        f"{BASE}/tickets/7/comments.json",
        json=comments(7, [("My card is declined at every shop", True), ("Now the app crashes too", True)]),
    )
    second = pull_source(sessions, "acme", "zendesk", zendesk_source(), clock=lambda: NOW)

    assert (second.posts_new, second.posts_updated, second.posts_deleted) == (0, 1, 1)
    with sessions() as session:
        row = session.scalar(select(PostRow).where(PostRow.external_id == "7"))
        assert row is not None and row.text.endswith("Now the app crashes too")
        assert session.scalar(select(func.count()).select_from(AnalysisRow)) == 0
        assert load_cursor(session, "acme", "zendesk") == {"after_cursor": "c2"}
    assert post_ids(sessions) == ["7"]


@responses.activate
def test_rejected_token_is_recorded_on_the_source_and_raised(sessions: sessionmaker[Session]) -> None:
    responses.add(responses.GET, SEARCH_URL, status=401, json={"title": "Unauthorized", "status": 401})

    with pytest.raises(SourceAuthError):
        pull_source(sessions, "acme", "twitter", x_source(), clock=lambda: NOW)

    with sessions() as session:
        row = session.scalar(select(SourceRow).where(SourceRow.name == "twitter"))
        assert row is not None and "401" in (row.last_error or "") and row.cursor == {}


@responses.activate
def test_loop_stops_at_once_on_a_rejected_token(sessions: sessionmaker[Session]) -> None:
    responses.add(responses.GET, SEARCH_URL, status=401, json={"title": "Unauthorized", "status": 401})
    waits: list[float] = []

    with pytest.raises(SourceAuthError):
        pull_loop(
            sessions,
            "acme",
            "twitter",
            x_source(),
            clock=lambda: NOW,
            sleeper=waits.append,
            interval=timedelta(seconds=60),
            should_stop=lambda: False,
        )

    assert waits == [] and len(responses.calls) == 1
