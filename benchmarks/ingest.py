"""Ingest benchmark: posts/s stored by the pull stage from X, Zendesk and the file source.

X and Zendesk are fake servers on 127.0.0.1 (``ThreadingHTTPServer``, HTTP/1.1
keep-alive) answering with the JSON pages their APIs document: recent search
pages of 100 tweets with ``next_token`` and rate-limit headers; the incremental
ticket export with ``after_cursor``/``end_of_stream``, plus each ticket's
comments (Zendesk needs one request per ticket for them). tweepy and zenpy run
unchanged; a requests adapter sends their ``https://api.twitter.com`` and
``https://acme.zendesk.com`` requests to the loopback server instead. Pages are
rendered before the clock starts, so the fake costs little beside the client.

The same posts (same ids, authors, texts) then go through the watched-folder
source as one JSONL file, in this run, with the same batch size as X's pages;
the "vs file" column is each source's rate over the file source's on the same
store. Each row is the fastest of ``--repeat`` pulls, every pull into a fresh
database: a SQLite file, or a PostgreSQL database created for it and dropped
afterwards. Machines here are shared and noisy, so the ratios are what
compares between runs, not the rates.

Zendesk's rate is bound by its one comments request per ticket; the real API
allows 200 to 2500 requests a minute depending on the plan, so against the
real service the rate limit, not this code, sets the pace.

    python benchmarks/ingest.py
    python benchmarks/ingest.py --posts 5000 --no-postgres
    python benchmarks/ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGE_SIZE = 100
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_PHRASES = [
    "checkout keeps spinning after I press pay",
    "card declined again at the till, balance is fine",
    "app logs me out every few minutes",
    "love the new savings pots",
    "where do I find my statement?",
]


@dataclass(frozen=True)
class Complaint:
    """One synthetic customer post, rendered as a tweet, a ticket and a replay-file line."""

    number: int
    text: str
    created_at: str


def complaints(count: int) -> list[Complaint]:
    return [
        Complaint(
            number=number,
            text=f"@acme {_PHRASES[number % len(_PHRASES)]} #{number}",
            created_at=(NOW - timedelta(hours=2) + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for number in range(count)
    ]


# --- the fake APIs ---------------------------------------------------------------------------------


def _tweet(complaint: Complaint) -> dict[str, Any]:
    tweet_id = str(1_900_000_000_000_000_000 + complaint.number)
    return {
        "id": tweet_id,
        "text": complaint.text,
        "author_id": str(10_000 + complaint.number % 997),
        "created_at": complaint.created_at.replace("Z", ".000Z"),
        "lang": "en",
        "conversation_id": tweet_id,
        "edit_history_tweet_ids": [tweet_id],
        "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": 2, "quote_count": 0},
    }


def x_pages(items: list[Complaint]) -> dict[str, bytes]:
    """Recent-search pages by ``next_token`` ("" for the first), newest first as X returns them."""
    tweets = [_tweet(item) for item in reversed(items)]
    pages: dict[str, bytes] = {}
    for start in range(0, len(tweets), PAGE_SIZE):
        page = tweets[start : start + PAGE_SIZE]
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if start + PAGE_SIZE < len(tweets):
            meta["next_token"] = f"t{start + PAGE_SIZE}"
        pages["" if start == 0 else f"t{start}"] = json.dumps({"data": page, "meta": meta}).encode()
    return pages


def _ticket(complaint: Complaint, base: str) -> dict[str, Any]:
    ticket_id = complaint.number + 1
    return {
        "id": ticket_id,
        "url": f"{base}/tickets/{ticket_id}.json",
        "type": "incident",
        "subject": complaint.text[:40],
        "raw_subject": complaint.text[:40],
        "description": complaint.text,
        "priority": "normal",
        "status": "open",
        "requester_id": 5000 + complaint.number % 997,
        "submitter_id": 5000 + complaint.number % 997,
        "assignee_id": None,
        "organization_id": 3,
        "group_id": None,
        "tags": ["bench"],
        "custom_fields": [],
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": complaint.created_at,
        "updated_at": complaint.created_at,
        "generated_timestamp": 0,
    }


def zendesk_pages(items: list[Complaint]) -> tuple[dict[str, bytes], dict[int, bytes]]:
    """Export pages by cursor ("" for the first, from start_time) and each ticket's comments."""
    base = "https://acme.zendesk.com/api/v2"
    tickets = [_ticket(item, base) for item in items]
    pages: dict[str, bytes] = {}
    for start in range(0, len(tickets), PAGE_SIZE):
        after = f"c{start + PAGE_SIZE}"
        body = {
            "tickets": tickets[start : start + PAGE_SIZE],
            "after_url": f"{base}/incremental/tickets/cursor.json?cursor={after}",
            "after_cursor": after,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": start + PAGE_SIZE >= len(tickets),
        }
        pages["" if start == 0 else f"c{start}"] = json.dumps(body).encode()
    comments = {
        ticket["id"]: json.dumps(
            {
                "comments": [
                    {
                        "id": ticket["id"] * 10,
                        "type": "Comment",
                        "author_id": ticket["requester_id"],
                        "body": ticket["description"],
                        "public": True,
                        "attachments": [],
                        "created_at": ticket["created_at"],
                    },
                    {
                        "id": ticket["id"] * 10 + 1,
                        "type": "Comment",
                        "author_id": 1,
                        "body": "internal: checking the payment logs",
                        "public": False,
                        "attachments": [],
                        "created_at": ticket["created_at"],
                    },
                ],
                "next_page": None,
                "previous_page": None,
                "count": 2,
            }
        ).encode()
        for ticket in tickets
    }
    return pages, comments


class FakeApis(ThreadingHTTPServer):
    """X and Zendesk on one loopback port, told apart by path."""

    daemon_threads = True

    def __init__(self, items: list[Complaint]) -> None:
        self.x = x_pages(items)
        self.export, self.comments = zendesk_pages(items)
        self.requests = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: headers and body go out as two writes; with Nagle on, keep-alive waits out delayed ACKs (40 ms)
    disable_nagle_algorithm = True
    server: FakeApis

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests += 1
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        headers = {"Content-Type": "application/json"}
        if url.path == "/2/tweets/search/recent":
            body = self.server.x.get(query.get("next_token", ""))
            headers |= {
                "x-rate-limit-limit": "450",
                "x-rate-limit-remaining": "449",
                "x-rate-limit-reset": "0",
            }
        elif url.path == "/api/v2/incremental/tickets/cursor.json":
            body = self.server.export.get(query.get("cursor", ""))
            headers |= {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}
        elif url.path.startswith("/api/v2/tickets/") and url.path.endswith("/comments.json"):
            body = self.server.comments.get(int(url.path.split("/")[4]))
        else:
            body = None
        if body is None:
            body, status = b'{"error": "not found"}', 404
        else:
            status = 200
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass


class LoopbackAdapter(HTTPAdapter):
    """Sends every https request of a session to the fake server, path and query unchanged."""

    def __init__(self, port: int) -> None:
        super().__init__(pool_maxsize=4)
        self.port = port

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        wire = request.copy()
        wire.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        response = super().send(wire, **kwargs)
        # the clients read the URL back (zenpy picks its response handler by it): show them the original
        response.request, response.url = request, request.url or ""
        return response


# --- the sources, as the CLI builds them -----------------------------------------------------------


def x_source(port: int) -> Any:
    import tweepy

    from ingest.sources.twitter_search import TwitterSearchSource

    client = tweepy.Client(
        bearer_token="bench-token", return_type=requests.Response, wait_on_rate_limit=False
    )
    client.session.mount("https://", LoopbackAdapter(port))
    return TwitterSearchSource(
        "bench-token", "@acme -is:retweet", "bench-salt", clock=lambda: NOW, client=client
    )


def zendesk_source(port: int) -> Any:
    from ingest.sources.zendesk import ZendeskSource

    session = requests.Session()
    session.mount("https://", LoopbackAdapter(port))
    return ZendeskSource(
        "acme",
        "agent@acme.test",
        "bench-token",
        clock=lambda: NOW,
        start_time=NOW - timedelta(days=1),
        session=session,
    )


def file_source(work: Path, items: list[Complaint]) -> Any:
    """The same complaints as replay-file lines, in a watched folder, one batch per X page's worth."""
    from ingest.sources.twitter_search import author_key, tweet_url
    from ingest.sources.watched_folder import WatchedFolderSource

    folder = work / "drop"
    folder.mkdir(exist_ok=True)
    path = folder / "posts.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            tweet = _tweet(item)
            line = {
                "type": "post",
                "source": "twitter",
                "id": tweet["id"],
                "author": author_key(tweet["author_id"], "bench-salt"),
                "text": tweet["text"],
                "created_at": tweet["created_at"],
                "lang": "en",
                "url": tweet_url(tweet["id"]),
                "meta": {"public_metrics": tweet["public_metrics"], "conversation_id": tweet["id"]},
            }
            handle.write(json.dumps(line) + "\n")
    return WatchedFolderSource(
        folder, clock=lambda: datetime.now(UTC), settle=timedelta(0), batch_lines=PAGE_SIZE
    )


# --- stores and timing -----------------------------------------------------------------------------


@contextmanager
def sqlite_store(work: Path, label: str) -> Iterator[str]:
    yield f"sqlite:///{(work / f'{label}.db').as_posix()}"


def postgres_store(admin_url: str) -> Callable[[Path, str], Any]:
    @contextmanager
    def store(_work: Path, _label: str) -> Iterator[str]:
        from sqlalchemy import create_engine, text

        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"bench_ingest_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return store


@dataclass(frozen=True)
class Measured:
    store: str
    source: str
    posts: int
    seconds: float
    requests: int

    @property
    def rate(self) -> float:
        return self.posts / self.seconds


def time_pull(url: str, name: str, source: Any) -> tuple[int, float]:
    """Posts newly stored by one ``pull_source`` from an empty database, and the seconds it took."""
    from triage.ingestion import pull_source
    from triage.storage.database import create_db_engine, migrate, session_factory

    engine = create_db_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    started = time.perf_counter()
    result = pull_source(sessions, "bench", name, source, clock=lambda: NOW)
    seconds = time.perf_counter() - started
    engine.dispose()
    return result.posts_new, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000, help="posts per source (default 2000)")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="admin URL of a PostgreSQL server to create the benchmark's databases on",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--repeat", type=int, default=3, help="pulls per row, each into a fresh database; the fastest counts"
    )
    args = parser.parse_args()

    import logging

    logging.disable(logging.INFO)  # one log line per batch would be measured too
    items = complaints(args.posts)
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    server = FakeApis(items)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stores: list[tuple[str, Callable[[Path, str], Any]]] = [("sqlite", sqlite_store)]
    if not args.no_postgres:
        stores.append(("postgresql", postgres_store(args.postgres)))

    sources: list[tuple[str, str, Callable[[], Any]]] = [
        ("file (watched folder)", "folder", lambda: file_source(work, items)),
        ("X (tweepy, HTTP)", "twitter", lambda: x_source(server.port)),
        ("Zendesk (zenpy, HTTP)", "zendesk", lambda: zendesk_source(server.port)),
    ]
    rows: list[Measured] = []
    try:
        for store_name, store in stores:
            for label, name, build in sources:
                timings = []
                for attempt in range(args.repeat):
                    with store(work, f"{store_name}-{name}-{attempt}") as url:
                        before = server.requests
                        stored, seconds = time_pull(url, name, build())
                        if stored != args.posts:
                            sys.exit(f"{label} on {store_name} stored {stored} of {args.posts} posts")
                        timings.append((seconds, server.requests - before))
                seconds, requests_made = min(timings)
                rows.append(Measured(store_name, label, args.posts, seconds, requests_made))
    finally:
        server.shutdown()

    print(
        f"posts per source  {args.posts}; X pages and file batches of {PAGE_SIZE}, Zendesk chunks of 50; "
        f"fastest of {args.repeat} pull(s), each into a fresh database"
    )
    columns = ("store", "source", "posts", "requests", "seconds", "posts/s", "vs file")
    print("{:<11} {:<22} {:>6} {:>9} {:>8} {:>9} {:>8}".format(*columns))
    for row in rows:
        file_rate = next(r.rate for r in rows if r.store == row.store and r.source.startswith("file"))
        print(
            f"{row.store:<11} {row.source:<22} {row.posts:>6} {row.requests:>9} {row.seconds:>8.2f} "
            f"{row.rate:>9.1f} {row.rate / file_rate:>7.2f}x"
        )


if __name__ == "__main__":
    main()
