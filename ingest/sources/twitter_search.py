"""X (Twitter) recent search through tweepy's API v2 ``Client``, polled with ``since_id``.

Recent search returns newest first and pages backwards with ``next_token``. A
poll is therefore complete only when its last page is read: until then the
cursor keeps the old ``since_id``, the ``next_token`` to continue with and the
newest id seen (``pending_newest_id``), which becomes the ``since_id`` once the
last page is in. A rate limit or crash mid-poll resumes on the same page, and
nothing is fetched twice.

The client runs with ``wait_on_rate_limit=False`` and returns raw responses,
so we read ``x-rate-limit-remaining``/``x-rate-limit-reset`` ourselves and hand
the wait to the runner (which sleeps with an injected sleeper) instead of
letting tweepy block in ``time.sleep``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from ingest.errors import RateLimitedError, SourceAuthError, SourceConfigError
from ingest.records import Post
from ingest.sources.base import Cursor, RateLimitStatus, Source, SourceBatch, SourceChanges
from ingest.sources.redaction import redact_in_logger

log = logging.getLogger(__name__)

TWEET_FIELDS = ["author_id", "created_at", "lang", "public_metrics", "conversation_id"]
#: wait this long after a 429 that came without a reset header (X's windows are 15 minutes)
_DEFAULT_WAIT = timedelta(minutes=15)
#: how far back recent search reaches (X documents "the last seven days")
RECENT_SEARCH_REACH = timedelta(days=7)


def build_query(
    handles: list[str], terms: list[str], languages: list[str], exclude_retweets: bool = True
) -> str:
    """A recent-search query from brand handles, product terms and languages.

    Multi-word terms are quoted so X matches the phrase, not any of its words.
    """
    words = [handle if handle.startswith(("@", "#")) else f"@{handle}" for handle in handles]
    words += [f'"{term}"' if " " in term and not term.startswith('"') else term for term in terms]
    if not words:
        raise SourceConfigError(
            "the X query is empty: set sources.twitter_query, twitter_handles or twitter_terms"
        )
    query = words[0] if len(words) == 1 else "(" + " OR ".join(words) + ")"
    if exclude_retweets:
        query += " -is:retweet"
    if languages:
        langs = [f"lang:{lang}" for lang in languages]
        query += " " + (langs[0] if len(langs) == 1 else "(" + " OR ".join(langs) + ")")
    return query


def author_key(author_id: str, salt: str) -> str:
    """A stable pseudonym for an X account: HMAC-SHA256 of its id under a secret salt.

    X ids are sequential and public, so an unsalted hash could be reversed by
    hashing every id; the salt makes the key useless outside this deployment
    while still counting one person once.
    """
    digest = hmac.new(salt.encode(), author_id.encode(), hashlib.sha256).hexdigest()
    return f"x:{digest[:32]}"


def tweet_url(tweet_id: str) -> str:
    """The account-agnostic permalink, so no handle is stored beside the hashed author."""
    return f"https://x.com/i/web/status/{tweet_id}"


def tweet_to_post(tweet: Mapping[str, Any], salt: str, source: str = "twitter") -> Post:
    url = tweet_url(str(tweet["id"]))
    meta = {
        "url": url,
        "lang": tweet.get("lang"),
        "public_metrics": tweet.get("public_metrics") or {},
        "conversation_id": tweet.get("conversation_id"),
    }
    return Post(
        source=source,
        external_id=str(tweet["id"]),
        author_key=author_key(str(tweet.get("author_id") or "unknown"), salt),
        text=tweet["text"],
        created_at=tweet["created_at"],
        lang=tweet.get("lang"),
        url=url,
        meta=meta,
    )


def rate_limit_status(headers: Mapping[str, str]) -> RateLimitStatus:
    def number(name: str) -> int | None:
        value = headers.get(name)
        return int(value) if value is not None and value.strip().isdigit() else None

    reset = number("x-rate-limit-reset")
    return RateLimitStatus(
        remaining=number("x-rate-limit-remaining"),
        limit=number("x-rate-limit-limit"),
        reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
    )


def auth_error(service: str, setting: str, error: tweepy.HTTPException) -> SourceAuthError:
    """One clear message for 401/403; the token itself is never part of it."""
    status = error.response.status_code
    if status == 401:
        return SourceAuthError(
            f"{service} rejected the bearer token (401 Unauthorized): it is wrong, revoked or expired; "
            f"set {setting} to a current app-only bearer token"
        )
    detail = "; ".join(error.api_messages) or error.response.reason or "forbidden"
    return SourceAuthError(
        f"{service} refused access (403 Forbidden: {detail}); check the app's access level"
    )


class _StaleCursor(Exception):
    def __init__(self, field: str, error: SourceConfigError) -> None:
        super().__init__(field)
        self.field = field
        self.error = error


class TwitterSearchSource(Source):
    """Polls recent search for the configured query; one page per batch."""

    kind = "twitter"

    def __init__(
        self,
        bearer_token: str,
        query: str,
        author_salt: str,
        *,
        clock: Callable[[], datetime],
        page_size: int = 100,
        source_name: str = "twitter",
        client: tweepy.Client | None = None,
    ) -> None:
        if not bearer_token:
            raise SourceConfigError("X needs a bearer token: set sources.twitter_bearer_token")
        if not author_salt:
            raise SourceConfigError(
                "X author ids are hashed with a secret salt: set sources.author_hash_salt"
            )
        self.query = query
        self.page_size = page_size
        self.source_name = source_name
        self._salt = author_salt
        self._clock = clock
        redact_in_logger("tweepy.client", bearer_token)
        self._client = client or tweepy.Client(
            bearer_token=bearer_token, return_type=requests.Response, wait_on_rate_limit=False
        )

    def __repr__(self) -> str:
        return f"TwitterSearchSource(query={self.query!r})"

    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        since_id = cursor.get("since_id")
        start_time: str | None = cursor.get("start_time")
        next_token = cursor.get("next_token")
        pending_newest = cursor.get("pending_newest_id")
        restarted: set[str] = set()
        while True:
            try:
                response = self._search(since_id, next_token, start_time)
            except _StaleCursor as stale:
                # X keeps 7 days and next_tokens expire: start the poll again without the stale part;
                # pages seen before are recognised when stored, so nothing is stored twice
                if stale.field in restarted:
                    raise stale.error from None
                restarted.add(stale.field)
                log.warning("x_cursor_stale field=%s action=restart_poll", stale.field)
                if stale.field == "since_id":
                    since_id = None
                next_token, pending_newest = None, None
                continue
            body = response.json()
            meta = body.get("meta") or {}
            status = rate_limit_status(response.headers)
            if pending_newest is None:
                pending_newest = meta.get("newest_id")
            next_token = meta.get("next_token")
            if next_token:
                new_cursor: Cursor = {
                    "since_id": since_id,
                    "next_token": next_token,
                    "pending_newest_id": pending_newest,
                }
                if start_time:
                    new_cursor["start_time"] = start_time
            else:
                new_cursor = {"since_id": pending_newest or since_id}
            posts = [tweet_to_post(tweet, self._salt, self.source_name) for tweet in body.get("data") or []]
            yield SourceBatch(posts=posts, cursor=new_cursor, extra=SourceChanges(rate_limit=status))
            if not next_token:
                return
            if status.remaining == 0:
                raise RateLimitedError(
                    "X recent search",
                    status.reset_at or self._clock() + _DEFAULT_WAIT,
                    "no requests left in this window",
                )

    def check(self) -> str:
        """One recent-search request: proves the token and the query in one go."""
        response = self._search(None, None, max_results=10)
        found = (response.json().get("meta") or {}).get("result_count", 0)
        status = rate_limit_status(response.headers)
        left = f"; {status.remaining}/{status.limit} requests left" if status.remaining is not None else ""
        return f"X accepted the bearer token; the query {self.query!r} finds {found} recent post(s){left}"

    def cursor_since(self, since: datetime, current: Cursor) -> Cursor:
        """Recent search from ``since`` (at most 7 days back) to now; then polling goes on from the newest."""
        oldest = self._clock() - RECENT_SEARCH_REACH
        if since < oldest:
            raise SourceConfigError(
                f"X recent search reaches back 7 days (to {oldest:%Y-%m-%dT%H:%M}Z); "
                f"pick a --since after that, not {since:%Y-%m-%dT%H:%M}Z"
            )
        return {"start_time": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _search(
        self,
        since_id: str | None,
        next_token: str | None,
        start_time: str | None = None,
        *,
        max_results: int | None = None,
    ) -> requests.Response:
        params: dict[str, Any] = {"max_results": max_results or self.page_size, "tweet_fields": TWEET_FIELDS}
        if since_id:
            params["since_id"] = since_id
        if start_time:
            params["start_time"] = start_time
        if next_token:
            params["next_token"] = next_token
        try:
            return self._client.search_recent_tweets(self.query, **params)
        except tweepy.TooManyRequests as error:
            reset = error.response.headers.get("x-rate-limit-reset")
            retry_at = (
                datetime.fromtimestamp(int(reset), UTC)
                if reset and reset.isdigit()
                else self._clock() + _DEFAULT_WAIT
            )
            raise RateLimitedError("X recent search", retry_at, "429 Too Many Requests") from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as error:
            raise auth_error("X", "sources.twitter_bearer_token", error) from None
        except tweepy.BadRequest as error:
            messages = "; ".join(error.api_messages) or str(error)
            config_error = SourceConfigError(f"X rejected the recent-search request (400): {messages}")
            for name, value in (("next_token", next_token), ("since_id", since_id)):
                if value and name in messages:
                    raise _StaleCursor(name, config_error) from None
            raise config_error from None
