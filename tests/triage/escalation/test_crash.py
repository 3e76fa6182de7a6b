"""A delivery worker killed with a real SIGKILL mid-delivery: after a restart every message arrives,
and the receiver sees each logical event once after deduplicating by ``webhook-id``.

The worker runs in its own process (``crashing_worker``) on a real database; the kill lands either
after the claim committed and before anything was sent, or after the receiver got the message and
before the worker could write that down. No timing is involved: the test kills the process when it
is known to be at that point, and the restarted worker's clock is injected past the lease.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session, sessionmaker

from tests.triage.escalation.crashing_worker import escalation_settings
from tests.triage.escalation.support import FakeClock, incident_engine
from triage.escalation.delivery import DeliveryWorker
from triage.escalation.models import DELIVERED, OPEN_STATUSES, SENDING, OutboxMessageRow
from triage.escalation.outbox import enqueue_signal_messages
from triage.escalation.webhook import ID_HEADER
from triage.storage.database import create_db_engine, migrate, session_factory, transaction

REPO = Path(__file__).resolve().parents[3]
#: generous bounds for a loaded CI machine; reaching one is a failure, never a way to pass
PATIENCE_SECONDS = 120


@dataclass
class Receiver:
    url: str
    received: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Keeps every request; holds its answers back until ``release`` is set."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append({name.lower(): value for name, value in self.headers.items()})
            state.arrived.set()
            state.release.wait(PATIENCE_SECONDS)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:  # the sender was killed while we held the answer
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/signal"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'crash.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def outbox(sessions: sessionmaker[Session]) -> list[OutboxMessageRow]:
    with transaction(sessions) as session:
        return list(session.scalars(select_rows(OutboxMessageRow).order_by(OutboxMessageRow.id)))


def kill_when_ready(child: subprocess.Popen[str], mode: str, receiver: Receiver) -> None:
    """SIGKILL the worker once it is between its committed claim and the end of the send."""
    try:
        if mode == "before-send":
            assert child.stdout is not None
            ready, _, _ = select.select([child.stdout], [], [], PATIENCE_SECONDS)
            line = child.stdout.readline() if ready else ""
            assert line.startswith("sending "), f"the worker never got to send: {line!r}"
        else:
            assert receiver.arrived.wait(PATIENCE_SECONDS), "the receiver never heard from the worker"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(PATIENCE_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stderr = child.stderr.read() if child.stderr else ""
    assert child.returncode == -signal.SIGKILL, f"the worker ended on its own ({child.returncode}): {stderr}"


@pytest.mark.parametrize("mode", ["before-send", "after-send"])
def test_a_worker_killed_mid_delivery_delivers_everything_after_a_restart(
    mode: str, database_url: str, receiver: Receiver
) -> None:
    settings = escalation_settings(receiver.url)
    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for tenant in ("bank", "shop"):  # two alerts, so a claim holds more than the message in flight
            enqueue_signal_messages(session, tenant, incident_engine(tenant=tenant), settings)

    child = subprocess.Popen(
        [sys.executable, "-m", "tests.triage.escalation.crashing_worker", database_url, receiver.url, mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kill_when_ready(child, mode, receiver)
    receiver.release.set()
    in_flight = {headers[ID_HEADER] for headers in receiver.received}
    assert len(in_flight) == (0 if mode == "before-send" else 1)
    leased = [row for row in outbox(sessions) if row.status == SENDING]
    assert len(leased) == 2, "the dead worker's claims stay leased"

    early_clock = FakeClock(datetime.now(UTC))
    early = DeliveryWorker(sessions, settings, clock=early_clock, sleeper=early_clock.sleep)
    assert early.deliver_until_empty().attempts == 0, "while the lease runs, the claims are not taken again"

    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=settings.lease_seconds + 1))
    restarted = DeliveryWorker(sessions, settings, clock=clock, sleeper=clock.sleep)
    report = restarted.deliver_until_empty()
    restarted.close()
    rows = outbox(sessions)
    engine.dispose()

    assert report.dead == 0 and not [row for row in rows if row.status in OPEN_STATUSES]
    delivered = {row.message_id for row in rows if row.status == DELIVERED}
    seen = Counter(headers[ID_HEADER] for headers in receiver.received)
    assert set(seen) == delivered, "after deduplication, each logical event arrived, and only those"
    assert {message_id for message_id, count in seen.items() if count > 1} == in_flight, (
        "only a message the receiver got before the crash arrives twice (at least once); nothing else does"
    )
    assert all(count <= 2 for count in seen.values())
