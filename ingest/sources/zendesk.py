"""Zendesk tickets through zenpy's cursor-based incremental ticket export.

The export returns every ticket created or changed since the cursor, one page
at a time (``after_cursor``; ``end_of_stream`` when caught up), and the cursor
stays valid for the next poll. A ticket seen again has changed (a new comment,
a new priority), so this source sets ``posts_can_change`` and the runner
updates the stored post, which sends it back through analysis. Tickets the
export reports as ``deleted`` are listed for deletion.

A post's text is the subject, the description and the later public comments:
what the customer and the agents said in the open, never internal notes.

Each ticket costs one more request (its comments), so a 1000-ticket page is
stored in chunks: mid-page, the cursor holds the page's own cursor and the
tickets done on it (id and ``updated_at``), and a resumed read re-fetches the
page and skips them. A page larger than one rate-limit window of comment
requests therefore still completes, over several windows.

Rate limits: the export allows 10 requests a minute and answers 429 with
``Retry-After``. zenpy would sleep through it in ``time.sleep``; instead it gets
a rate-limit budget of one second, so it gives up at once, and we read
``Retry-After`` from the response (captured by a session hook) and hand the
wait to the runner. The page being read is not committed, so its cursor is
retried, which is safe because storing a ticket twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from zenpy import Zenpy
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from ingest.errors import RateLimitedError, SourceAuthError, SourceConfigError
from ingest.records import Post
from ingest.sources.base import Cursor, RateLimitStatus, Source, SourceBatch, SourceChanges

#: wait this long after a 429 that came without Retry-After (the export's window is a minute)
_DEFAULT_WAIT = timedelta(seconds=60)


class _LastResponse:
    """Remembers the headers of the last response, for Retry-After after zenpy gives up."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.headers = {key.lower(): value for key, value in response.headers.items()}
        return response


def author_key(organization_id: Any, requester_id: Any) -> str:
    """``org<id>:u<id>``; a requester with no organization is ``u<id>`` alone."""
    user = f"u{requester_id}" if requester_id is not None else "unknown"
    return f"org{organization_id}:{user}" if organization_id is not None else user


def ticket_text(subject: str | None, description: str | None, public_comments: list[str]) -> str:
    """Subject, description, then public comments; the first comment repeats the
    description (Zendesk stores the description as comment one) and is dropped."""
    parts = [part.strip() for part in (subject, description) if part and part.strip()]
    for body in public_comments:
        body = body.strip()
        if body and body != (description or "").strip():
            parts.append(body)
    return "\n\n".join(parts) or "(empty ticket)"


class ZendeskSource(Source):
    """Incremental ticket export; one export page per batch."""

    kind = "zendesk"
    posts_can_change = True

    def __init__(
        self,
        subdomain: str,
        email: str,
        token: str,
        *,
        clock: Callable[[], datetime],
        start_time: datetime | None = None,
        lookback: timedelta = timedelta(hours=24),
        source_name: str = "zendesk",
        page_size: int = 100,
        chunk_size: int = 50,
        session: requests.Session | None = None,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("zendesk_subdomain", subdomain),
                ("zendesk_email", email),
                ("zendesk_token", token),
            )
            if not value
        ]
        if missing:
            raise SourceConfigError(f"Zendesk needs {', '.join('sources.' + name for name in missing)}")
        self.subdomain = subdomain
        self.source_name = source_name
        self.page_size = page_size
        self.chunk_size = chunk_size
        self._clock = clock
        self._start_time = start_time
        self._lookback = lookback
        self._last_response = _LastResponse()
        if session is None:  # a caller's own session keeps its adapters (the benchmark's loopback one)
            session = requests.Session()
            session.mount("https://", HTTPAdapter(**Zenpy.http_adapter_kwargs()))
        session.hooks["response"].append(self._last_response)
        self._client = Zenpy(
            subdomain=subdomain, email=email, token=token, session=session, ratelimit_budget=1
        )

    def __repr__(self) -> str:
        return f"ZendeskSource(subdomain={self.subdomain!r})"

    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        page_cursor: str | None = cursor.get("after_cursor")
        start_time: int | None = cursor.get("start_time")
        done: dict[str, Any] = dict(cursor.get("page_done") or {})
        while True:
            if page_cursor is None and start_time is None:
                start_time = int((self._start_time or (self._clock() - self._lookback)).timestamp())
            page = self._export_page(page_cursor, start_time)
            rate_limit = self._rate_limit()
            tickets = page.process_page()
            next_cursor = getattr(page, "after_cursor", None) or page_cursor
            finished: Cursor = {"after_cursor": next_cursor}
            pending = [ticket for ticket in tickets if done.get(str(ticket.id)) != ticket.updated_at]
            chunks = [
                pending[start : start + self.chunk_size] for start in range(0, len(pending), self.chunk_size)
            ]
            for number, chunk in enumerate(chunks or [[]], start=1):
                batch = SourceBatch(extra=SourceChanges(rate_limit=rate_limit))
                for ticket in chunk:
                    if ticket.status == "deleted":
                        batch.extra.deleted_post_ids.append(str(ticket.id))
                    else:
                        batch.posts.append(self._ticket_to_post(ticket))
                    done[str(ticket.id)] = ticket.updated_at
                last = number >= len(chunks)
                batch.cursor = (
                    finished
                    if last
                    else {"after_cursor": page_cursor, "start_time": start_time, "page_done": dict(done)}
                )
                yield batch
            if getattr(page, "end_of_stream", True) or not tickets:
                return
            page_cursor, start_time, done = next_cursor, None, {}

    def check(self) -> str:
        """``GET /users/me``: Zendesk answers an unauthenticated call with an anonymous
        user (no id) rather than 401, so an id is what proves the token."""
        me = self._call(lambda: self._client.users.me())
        if getattr(me, "id", None) is None:
            raise SourceAuthError(
                f"Zendesk ({self.subdomain}.zendesk.com) did not sign in the configured agent: "
                "check sources.zendesk_email and sources.zendesk_token"
            )
        return f"Zendesk {self.subdomain}.zendesk.com accepted the token of {me.email} (role {me.role})"

    def cursor_since(self, since: datetime, current: Cursor) -> Cursor:
        """The export from ``since``; every ticket changed since is read again and updated if it changed."""
        if since > self._clock():
            raise SourceConfigError(f"a backfill starts in the past, not at {since:%Y-%m-%dT%H:%M}Z")
        return {"start_time": int(since.timestamp())}

    def _export_page(self, after_cursor: str | None, start_time: int | None) -> Any:
        if after_cursor:
            return self._call(
                lambda: self._client.tickets.incremental(cursor=after_cursor, per_page=self.page_size)
            )
        return self._call(
            lambda: self._client.tickets.incremental(start_time=start_time, per_page=self.page_size)
        )

    def _ticket_to_post(self, ticket: Any) -> Post:
        comments = self._call(
            lambda: [c.body for c in self._client.tickets.comments(ticket=ticket.id) if c.public]
        )
        channel = getattr(ticket.via, "channel", None) if ticket.via is not None else None
        url = f"https://{self.subdomain}.zendesk.com/agent/tickets/{ticket.id}"
        return Post(
            source=self.source_name,
            external_id=str(ticket.id),
            author_key=author_key(ticket.organization_id, ticket.requester_id),
            text=ticket_text(ticket.subject, ticket.description, comments),
            created_at=ticket.created_at,
            url=url,
            meta={
                "priority": ticket.priority,
                "tags": list(ticket.tags or []),
                "channel": channel,
                "status": ticket.status,
                "url": url,
                "updated_at": ticket.updated_at,
                "public_comments": len(comments),
            },
        )

    def _call(self, request: Callable[[], Any]) -> Any:
        """Run one zenpy request, turning its failures into what the runner acts on."""
        try:
            return request()
        except RatelimitBudgetExceeded:
            raise self._rate_limited() from None
        except APIException as error:
            status = error.response.status_code if error.response is not None else None
            if status == 429:
                raise self._rate_limited() from None
            if status in (401, 403):
                raise SourceAuthError(
                    f"Zendesk refused the API token ({status}): check sources.zendesk_email and "
                    "sources.zendesk_token, and that token access is enabled in Zendesk"
                ) from None
            raise

    def _rate_limited(self) -> RateLimitedError:
        retry_after = self._last_response.headers.get("retry-after", "")
        wait = timedelta(seconds=int(retry_after)) if retry_after.isdigit() else _DEFAULT_WAIT
        return RateLimitedError("Zendesk", self._clock() + wait, "429 Too Many Requests")

    def _rate_limit(self) -> RateLimitStatus:
        headers = self._last_response.headers

        def number(name: str) -> int | None:
            value = headers.get(name, "")
            return int(value) if value.isdigit() else None

        return RateLimitStatus(remaining=number("x-rate-limit-remaining"), limit=number("x-rate-limit"))
