"""What the fault tests share: a small scenario, the ``triage`` CLI as a real subprocess, a loopback
webhook receiver that verifies signatures and deduplicates by message id, and a read-only look at
the database that says what the service ended up believing (its "report")."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.factories import stamp, write_small_scenario
from triage.escalation.webhook import EVENT_HEADER, ID_HEADER, verify_signature

REPO = Path(__file__).resolve().parents[2]
#: a Standard Webhooks secret (24 bytes) used only by these tests
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fault-test-secret-bytes-32-long!").decode()
#: generous bounds for a loaded machine; reaching one fails the test, it never makes it pass
PATIENCE_SECONDS = 180.0


def write_scenario(path: Path, *, seed: int = 7) -> set[tuple[str, str]]:
    """The tiny bank of ``tests.factories`` plus two quiet hours of chatter after its outage, so the
    outage's signal resolves inside the scenario. Returns every post's (source, id)."""
    write_small_scenario(path, seed=seed, incident_authors=14)
    chatter = [
        {
            "type": "post",
            "source": "twitter",
            "id": f"q{number}",
            "author": f"late{number % 9}",
            "text": "lovely weather for a walk to the shops today",
            "created_at": stamp(362 + number * 4),
            "lang": "en",
        }
        for number in range(40)
    ]
    with path.open("a", encoding="utf-8") as handle:
        for item in chatter:
            handle.write(json.dumps(item) + "\n")
    posts: set[tuple[str, str]] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["type"] == "post":
            posts.add((item["source"], item["id"]))
    return posts


def service_env(database: Path, folder: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{database.as_posix()}",
        "SIGNAL_TRIAGE_DATA_DIR": str(database.parent),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    if folder is not None:
        env["SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER"] = str(folder)
        env["SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_SETTLE_SECONDS"] = "0"
    env.update(extra)
    return env


def escalation_env(receiver_url: str, lease_seconds: float = 2.0) -> str:
    return json.dumps(
        {
            "targets": [{"name": "hook", "kind": "webhook", "url": receiver_url, "secret": WEBHOOK_SECRET}],
            "lease_seconds": lease_seconds,
            "backoff_initial_seconds": 0.2,
            "backoff_max_seconds": 1.0,
        }
    )


def triage_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "triage", *args]


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, *, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        triage_command(*args),
        cwd=cwd,  # never the repository's .env
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS * 2,
        preexec_fn=preexec,
    )


# -- the receiver --------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    action: str
    dedup_key: str
    cluster_key: str


@dataclass
class Receiver:
    """A loopback webhook endpoint that checks each signature and keeps what arrived, in order."""

    url: str = ""
    secret: str = WEBHOOK_SECRET
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def deduplicated(self) -> dict[str, Received]:
        """Each logical message once, as a receiver that dedups by ``webhook-id`` sees them."""
        with self.lock:
            return {item.message_id: item for item in self.received}

    def duplicates(self) -> Counter[str]:
        with self.lock:
            counts = Counter(item.message_id for item in self.received)
        return Counter({key: count for key, count in counts.items() if count > 1})

    def last_action_by_alert(self) -> dict[str, str]:
        """The alert state a target is left in: the action of the last new message per dedup key."""
        state: dict[str, str] = {}
        seen: set[str] = set()
        with self.lock:
            for item in self.received:
                if item.message_id in seen:
                    continue  # a redelivery changes nothing at a deduplicating receiver
                seen.add(item.message_id)
                state[item.dedup_key] = item.action
        return state


@contextmanager
def running_receiver(delay_seconds: float = 0.0) -> Iterator[Receiver]:
    state = Receiver(delay_seconds=delay_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            if not verify_signature(state.secret, headers, body, datetime.now(UTC)):
                with state.lock:
                    state.bad_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            payload = json.loads(body)
            with state.lock:
                state.raw.append((headers, body))
                state.received.append(
                    Received(
                        headers[ID_HEADER],
                        headers[EVENT_HEADER.lower()],
                        payload["dedup_key"],
                        payload["cluster_key"],
                    )
                )
            if state.delay_seconds:
                time.sleep(state.delay_seconds)  # a slow receiver widens the window a kill can land in
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:  # the sender was killed while we answered
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/signal"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- what the service ended up believing ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The service's final state, in the terms of the replay report: posts, clusters with their
    members, signals, and the outbox (every message the decisions produced)."""

    posts: list[tuple[str, str]]
    clusters: dict[str, dict[str, Any]]
    signals: dict[str, dict[str, Any]]
    outbox: dict[str, dict[str, Any]]

    def decisions(self) -> tuple[Any, ...]:
        """Everything but delivery bookkeeping (statuses, attempts): what must not depend on crashes."""
        messages = {
            message_id: {key: row[key] for key in ("action", "delivery_key", "sequence")}
            for message_id, row in self.outbox.items()
        }
        return (sorted(set(self.posts)), self.clusters, self.signals, messages)


def read_outcome(database: Path) -> Outcome:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        connection.row_factory = sqlite3.Row
        posts = [(row["source"], row["external_id"]) for row in connection.execute("SELECT * FROM posts")]
        members: dict[int, list[str]] = {}
        for row in connection.execute(
            "SELECT m.cluster_id, p.source, p.external_id"
            " FROM cluster_members m JOIN posts p ON p.id = m.post_id"
        ):
            members.setdefault(row["cluster_id"], []).append(f"{row['source']}:{row['external_id']}")
        clusters = {
            row["key"]: {
                "state": row["state"],
                "service": row["service"],
                "label": row["label"],
                "merged_into": row["merged_into"],
                "distinct_authors": row["distinct_authors"],
                "posts": sorted(members.get(row["id"], [])),
            }
            for row in connection.execute("SELECT * FROM clusters")
        }
        signals = {
            row["dedup_key"]: {
                "cluster_key": row["cluster_key"],
                "state": row["state"],
                "severity": row["severity"],
                "service": row["service"],
                "first_triggered_at": row["first_triggered_at"],
                "resolved_at": row["resolved_at"],
                "top_change": row["top_change"],
            }
            for row in connection.execute("SELECT * FROM escalations")
        }
        outbox = {
            row["message_id"]: {
                "action": row["action"],
                "delivery_key": row["delivery_key"],
                "sequence": row["sequence"],
                "status": row["status"],
            }
            for row in connection.execute("SELECT * FROM outbox_messages")
        }
    return Outcome(posts, clusters, signals, outbox)


def stored_posts(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
