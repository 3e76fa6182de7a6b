"""Intake benchmark: posts/s through ``POST /v1/posts`` against ``store_posts`` directly.

Both paths store the same synthetic posts (written here, no dataset rows) in
batches of the same size into fresh SQLite databases, in this one process.
The HTTP path adds JSON encoding, request parsing and per-item validation,
the duplicate count and the transport (FastAPI's TestClient by default, or a
real uvicorn on 127.0.0.1 with ``--uvicorn``); the ratio says what that costs.
Machines here are shared and noisy, so only the ratio is comparable between runs.

    python benchmarks/intake_throughput.py
    python benchmarks/intake_throughput.py --posts 50000 --batch 1000 --uvicorn
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_PHRASES = [
    "checkout keeps spinning after I press pay",
    "card declined again at the till, balance is fine",
    "app logs me out every few minutes",
    "love the new savings pots",
    "where do I find my statement?",
]


def synthetic_posts(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        {
            "source": "bench",
            "id": f"p{number}",
            "author": f"u{number % 997}",
            "text": f"{_PHRASES[number % len(_PHRASES)]} #{number}",
            "created_at": (start + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lang": "en",
            "meta": {"channel": "bench"},
        }
        for number in range(count)
    ]


def batches(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def time_direct(work: Path, posts: list[dict[str, Any]], batch: int) -> float:
    from ingest.sources.http_intake import parse_intake
    from triage.storage.database import create_db_engine, migrate, session_factory, transaction
    from triage.storage.intake import store_posts

    engine = create_db_engine(f"sqlite:///{(work / 'direct.db').as_posix()}")
    migrate(engine)
    sessions = session_factory(engine)
    parsed = [parse_intake(chunk, max_posts=len(chunk))[0] for chunk in batches(posts, batch)]
    started = time.perf_counter()
    for chunk in parsed:
        with transaction(sessions) as session:
            store_posts(session, "bench", chunk)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def _app(work: Path, batch: int):  # type: ignore[no-untyped-def]
    from api.app import create_app
    from triage.settings import Settings
    from triage.sources_settings import SourcesSettings

    class BenchSettings(Settings):
        sources: SourcesSettings = SourcesSettings()

    settings = BenchSettings(
        data_dir=work,
        database_url=f"sqlite:///{(work / 'http.db').as_posix()}",
        sources=SourcesSettings(
            intake_max_posts=max(batch, 1), tenant="bench", intake_max_body_bytes=64 * 1024 * 1024
        ),
    )
    return create_app(settings)


def time_http(work: Path, posts: list[dict[str, Any]], batch: int, use_uvicorn: bool) -> float:
    app = _app(work, batch)
    chunks = batches(posts, batch)
    if not use_uvicorn:
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            client.post("/v1/posts", json=[{**posts[0], "source": "warmup"}])
            started = time.perf_counter()
            for chunk in chunks:
                client.post("/v1/posts", json={"posts": chunk}).raise_for_status()
            return time.perf_counter() - started

    import httpx
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            client.post("/v1/posts", json=[{**posts[0], "source": "warmup"}])
            started = time.perf_counter()
            for chunk in chunks:
                client.post("/v1/posts", json={"posts": chunk}).raise_for_status()
            return time.perf_counter() - started
    finally:
        server.should_exit = True
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument(
        "--batch", type=int, default=500, help="posts per request (and per direct transaction)"
    )
    parser.add_argument("--uvicorn", action="store_true", help="real HTTP on 127.0.0.1 instead of TestClient")
    args = parser.parse_args()
    posts = synthetic_posts(args.posts)
    work = Path(tempfile.mkdtemp(prefix="intake-bench-"))

    direct_seconds = time_direct(work, posts, args.batch)
    http_seconds = time_http(work, posts, args.batch, args.uvicorn)

    direct_rate, http_rate = args.posts / direct_seconds, args.posts / http_seconds
    transport = "uvicorn 127.0.0.1" if args.uvicorn else "TestClient"
    print(f"posts               {args.posts} in batches of {args.batch}")
    print(f"POST /v1/posts      {http_rate:10.1f} posts/s  ({http_seconds:.2f} s, {transport})")
    print(f"store_posts direct  {direct_rate:10.1f} posts/s  ({direct_seconds:.2f} s)")
    print(f"ratio               {http_rate / direct_rate:10.2f}x  (HTTP intake / direct storage)")


if __name__ == "__main__":
    main()
