"""Board benchmark on PostgreSQL: requests/s and p95 of the board's JSON (``GET /v1/clusters``)
and HTML (``GET /``) routes with many clusters and posts, against a bare FastAPI route.

Creates its own database next to the one in ``--url`` (``signal_triage_bench_api_<pid>``), fills it
server-side with ``generate_series`` (posts spread over ``--days`` days, nine in ten of them members
of ``--clusters`` clusters, an escalation with a likely cause for every third cluster), and drops it
at the end. Analyses are not written: the board reads none, and 1,000,000 embeddings would be 1.5 GB.

Requests go through FastAPI's test client in this process, one at a time, in interleaved rounds so
background load hits every route alike. The baseline is a bare ``FastAPI()`` app whose one route
returns a constant, called the same way: the ratio says what the board's queries and rendering cost
on top of the framework and the client. Shared machines are noisy; compare ratios, not absolutes.

    python benchmarks/api.py                                   # 10,000 clusters, 1,000,000 posts
    python benchmarks/api.py --clusters 2000 --posts 200000 --requests 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.app import create_app  # noqa: E402
from triage.settings import Settings  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TENANT = "bench"
START = datetime(2026, 6, 1, tzinfo=UTC)
SERVICES = ("login", "payments", "search", "delivery", "notifications")
STATES = ("emerging", "active", "subsiding", "resolved")
CHANGES = 200
ROUTES = {"bare FastAPI route": "/bare", "board JSON /v1/clusters": "/v1/clusters", "board HTML /": "/"}


def fill(engine: Engine, clusters: int, posts: int, days: int) -> None:
    """Rows written by the database itself; ids are dense because the database is new."""
    spread = days * 86_400
    services = "ARRAY[" + ",".join(f"'{name}'" for name in SERVICES) + "]"
    states = "ARRAY[" + ",".join(f"'{name}'" for name in STATES) + "]"
    statements = [
        f"""INSERT INTO posts (tenant, source, external_id, author_key, text, lang, url, created_at, meta)
            SELECT '{TENANT}', 'twitter', 'p' || g, 'a' || ((g * 7919) % 50000),
                   'synthetic complaint number ' || g || ' about the app', 'en', NULL,
                   TIMESTAMPTZ '{START.isoformat()}' + ((g * 48271) % {spread}) * INTERVAL '1 second',
                   '{{}}'::json
            FROM generate_series(1::bigint, {posts}) AS g""",
        f"""INSERT INTO clusters (tenant, key, label, service, state, onset_at, last_post_at,
                                  distinct_authors, post_count, details)
            SELECT '{TENANT}', 'k' || c, 'synthetic problem ' || c, ({services})[c % {len(SERVICES)} + 1],
                   ({states})[c % {len(STATES)} + 1], TIMESTAMPTZ '{START.isoformat()}',
                   TIMESTAMPTZ '{START.isoformat()}', 0, 0, '{{}}'::json
            FROM generate_series(0, {clusters - 1}) AS c""",
        f"""INSERT INTO cluster_members (cluster_id, post_id, joined_at)
            SELECT first.id + (p.id % {clusters}), p.id, p.created_at
            FROM posts AS p, (SELECT min(id) AS id FROM clusters) AS first
            WHERE p.id % 10 <> 0""",
        """UPDATE clusters SET onset_at = agg.onset, last_post_at = agg.last, post_count = agg.n,
                               distinct_authors = agg.people, representative_post_id = agg.first_post
            FROM (SELECT m.cluster_id, min(p.created_at) AS onset, max(p.created_at) AS last,
                         count(*) AS n, count(DISTINCT p.author_key) AS people, min(p.id) AS first_post
                  FROM cluster_members AS m JOIN posts AS p ON p.id = m.post_id
                  GROUP BY m.cluster_id) AS agg
            WHERE clusters.id = agg.cluster_id""",
        f"""INSERT INTO change_events (tenant, source, external_id, service, kind, summary, started_at)
            SELECT '{TENANT}', 'bench', 'c' || g, ({services})[g % {len(SERVICES)} + 1], 'deploy',
                   'deploy number ' || g, TIMESTAMPTZ '{START.isoformat()}' + g * INTERVAL '50 minutes'
            FROM generate_series(0, {CHANGES - 1}) AS g""",
        f"""INSERT INTO escalations (tenant, dedup_key, cluster_key, state, severity, service,
                                     first_triggered_at, updated_at, top_change, ranked_changes, details)
            SELECT tenant, tenant || ':' || key, key, 'triggered', 'error', service,
                   onset_at, last_post_at, 'c' || (id % {CHANGES}),
                   json_build_array(json_build_object('change', 'c' || (id % {CHANGES}), 'score', 0.8,
                                                      'reasons', json_build_array('deployed before onset'))),
                   '{{"history": []}}'::json
            FROM clusters WHERE id % 3 = 0""",
        "ANALYZE",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app


def status_of(client: TestClient, path: str) -> int:
    return client.get(path).status_code


def measure(call: Callable[[], int], count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        status = call()
        seconds.append(time.perf_counter() - began)
        if status != 200:
            raise SystemExit(f"a request answered {status}; the benchmark measures only successes")
    return seconds


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="A PostgreSQL database to create ours beside.")
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7, help="Posts are spread over this many days.")
    parser.add_argument("--requests", type=int, default=10, help="Board requests per route per round.")
    parser.add_argument("--bare-requests", type=int, default=300, help="Bare-route requests per round.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    admin_url = make_url(args.url)
    name = f"signal_triage_bench_api_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    bench_url = admin_url.set(database=name).render_as_string(hide_password=False)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        app = create_app(Settings(data_dir=data_dir, database_url=bench_url))
        began = time.perf_counter()
        fill(app.state.engine, args.clusters, args.posts, args.days)
        with app.state.engine.connect() as connection:
            members = connection.scalar(text("SELECT count(*) FROM cluster_members"))
            in_window = connection.scalar(
                text(
                    "SELECT count(*) FROM posts WHERE created_at >= "
                    "(SELECT max(created_at) FROM posts) - INTERVAL '24 hours'"
                )
            )
        print(
            f"PostgreSQL, {args.clusters:,} clusters, {args.posts:,} posts over {args.days} days "
            f"({members:,} cluster members, {in_window:,} posts in the board's default 24 h window), "
            f"filled in {time.perf_counter() - began:.0f} s"
        )
        print(
            f"{args.rounds} interleaved rounds of {args.requests} board requests per route and "
            f"{args.bare_requests} bare requests, one at a time, FastAPI test client in process"
        )
        latencies: dict[str, list[float]] = {label: [] for label in ROUTES}
        with TestClient(app) as board_client, TestClient(bare_app()) as bare_client:
            for path in ROUTES.values():  # warm-up: first calls pay imports, template compilation, caches
                (bare_client if path == "/bare" else board_client).get(path)
            for _ in range(args.rounds):
                for label, path in ROUTES.items():
                    client = bare_client if path == "/bare" else board_client
                    count = args.bare_requests if path == "/bare" else args.requests
                    latencies[label] += measure(partial(status_of, client, path), count)
        app.state.engine.dispose()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    baseline = statistics.fmean(latencies["bare FastAPI route"])
    print(f"{'route':<26}{'requests':>9}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'ratio':>10}")
    for label, seconds in latencies.items():
        mean = statistics.fmean(seconds)
        print(
            f"{label:<26}{len(seconds):>9}{1 / mean:>10.1f}{1000 * statistics.median(seconds):>10.1f}"
            f"{1000 * p95(seconds):>10.1f}{mean / baseline:>9.0f}x"
        )
    print("ratio: mean latency over the bare route's (how many bare requests one board request costs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
