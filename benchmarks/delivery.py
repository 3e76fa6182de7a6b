"""Outbox delivery rate against a bare HTTP loop, to a fake receiver on 127.0.0.1.

    python -m benchmarks.delivery [--messages 500] [--database sqlite|URL]

Both sides POST the same signed JSON bodies to the same loopback receiver in
this process. The baseline is a bare ``httpx`` POST loop; the outbox side is
``DeliveryWorker.deliver_until_empty`` over as many pending rows (one alert
each, so nothing is coalesced), which adds claiming, ordering, the rate
limiter, tenacity and recording every outcome in the database. The ratio says
what that bookkeeping costs; the receiver's own cost is in both.

In the same runs, an ``httpx.Client`` that times its own ``request`` calls (the
whole HTTP call: building the request, the loopback round trip, reading the
response) splits each side's wall time into inside and outside the HTTP call;
"outside" is everything else: for the outbox, claiming, signing, tenacity, the
rate limiter and the database writes.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import delete

from triage.escalation.delivery import DeliveryWorker
from triage.escalation.message import ImpactMessage, LikelyCause, SamplePost
from triage.escalation.models import PENDING, OutboxMessageRow
from triage.escalation.settings import EscalationSettings, TargetSettings
from triage.escalation.webhook import WebhookTarget, message_body
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

MOMENT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid delayed-ACK stalls
    count = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


def sample_message(number: int) -> ImpactMessage:
    return ImpactMessage(
        message_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{number}")),
        action="trigger",
        tenant="bench",
        dedup_key=f"bench:cl-{number:05d}",
        signal_key=f"bench:cl-{number:05d}",
        generation=1,
        cluster_key=f"cl-{number:05d}",
        summary="card declined at the till",
        severity="error",
        service="cards",
        distinct_authors=23,
        posts=31,
        onset=MOMENT,
        first_triggered_at=MOMENT,
        decided_at=MOMENT,
        detail="23 distinct authors in the window where 0.40 are usual",
        sentiment={"negative": 29, "neutral": 2},
        samples=[
            SamplePost(
                source="twitter",
                external_id=f"t{i}",
                posted_at=MOMENT,
                text="my card keeps getting declined at every shop today",
            )
            for i in range(5)
        ],
        likely_causes=[LikelyCause(change="c1", score=0.91, reasons=["deploy on cards 10 min before onset"])],
        link=f"http://127.0.0.1:8000/clusters/cl-{number:05d}",
    )


class TimedClient(httpx.Client):
    """An ``httpx.Client`` that adds up the seconds spent inside its HTTP calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inside = 0.0
        self.calls = 0

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        try:
            return super().request(*args, **kwargs)
        finally:
            self.inside += time.perf_counter() - started
            self.calls += 1


@dataclass
class Run:
    """Messages per second of one side and how its wall time splits around the HTTP call."""

    messages: int
    seconds: float
    inside_http: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def outside_share(self) -> float:
        return max(0.0, self.seconds - self.inside_http) / self.seconds


def bare_loop(url: str, messages: list[ImpactMessage]) -> Run:
    """A plain POST loop (same bodies, one client), timed like the outbox side."""
    with TimedClient() as client:
        started = time.perf_counter()
        for message in messages:
            body = message_body(message)
            response = client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "webhook-id": message.message_id,
                },
            )
            response.raise_for_status()
        return Run(len(messages), time.perf_counter() - started, client.inside)


def outbox_rate(database_url: str, settings: EscalationSettings, messages: list[ImpactMessage]) -> Run:
    engine = create_db_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        session.execute(delete(OutboxMessageRow).where(OutboxMessageRow.tenant == "bench"))
        for sequence, message in enumerate(messages, start=1):
            session.add(
                OutboxMessageRow(
                    message_id=message.message_id,
                    tenant="bench",
                    target="bench",
                    kind="webhook",
                    signal_key=message.signal_key,
                    delivery_key=message.dedup_key,
                    generation=1,
                    sequence=sequence,
                    action="trigger",
                    payload=message.model_dump(mode="json"),
                    status=PENDING,
                    attempts=0,
                    decided_at=MOMENT,
                )
            )
    (config,) = settings.targets
    client = TimedClient(timeout=config.timeout_seconds, follow_redirects=False)
    worker = DeliveryWorker(sessions, settings, targets={config.name: WebhookTarget(config, client)})
    started = time.perf_counter()
    report = worker.deliver_until_empty()
    seconds = time.perf_counter() - started
    worker.close()
    with transaction(sessions) as session:
        session.execute(delete(OutboxMessageRow).where(OutboxMessageRow.tenant == "bench"))
    engine.dispose()
    if report.delivered != len(messages):
        raise SystemExit(
            f"outbox delivered {report.delivered} of {len(messages)} messages: {report.errors[:3]}"
        )
    if client.calls != len(messages):
        raise SystemExit(f"expected {len(messages)} HTTP calls, timed {client.calls}")
    return Run(len(messages), seconds, client.inside)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument(
        "--database", default="sqlite", help="'sqlite' (a temporary file) or a SQLAlchemy URL"
    )
    arguments = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    config = TargetSettings(
        name="bench",
        kind="webhook",
        url=url,
        secret=SecretStr("whsec_" + "A" * 44),  # 33 bytes of base64, a valid key
        rate_per_minute=10_000_000,
        burst=1_000_000,
    )
    settings = EscalationSettings(targets=[config], batch_size=200)
    messages = [sample_message(number) for number in range(arguments.messages)]
    with tempfile.TemporaryDirectory() as folder:
        database = (
            f"sqlite:///{Path(folder) / 'bench.db'}" if arguments.database == "sqlite" else arguments.database
        )
        bare_loop(url, messages[:20])  # warm up both paths
        baseline = bare_loop(url, messages)
        outbox = outbox_rate(database, settings, messages)
    server.shutdown()
    print(f"messages: {len(messages)}  database: {arguments.database}")
    print(f"bare httpx POST loop : {baseline.rate:8.1f} messages/s")
    print(f"outbox delivery      : {outbox.rate:8.1f} messages/s")
    print(f"ratio outbox / bare  : {outbox.rate / baseline.rate:8.2f}")
    print(
        f"share of time spent outside the HTTP call: outbox {outbox.outside_share:6.1%}"
        f" ({(outbox.seconds - outbox.inside_http) / outbox.messages * 1000:.2f} ms/message outside,"
        f" {outbox.inside_http / outbox.messages * 1000:.2f} ms inside);"
        f" bare loop {baseline.outside_share:6.1%}"
    )


if __name__ == "__main__":
    main()
