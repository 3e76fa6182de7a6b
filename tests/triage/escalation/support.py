"""Builders for escalation tests: an engine with one real incident, a fake clock, a loopback receiver."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ingest.records import Service
from tests.factories import START, near, triage_change, triage_post, unit_vector
from triage.catalog import ServiceCatalog
from triage.engine import TriageEngine
from triage.events import TriagePost
from triage.settings import Settings

THEME = unit_vector(11)


def zendesk_post(number: int, minutes: float, author: str) -> TriagePost:
    post = triage_post(number, minutes, author, near(THEME, number, 0.2))
    return TriagePost(post.post_id, str(9000 + number), "zendesk", post.author, post.time, "Card declined\n\nat the till",
                      post.embedding, post.problem_probability, post.category, "negative")


def incident_engine(*, final_authors: int = 24, resolve: bool = True, tenant: str = "bank") -> TriageEngine:
    """A card outage: a deploy, then complaints from more and more people, then quiet until it resolves.

    Decisions: trigger (at the fifth-or-so author), update when severity becomes 'error' (20 authors),
    then resolve after the cluster has been quiet for the resolve period.
    """
    catalog = ServiceCatalog([Service(name="cards", description="card payments")], THEME.reshape(1, -1))
    engine = TriageEngine(Settings(), catalog, tenant)
    engine.add_change(triage_change("c1", 590, "cards", embedding=THEME))
    for number in range(final_authors):
        minutes = 600 + number
        engine.tick(START.timestamp() + minutes * 60 - 1)
        if number % 4 == 3:
            engine.add_post(zendesk_post(number, minutes, f"author{number}"))
        else:
            engine.add_post(triage_post(number, minutes, f"author{number}", near(THEME, number, 0.2)))
    engine.tick(START.timestamp() + (600 + final_authors) * 60)
    if resolve:
        engine.tick(START.timestamp() + (600 + final_authors + 200) * 60)
    return engine


class FakeClock:
    """The worker's clock; the sleeper advances it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackReceiver:
    """A real HTTP server on 127.0.0.1 answering scripted replies (then ``default``), recording requests."""

    def __init__(self, default: Reply) -> None:
        self.default = default
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received(self.path, dict(self.headers), body))
                reply = receiver.script.popleft() if receiver.script else receiver.default
                payload = reply.body if isinstance(reply.body, bytes | str) else json.dumps(reply.body)
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LoopbackReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
