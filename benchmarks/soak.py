"""Soak: the embedded service under steady intake load on loopback, with escalations flowing.

Two real processes, as an operator runs them: ``triage serve`` (the API, taking ``POST /v1/posts`` with
an ingest key and serving the board) and ``triage run`` (analysis, triage passes and outbox delivery,
with no pulled sources), on one SQLite database. This process pushes a scenario's posts, read at run
time from ``../shared/scenarios`` (default ``fintech_day``; its posts are re-sent with fresh ids and
shifted times when it runs out), at a steady rate with short bursts, reads the board's API as a
support lead would, and receives the escalations on a loopback webhook that checks each signature and
deduplicates by ``webhook-id``.

Every ``--sample-seconds`` (default a minute) it prints: posts accepted, intake p95 latency, board p95
latency, the analysis backlog (stored posts the model has not seen yet), outbox messages open and
delivered, and the resident memory of both processes. At the end it prints the slope of each process's
memory over the second half of the run (MiB per minute), which should be near zero when memory is
bounded, and writes everything as JSON with ``--json-out``.

With ``--runner celery`` the same load runs on the scale-out runner instead: the API, ``triage beat``
and ``--workers`` (default 2) ``triage worker`` processes on the machine's PostgreSQL (a fresh database,
dropped afterwards) and Redis (``--redis-url``, a DB number of its own, flushed); "run MiB" is then
beat plus every worker.

    .venv/bin/python -m benchmarks.soak                     # 10 minutes, 50 posts/s, bursts of 500/s
    .venv/bin/python -m benchmarks.soak --minutes 2 --sample-seconds 20
    .venv/bin/python -m benchmarks.soak --runner celery --workers 2
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks._shared import REPO, shared_dir

INGEST_KEY = "soak-ingest-key"
VIEWER_KEY = "soak-viewer-key"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"soak-benchmark-webhook-secret!!!").decode()


# -- the receiver ------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str = ""
    requests: int = 0
    unique: set[str] = field(default_factory=set)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    from triage.escalation.webhook import ID_HEADER, verify_signature

    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            good = verify_signature(WEBHOOK_SECRET, headers, body, datetime.now(UTC))
            with state.lock:
                state.requests += 1
                if good:
                    state.unique.add(headers[ID_HEADER])
                else:
                    state.bad_signatures += 1
            self.send_response(200 if good else 401)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/signal"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


# -- the load ----------------------------------------------------------------------------------------


def scenario_posts(path: Path) -> list[dict[str, Any]]:
    posts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("type") == "post":
                posts.append(item)
    if not posts:
        sys.exit(f"{path} has no posts")
    return posts


def endless(posts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The scenario's posts in order, then again with new ids, each round a day later."""
    first = datetime.fromisoformat(posts[0]["created_at"].replace("Z", "+00:00"))
    last = datetime.fromisoformat(posts[-1]["created_at"].replace("Z", "+00:00"))
    span = max(timedelta(days=1), last - first + timedelta(hours=1))
    round_number = 0
    while True:
        shift = span * round_number
        for item in posts:
            moment = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")) + shift
            yield {key: value for key, value in item.items() if key not in ("type", "id", "created_at")} | {
                "id": f"{item['id']}~{round_number}",
                "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        round_number += 1


@dataclass
class Window:
    """What happened since the last sample."""

    accepted: int = 0
    refused: int = 0
    errors: int = 0
    intake_ms: list[float] = field(default_factory=list)
    board_ms: list[float] = field(default_factory=list)


class Load:
    def __init__(self, base_url: str, posts: Iterator[dict[str, Any]], args: argparse.Namespace) -> None:
        self.base_url = base_url
        self.posts = posts
        self.args = args
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.window = Window()
        self.total_accepted = 0
        self.started = time.monotonic()

    def take_window(self) -> Window:
        with self.lock:
            window, self.window = self.window, Window()
        return window

    def in_burst(self) -> bool:
        elapsed = time.monotonic() - self.started
        return elapsed > self.args.burst_seconds and elapsed % self.args.burst_every < self.args.burst_seconds

    def intake(self) -> None:
        client = httpx.Client(base_url=self.base_url, timeout=30, headers={"X-API-Key": INGEST_KEY})
        next_at = time.monotonic()
        while not self.stop.is_set():
            rate = self.args.burst_rate if self.in_burst() else self.args.rate
            batch = max(1, round(rate * self.args.request_seconds))
            body = [next(self.posts) for _ in range(batch)]
            started = time.perf_counter()
            try:
                response = client.post("/v1/posts", json=body)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            elapsed_ms = (time.perf_counter() - started) * 1000
            with self.lock:
                self.window.intake_ms.append(elapsed_ms)
                if status == 200:
                    self.window.accepted += batch
                    self.total_accepted += batch
                elif status == 429:
                    self.window.refused += batch
                else:
                    self.window.errors += 1
            next_at += batch / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                next_at = time.monotonic()  # behind: the service sets the pace, we do not queue up
        client.close()

    def board(self) -> None:
        client = httpx.Client(base_url=self.base_url, timeout=30, headers={"X-API-Key": VIEWER_KEY})
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                ok = client.get("/v1/clusters", params={"limit": 50, "tenant": "default"}).status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed_ms = (time.perf_counter() - started) * 1000
            with self.lock:
                if ok:
                    self.window.board_ms.append(elapsed_ms)
                else:
                    self.window.errors += 1
            self.stop.wait(self.args.board_seconds)
        client.close()


# -- measuring -----------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def rss_mib(pid: int) -> float:
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
    except psutil.NoSuchProcess:
        return float("nan")
    return total / 2**20


def database_counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as connection:
        posts = connection.execute(text("SELECT count(*) FROM posts")).scalar_one()
        analysed = connection.execute(text("SELECT count(DISTINCT post_id) FROM analyses")).scalar_one()
        statuses = dict(
            connection.execute(text("SELECT status, count(*) FROM outbox_messages GROUP BY status")).all()
        )
    return {
        "posts": posts,
        "backlog": posts - analysed,
        "outbox_open": sum(count for status, count in statuses.items() if status in ("pending", "sending")),
        "outbox_delivered": statuses.get("delivered", 0),
        "outbox_dead": statuses.get("dead", 0),
    }


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute."""
    points = [(t, v) for t, v in points if not math.isnan(v)]
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


# -- running -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(work: Path, receiver_url: str, database_url: str, broker_url: str | None) -> dict[str, str]:
    return {
        **os.environ,
        "SIGNAL_TRIAGE_DATA_DIR": str(work),
        "SIGNAL_TRIAGE_DATABASE_URL": database_url,
        **({"SIGNAL_TRIAGE_BROKER_URL": broker_url} if broker_url else {}),
        "SIGNAL_TRIAGE_API": json.dumps(
            {
                "keys": [
                    {"name": "soak-bridge", "key": INGEST_KEY, "role": "ingest"},
                    {"name": "soak-lead", "key": VIEWER_KEY, "role": "viewer"},
                ],
                "intake_rate_per_second": 1000,
                "intake_burst": 1000,
            }
        ),
        "SIGNAL_TRIAGE_ESCALATION": json.dumps(
            {"targets": [{"name": "hook", "kind": "webhook", "url": receiver_url, "secret": WEBHOOK_SECRET}]}
        ),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def start(args: list[str], env: dict[str, str], work: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "triage", *args], cwd=work, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def wait_ready(base_url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the API exited with {process.returncode} before it was ready")
        try:
            if (
                httpx.get(f"{base_url}/v1/health", headers={"X-API-Key": VIEWER_KEY}, timeout=2).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"the API was not ready within {seconds:.0f} s")


@dataclass
class Topology:
    """The processes doing the work behind the API, and how to reach their database."""

    database_url: str
    broker_url: str | None
    runners: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cleanup: list[Any] = field(default_factory=list)

    def rss_mib(self) -> float:
        return sum(rss_mib(process.pid) for process in self.runners)

    def exited(self) -> bool:
        return any(process.poll() is not None for process in self.runners)


def fresh_postgres(admin_url: str) -> tuple[str, Any]:
    """A new database on the server behind ``admin_url``, and a function that drops it."""
    import uuid

    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"signal_triage_soak_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def plan_topology(args: argparse.Namespace, work: Path) -> Topology:
    if args.runner == "embedded":
        return Topology(f"sqlite:///{(work / 'soak.db').as_posix()}", None)
    import redis

    database_url, drop = fresh_postgres(args.postgres_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    topology = Topology(database_url, args.redis_url)
    topology.cleanup.append(drop)
    topology.cleanup.append(lambda: redis.Redis.from_url(args.redis_url).flushdb())
    return topology


def start_runners(topology: Topology, args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    """``triage run`` (embedded), or beat and the workers on the same intervals (celery)."""
    if args.runner == "embedded":
        topology.runners.append(
            start(
                [
                    "run",
                    "--analysis-interval",
                    "5",
                    "--triage-interval",
                    "30",
                    "--delivery-interval",
                    "5",
                    "-q",
                ],
                env,
                work,
                work / "run.log",
            )
        )
        return
    for number in range(args.workers):
        topology.runners.append(
            start(
                ["worker", "--name", f"soak{number}@%h", "--loglevel", "warning"],
                env,
                work,
                work / f"w{number}.log",
            )
        )
    topology.runners.append(
        start(
            ["beat", "--analysis-interval", "5", "--triage-interval", "30", "--delivery-interval", "5"],
            env,
            work,
            work / "beat.log",
        )
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="How long to load the service.")
    parser.add_argument("--rate", type=float, default=50.0, help="Steady posts per second.")
    parser.add_argument("--burst-rate", type=float, default=500.0, help="Posts per second during a burst.")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="How long a burst lasts.")
    parser.add_argument("--burst-every", type=float, default=60.0, help="Seconds from one burst to the next.")
    parser.add_argument(
        "--request-seconds", type=float, default=0.2, help="Posts of this long go in one request."
    )
    parser.add_argument("--board-seconds", type=float, default=2.0, help="Pause between board reads.")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="Seconds between samples.")
    parser.add_argument(
        "--drain-seconds", type=float, default=60.0, help="Wait for the backlog after the load."
    )
    parser.add_argument(
        "--scenario", type=Path, default=None, help="Default: ../shared fintech_day, else the demo."
    )
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--runner", choices=("embedded", "celery"), default="embedded")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (with --runner celery).")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "SIGNAL_TRIAGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="A database on the server the Celery run creates its own database on.",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Broker (flushed).")
    args = parser.parse_args()

    scenario = args.scenario or shared_dir() / "scenarios" / "fintech_day.jsonl"
    if not scenario.exists():
        scenario = REPO / "data" / "demo" / "demo_day.jsonl"
    posts = endless(scenario_posts(scenario))
    receiver, receiver_server = start_receiver()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    topology = plan_topology(args, work)
    env = service_env(work, receiver.url, topology.database_url, topology.broker_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    api = start(["serve", "--port", str(port), "--log-level", "warning"], env, work, work / "serve.log")
    print(
        f"soak: {args.minutes:g} min, {args.rate:g} posts/s with {args.burst_seconds:g} s bursts of "
        f"{args.burst_rate:g}/s every {args.burst_every:g} s; scenario {scenario.name}; runner {args.runner}"
        + (f" with {args.workers} workers" if args.runner == "celery" else "")
        + f"; work {work}"
    )
    samples: list[dict[str, Any]] = []
    from sqlalchemy import create_engine

    database = create_engine(topology.database_url)
    try:
        wait_ready(base_url, api)  # the API migrates the database before it answers
        start_runners(topology, args, env, work)
        load = Load(base_url, posts, args)
        threads = [
            threading.Thread(target=load.intake, daemon=True),
            threading.Thread(target=load.board, daemon=True),
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        print(
            f"{'min':>5} {'posts/s':>8} {'429':>5} {'err':>4} {'intake p95 ms':>14} {'board p95 ms':>13} "
            f"{'backlog':>8} {'outbox open':>12} {'delivered':>10} {'api MiB':>8} {'run MiB':>8}"
        )
        end = started + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(max(0.0, min(args.sample_seconds, end - time.monotonic())))
            elapsed = time.monotonic() - started
            window = load.take_window()
            counts = database_counts(database)
            sample = {
                "seconds": round(elapsed, 1),
                "posts_per_second": window.accepted / args.sample_seconds,
                "refused_429": window.refused,
                "errors": window.errors,
                "intake_p95_ms": percentile(window.intake_ms, 0.95),
                "board_p95_ms": percentile(window.board_ms, 0.95),
                **counts,
                "receiver_unique": len(receiver.unique),
                "api_rss_mib": rss_mib(api.pid),
                "run_rss_mib": topology.rss_mib(),
            }
            samples.append(sample)
            rate, intake, board = sample["posts_per_second"], sample["intake_p95_ms"], sample["board_p95_ms"]
            print(
                f"{elapsed / 60:5.1f} {rate:8.1f} {window.refused:5d} {window.errors:4d} "
                f"{fmt(intake):>14} {fmt(board):>13} {counts['backlog']:8d} "
                f"{counts['outbox_open']:12d} {counts['outbox_delivered']:10d} "
                f"{fmt(sample['api_rss_mib']):>8} {fmt(sample['run_rss_mib']):>8}",
                flush=True,
            )
            if topology.exited() or api.poll() is not None:
                print("a service process exited; see the logs in", work)
                break
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < args.drain_seconds:
            counts = database_counts(database)
            if counts["backlog"] == 0 and counts["outbox_open"] == 0:
                break
            time.sleep(2)
        drained_in = time.monotonic() - drain_started
        # stopped first: a worker's warm shutdown finishes the tick or delivery it holds, which the
        # final counts (and the receiver's) must include
        for process in topology.runners:
            stop(process)
        final = database_counts(database)
    finally:
        for process in topology.runners:
            stop(process)
        stop(api)
        receiver_server.shutdown()
        database.dispose()
        for clean in topology.cleanup:
            clean()

    half = (
        [sample for sample in samples if sample["seconds"] >= samples[-1]["seconds"] / 2] if samples else []
    )
    summary = {
        "runner": args.runner,
        "workers": args.workers if args.runner == "celery" else 0,
        "minutes": args.minutes,
        "offered_rate": args.rate,
        "burst_rate": args.burst_rate,
        "accepted_posts": load.total_accepted,
        "mean_posts_per_second": load.total_accepted / max(1.0, samples[-1]["seconds"]) if samples else 0,
        "intake_p95_ms_worst_minute": max((s["intake_p95_ms"] or 0 for s in samples), default=None),
        "board_p95_ms_worst_minute": max((s["board_p95_ms"] or 0 for s in samples), default=None),
        "final": final,
        "drain_seconds": round(drained_in, 1),
        "receiver_unique_messages": len(receiver.unique),
        "receiver_requests": receiver.requests,
        "receiver_bad_signatures": receiver.bad_signatures,
        "api_rss_slope_mib_per_min_second_half": slope_per_minute(
            [(s["seconds"], s["api_rss_mib"]) for s in half]
        ),
        "run_rss_slope_mib_per_min_second_half": slope_per_minute(
            [(s["seconds"], s["run_rss_mib"]) for s in half]
        ),
        "samples": samples,
        "args": {key: str(value) for key, value in vars(args).items()},
    }
    print(
        f"\naccepted {summary['accepted_posts']} posts ({summary['mean_posts_per_second']:.1f}/s); "
        f"worst-minute p95: intake {fmt(summary['intake_p95_ms_worst_minute'])} ms, "
        f"board {fmt(summary['board_p95_ms_worst_minute'])} ms"
    )
    print(
        f"after the load: backlog {final['backlog']}, outbox open {final['outbox_open']}, delivered "
        f"{final['outbox_delivered']}, dead {final['outbox_dead']} (waited {drained_in:.0f} s); receiver saw "
        f"{len(receiver.unique)} unique messages in {receiver.requests} requests, "
        f"{receiver.bad_signatures} bad signatures"
    )
    api_slope = summary["api_rss_slope_mib_per_min_second_half"]
    run_slope = summary["run_rss_slope_mib_per_min_second_half"]
    print(
        f"memory slope over the second half: api {fmt(api_slope, 2)} MiB/min, run {fmt(run_slope, 2)} MiB/min"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        print(f"written to {args.json_out}")


if __name__ == "__main__":
    main()
