"""X filtered stream through tweepy's ``StreamingClient``: rules from configuration,
reconnects with backoff.

Before connecting, the stream's rules are made equal to the configured ones
(rules X has that the configuration lacks are deleted, missing ones added), so
the configuration is the single truth. tweepy's own reconnect loop sleeps in
``time.sleep`` and never gives up on a dead token; here every disconnect ends
tweepy's loop, and this source reconnects itself with X's documented backoff
(network errors: +250 ms up to 16 s; HTTP errors: 5 s doubling to 320 s, at
least 60 s after a 429) through an injected sleeper, and stops on 401/403.

The connection runs in tweepy's thread; tweets cross to the reader through a
queue and are yielded in batches of ``batch_size`` or every ``batch_seconds``.
A stream has no resumable position, so the cursor only records the newest id
for the operator; posts seen twice after a reconnect are stored once anyway.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import tweepy

from ingest.errors import SourceAuthError, SourceConfigError
from ingest.records import Post
from ingest.sources.base import Cursor, Source, SourceBatch
from ingest.sources.redaction import redact_in_logger
from ingest.sources.twitter_search import TWEET_FIELDS, auth_error, tweet_to_post

_NETWORK_STEP, _NETWORK_MAX = 0.25, 16.0
_HTTP_START, _HTTP_MAX, _HTTP_429_START = 5.0, 320.0, 60.0


@dataclass
class _Disconnected:
    """Put on the queue when tweepy's connection ends, saying why."""

    status: int | None = None


class _QueueingClient(tweepy.StreamingClient):
    """Hands each line to the reader and ends tweepy's loop on any disconnect."""

    def __init__(self, bearer_token: str, events: queue.Queue[Any]) -> None:
        super().__init__(bearer_token, max_retries=0, wait_on_rate_limit=False)
        self._events = events
        self._status: int | None = None

    def on_data(self, raw_data: bytes) -> None:
        self._events.put(json.loads(raw_data))

    def on_request_error(self, status_code: int) -> None:
        self._status = status_code
        self.disconnect()

    def on_connection_error(self) -> None:
        self.disconnect()

    def on_closed(self, response: Any) -> None:
        self.disconnect()

    def on_disconnect(self) -> None:
        """tweepy calls this once whenever its loop ends, whatever the reason."""
        self._events.put(_Disconnected(status=getattr(self, "_status", None)))
        self._status = None


class Backoff:
    """X's reconnect schedule; reset after a connection that delivered data."""

    def __init__(self) -> None:
        self.network = 0.0
        self.http = 0.0

    def after(self, disconnected: _Disconnected) -> float:
        if disconnected.status is None:
            self.network = min(self.network + _NETWORK_STEP, _NETWORK_MAX)
            return self.network
        floor = _HTTP_429_START if disconnected.status in (420, 429) else _HTTP_START
        self.http = min(max(self.http * 2, floor), _HTTP_MAX)
        return self.http

    def reset(self) -> None:
        self.network = self.http = 0.0


class TwitterStreamSource(Source):
    kind = "twitter-stream"

    def __init__(
        self,
        bearer_token: str,
        rules: Mapping[str, str],
        author_salt: str,
        *,
        sleeper: Callable[[float], None],
        batch_size: int = 50,
        batch_seconds: float = 5.0,
        max_connections: int | None = None,
        source_name: str = "twitter",
    ) -> None:
        if not bearer_token:
            raise SourceConfigError("the X stream needs a bearer token: set sources.twitter_bearer_token")
        if not author_salt:
            raise SourceConfigError(
                "X author ids are hashed with a secret salt: set sources.author_hash_salt"
            )
        if not rules:
            raise SourceConfigError(
                "the X stream needs rules: set sources.twitter_stream_rules as {tag: rule}"
            )
        redact_in_logger("tweepy.client", bearer_token)
        self.rules = dict(rules)
        self.source_name = source_name
        self._token = bearer_token
        self._salt = author_salt
        self._sleep = sleeper
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.max_connections = max_connections
        self.backoff = Backoff()

    def __repr__(self) -> str:
        return f"TwitterStreamSource(rules={sorted(self.rules)})"

    def check(self) -> str:
        """Read the stream's rules: proves the token has filtered-stream access, changes nothing."""
        client = tweepy.StreamingClient(self._token, max_retries=0, wait_on_rate_limit=False)
        response = self._guard(lambda: client.get_rules())
        return (
            f"X accepted the bearer token for the filtered stream; {len(response.data or [])} rule(s) "
            f"on X, {len(self.rules)} configured"
        )

    def sync_rules(self, client: tweepy.StreamingClient) -> None:
        """Make the stream's rules exactly the configured ones (matched on tag and value)."""
        response = self._guard(lambda: client.get_rules())
        current = {(rule.tag, rule.value): rule.id for rule in (response.data or [])}
        wanted = {(tag, value) for tag, value in self.rules.items()}
        stale = [rule_id for key, rule_id in current.items() if key not in wanted]
        missing = [tweepy.StreamRule(value=value, tag=tag) for tag, value in sorted(wanted - set(current))]
        if stale:
            self._guard(lambda: client.delete_rules(stale))
        if missing:
            self._guard(lambda: client.add_rules(missing))

    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        events: queue.Queue[Any] = queue.Queue()
        client = _QueueingClient(self._token, events)
        self.sync_rules(client)
        newest = cursor.get("newest_id")
        connections = 0
        while self.max_connections is None or connections < self.max_connections:
            connections += 1
            thread = client.filter(threaded=True, tweet_fields=TWEET_FIELDS)
            posts: list[Post] = []
            delivered = False
            while True:
                try:
                    event = events.get(timeout=self.batch_seconds)
                except queue.Empty:
                    event = None
                if isinstance(event, dict) and "data" in event:
                    posts.append(tweet_to_post(event["data"], self._salt, self.source_name))
                    newest = event["data"]["id"]
                    delivered = True
                if posts and (
                    event is None or isinstance(event, _Disconnected) or len(posts) >= self.batch_size
                ):
                    yield SourceBatch(posts=posts, cursor={"newest_id": newest})
                    posts = []
                if isinstance(event, _Disconnected):
                    break
            thread.join()
            if event.status in (401, 403):
                raise SourceAuthError(
                    f"X refused the filtered stream ({event.status}): set sources.twitter_bearer_token "
                    "to a valid bearer token with filtered-stream access"
                )
            if delivered:
                self.backoff.reset()
            wait = self.backoff.after(event)
            if self.max_connections is None or connections < self.max_connections:
                self._sleep(wait)

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (tweepy.Unauthorized, tweepy.Forbidden) as error:
            raise auth_error("X", "sources.twitter_bearer_token", error) from None
