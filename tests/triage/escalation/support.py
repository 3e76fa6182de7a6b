"""Builders for escalation tests: an engine with one real incident, a fake clock, a loopback receiver."""

from __future__ import annotations

import base64
import functools
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.records import Service
from tests.factories import START, near, triage_change, triage_post, unit_vector
from triage.catalog import ServiceCatalog
from triage.engine import TriageEngine
from triage.escalation.message import ImpactMessage, SnapshotBuilder
from triage.escalation.outbox import plan_generations
from triage.escalation.settings import EscalationSettings
from triage.events import TriagePost
from triage.settings import ClusteringSettings, Settings

THEME = unit_vector(11)
#: a Standard Webhooks secret: whsec_ and the base64 of 32 bytes
WEBHOOK_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()


def zendesk_post(number: int, minutes: float, author: str) -> TriagePost:
    post = triage_post(number, minutes, author, near(THEME, number, 0.2))
    return TriagePost(
        post.post_id,
        str(9000 + number),
        "zendesk",
        post.author,
        post.time,
        "Card declined\n\nat the till",
        post.embedding,
        post.problem_probability,
        post.category,
        "negative",
    )


def incident_engine(*, final_authors: int = 24, resolve: bool = True, tenant: str = "bank") -> TriageEngine:
    """A card outage after five ordinary hours: a deploy, complaints from more and more people,
    then quiet until the cluster resolves.

    The ordinary hours (a complaint every five minutes about other things) give detection the
    baseline it needs before anything may page. Decisions: trigger (at the fifth-or-so author),
    update when severity becomes 'error' (20 authors), resolve once the cluster has been quiet.
    """
    catalog = ServiceCatalog([Service(name="cards", description="card payments")], THEME.reshape(1, -1))
    # these tests are about the messages, whose author counts they state exactly; a surge may also
    # attach an ordinary complaint that resembles it loosely (by design: tests/triage/test_surge_join.py)
    exact = Settings(clustering=ClusteringSettings(surge_join_levels=[]))
    engine = TriageEngine(exact, catalog, tenant)
    for number, minutes in enumerate(range(300, 600, 5), start=1000):
        engine.tick(START.timestamp() + minutes * 60 - 1)
        topic = unit_vector(500 + number % 6)
        engine.add_post(triage_post(number, minutes, f"someone{number}", near(topic, number, 0.2)))
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


@functools.cache
def incident_key() -> str:
    """The engine's dedup key of the incident's signal (its format is the engine's business)."""
    return incident_engine().decisions[0].dedup_key


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


class FakeEventsApi:
    """PagerDuty's Events API at the transport of ``httpx2`` (the HTTP client of ``pagerduty`` 7).

    respx patches ``httpx`` only, and the package insists on an https base URL, so this plays the
    role respx plays for httpx: scripted replies (then ``default``) in real JSON, every request kept.
    """

    def __init__(self, default: Reply) -> None:
        import httpx2

        self.default = default
        self.script: deque[Reply | Exception] = deque()
        self.received: list[httpx2.Request] = []
        self.transport = httpx2.MockTransport(self._handle)

    def _handle(self, request: Any) -> Any:
        import httpx2

        self.received.append(request)
        reply = self.script.popleft() if self.script else self.default
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply.body, str):
            return httpx2.Response(reply.status, text=reply.body, headers=reply.headers)
        return httpx2.Response(reply.status, json=reply.body, headers=reply.headers)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.received]


def messages() -> list[ImpactMessage]:
    """The incident's trigger, update and resolve as targets receive them."""
    engine = incident_engine()
    builder = SnapshotBuilder(engine, EscalationSettings(public_base_url="https://triage.example.com"))
    return [
        builder.build(
            plan.decision,
            message_id=f"m{plan.sequence}",
            dedup_key=plan.delivery_key,
            generation=plan.generation,
        )
        for plan in plan_generations(engine.decisions)
    ]
