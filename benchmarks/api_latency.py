"""API latency benchmark: requests/s of the board's data and page against ``GET /v1/health``.

Builds a synthetic tenant (clusters in every state with members, analyses, escalations and changes)
in a fresh SQLite database, then calls each endpoint in the same process through FastAPI's test
client, in interleaved rounds so background load hits every endpoint alike. ``/v1/health`` does one
``SELECT 1``: the ratio says what the board's queries and rendering cost on top of the framework.
Machines here are shared and noisy, so compare ratios, not absolute figures.

    python benchmarks/api_latency.py
    python benchmarks/api_latency.py --clusters 200 --posts-per-cluster 60 --seconds 3
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from api.app import create_app  # noqa: E402
from triage.settings import Settings  # noqa: E402
from triage.storage.database import transaction  # noqa: E402
from triage.storage.models import (  # noqa: E402
    AnalysisRow,
    ChangeEventRow,
    ClusterMemberRow,
    ClusterRow,
    EscalationRow,
    PostRow,
)

TENANT = "bench"
START = datetime(2026, 6, 1, tzinfo=UTC)
STATES = ("emerging", "active", "subsiding", "resolved")
SERVICES = ("login", "payments", "search", "delivery", "notifications")
ENDPOINTS = ("/v1/health", "/v1/clusters", "/")


def fill(session: Session, clusters: int, posts_per_cluster: int, seed: int = 7) -> int:
    """A day of synthetic activity; returns the number of posts written."""
    rng = random.Random(seed)
    embedding = bytes(384 * 4)
    posts: list[dict[str, object]] = []
    for number in range(clusters * posts_per_cluster * 2):
        posts.append(
            {
                "tenant": TENANT,
                "source": "twitter",
                "external_id": f"p{number}",
                "author_key": f"a{rng.randrange(5000)}",
                "text": f"synthetic complaint number {number} about {rng.choice(SERVICES)}",
                "lang": "en",
                "url": None,
                "created_at": START + timedelta(seconds=rng.randrange(86_400)),
                "meta": {},
            }
        )
    session.execute(PostRow.__table__.insert(), posts)
    post_ids = list(session.scalars(PostRow.__table__.select().with_only_columns(PostRow.id)))
    session.execute(
        AnalysisRow.__table__.insert(),
        [
            {
                "post_id": post_id,
                "model_version": "bench",
                "problem_probability": rng.random(),
                "category": None,
                "sentiment": rng.choice(("negative", "neutral", "positive")),
                "sentiment_scores": {},
                "language": "en",
                "embedding": embedding,
            }
            for post_id in post_ids
        ],
    )
    session.execute(
        ChangeEventRow.__table__.insert(),
        [
            {
                "tenant": TENANT,
                "source": "bench",
                "external_id": f"c{number}",
                "service": rng.choice(SERVICES),
                "kind": "deploy",
                "summary": f"deploy number {number}",
                "started_at": START + timedelta(minutes=20 * number),
                "ended_at": None,
                "url": None,
            }
            for number in range(72)
        ],
    )
    rng.shuffle(post_ids)
    for number in range(clusters):
        members = sorted(post_ids[number * posts_per_cluster : (number + 1) * posts_per_cluster])
        row = ClusterRow(
            tenant=TENANT,
            key=f"k{number}",
            label=f"synthetic problem {number}",
            representative_post_id=members[0],
            service=SERVICES[number % len(SERVICES)],
            state=STATES[number % len(STATES)],
            onset_at=START,
            last_post_at=START + timedelta(hours=23),
            distinct_authors=posts_per_cluster - 3,
            post_count=posts_per_cluster,
            details={},
        )
        session.add(row)
        session.flush()
        session.execute(
            ClusterMemberRow.__table__.insert(),
            [{"cluster_id": row.id, "post_id": post_id, "joined_at": START} for post_id in members],
        )
        if number % 3 == 0:
            session.add(
                EscalationRow(
                    tenant=TENANT,
                    dedup_key=f"{TENANT}:k{number}",
                    cluster_key=f"k{number}",
                    state="triggered",
                    severity="error",
                    service=row.service,
                    first_triggered_at=START + timedelta(hours=1),
                    updated_at=START + timedelta(hours=2),
                    top_change=f"c{number % 72}",
                    ranked_changes=[{"change": f"c{number % 72}", "score": 0.8, "reasons": ["before onset"]}],
                    details={"history": []},
                )
            )
    return len(post_ids)


def rate(client: TestClient, path: str, seconds: float) -> float:
    """Requests per second for ``path`` over about ``seconds``."""
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        response = client.get(path, params={"tenant": TENANT})
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.text[:200]}")
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--posts-per-cluster", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=2.0, help="per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=f"sqlite:///{folder}/bench.db")
        app = create_app(settings)
        with transaction(app.state.sessions) as session:
            posts = fill(session, options.clusters, options.posts_per_cluster)
        totals = dict.fromkeys(ENDPOINTS, 0.0)
        with TestClient(app) as client:
            for path in ENDPOINTS:
                rate(client, path, 0.3)  # warm caches and the template compiler
            for _ in range(options.rounds):
                for path in ENDPOINTS:
                    totals[path] += rate(client, path, options.seconds)
        app.state.engine.dispose()

    health = totals["/v1/health"] / options.rounds
    print(f"tenant: {options.clusters} clusters, {posts} posts (SQLite, in-process test client)")
    print(f"{'endpoint':<16}{'req/s':>10}{'vs health':>12}")
    for path in ENDPOINTS:
        per_second = totals[path] / options.rounds
        print(f"{path:<16}{per_second:>10.1f}{per_second / health:>12.3f}")


if __name__ == "__main__":
    main()
