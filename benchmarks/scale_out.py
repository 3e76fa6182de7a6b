"""Scale-out benchmark: posts per second end to end, embedded runner vs 1 and 2 Celery workers.

Replays a prefix of ``../shared/scenarios/throughput_large.jsonl`` (198k posts
over 7 days; ``--limit`` lines, default 20,000, about ten minutes on two idle
cores) in ``--steps`` growing slices, the way load arrives: each step stores
the next slice, analyses what is new and runs a tick over everything stored.
Three runners do exactly the same steps on the same lines in one run:

- embedded: ``replay_file`` in this process on SQLite (``triage replay``);
- 1 worker / 2 workers: ``replay_on_workers`` through ``triage worker``
  processes (solo pool, all queues) on PostgreSQL and Redis.

Printed: posts/s end to end and its ratio to the embedded runner; per step the
analysis lag (dispatch until the newest post is analysed), the deepest the
analysis queue got, and the tick's duration as the stored posts grow. Workers
split the machine's cores between them (``OMP_NUM_THREADS``), so on a 2-core
machine two workers compete for the same CPU the single one had.

    python -m benchmarks.scale_out                  # needs PostgreSQL on 127.0.0.1:5432 and Redis
    python -m benchmarks.scale_out --limit 6000 --steps 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._shared import REPO, require_shared  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "SIGNAL_TRIAGE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: a Redis DB number of the benchmark's own; it is flushed before and after
REDIS_URL = os.environ.get("SIGNAL_TRIAGE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
TENANT = "bench"


@dataclass
class Step:
    posts: int
    seconds: float
    analysis_lag: float
    tick_seconds: float
    max_queue: int = 0


@dataclass
class RunnerRun:
    name: str
    steps: list[Step] = field(default_factory=list)
    report: dict[str, Any] | None = None

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def rate(self) -> float:
        return self.steps[-1].posts / self.seconds


def cut_prefixes(scenario: Path, limit: int, steps: int, folder: Path) -> list[Path]:
    """Files holding the first limit*k/steps lines, k = 1..steps (read from ../shared at run time)."""
    with scenario.open(encoding="utf-8") as handle:
        lines = [line for _, line in zip(range(limit), handle, strict=False)]
    paths = []
    for k in range(1, steps + 1):
        path = folder / f"prefix-{k}.jsonl"
        path.write_text("".join(lines[: len(lines) * k // steps]), encoding="utf-8")
        paths.append(path)
    return paths


def fresh_postgres() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"scale_out_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def run_embedded(prefixes: list[Path], work: Path, analyzer: Any) -> RunnerRun:
    from triage.replay.flow import replay_file
    from triage.settings import Settings

    settings = Settings(data_dir=work, database_url=f"sqlite:///{work / 'embedded.db'}")
    run = RunnerRun("embedded")
    for prefix in prefixes:
        started = time.perf_counter()
        result = replay_file(prefix, settings, analyzer, tenant=TENANT)
        run.steps.append(
            Step(
                result.report["stats"]["posts"],
                time.perf_counter() - started,
                result.stage_seconds["analyse"],
                result.stage_seconds["triage"] + result.stage_seconds["persist"],
            )
        )
        run.report = result.report
    return run


class QueueWatch:
    """Samples the analysis queue's length in Redis while a step runs."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._stop = threading.Event()
        self.deepest = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> QueueWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.deepest = max(self.deepest, int(self._client.llen("analysis")))


def start_workers(count: int, environment: dict[str, str], folder: Path) -> list[subprocess.Popen[bytes]]:
    threads = str(max(1, (os.cpu_count() or 1) // count))
    processes = []
    for number in range(count):
        log = folder / f"worker-{count}-{number}.log"
        with log.open("wb") as handle:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "triage",
                        "worker",
                        "--pool",
                        "solo",
                        "--name",
                        f"w{number}@bench",
                    ],
                    cwd=REPO,
                    env=environment | {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
    for number, process in enumerate(processes):
        log = folder / f"worker-{count}-{number}.log"
        deadline = time.monotonic() + 300
        while f"w{number}@bench ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"worker {number} did not start; see {log}")
            time.sleep(0.2)
    return processes


def run_workers(count: int, prefixes: list[Path], work: Path, model_version: str, batch: int) -> RunnerRun:
    import redis

    from triage.runners.celery_app import create_celery_app
    from triage.runners.replay import replay_on_workers
    from triage.settings import Settings

    work.mkdir(parents=True, exist_ok=True)
    database_url = fresh_postgres()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SIGNAL_TRIAGE_")}
    environment |= {
        "SIGNAL_TRIAGE_DATABASE_URL": database_url,
        "SIGNAL_TRIAGE_BROKER_URL": REDIS_URL,
        "SIGNAL_TRIAGE_DATA_DIR": str(work),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    settings = Settings(database_url=database_url, broker_url=REDIS_URL, data_dir=work)
    app = create_celery_app(settings)
    processes = start_workers(count, environment, work)
    run = RunnerRun(f"{count} worker{'s' if count > 1 else ''}")
    try:
        for prefix in prefixes:
            started = time.perf_counter()
            with QueueWatch(client) as watch:
                result = replay_on_workers(
                    prefix, settings, app, model_version, tenant=TENANT, analysis_batch=batch
                )
            run.steps.append(
                Step(
                    result.report["stats"]["posts"],
                    time.perf_counter() - started,
                    result.stage_seconds["analyse"],
                    result.tick_seconds,
                    watch.deepest,
                )
            )
            run.report = result.report
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        client.flushdb()
        drop_postgres(database_url)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=20_000, help="replay only the first N lines")
    parser.add_argument("--steps", type=int, default=4, help="slices the load grows in")
    parser.add_argument("--batch", type=int, default=256, help="posts per analysis batch (workers)")
    args = parser.parse_args()
    scenario = args.scenario or require_shared() / "scenarios" / "throughput_large.jsonl"
    work = Path(tempfile.mkdtemp(prefix="scale-out-bench-"))
    prefixes = cut_prefixes(scenario, args.limit, args.steps, work)

    from classifier.analysis import load_analyzer

    analyzer = load_analyzer()
    analyzer.analyze(["warm up the encoder"] * 64)
    runs = [run_embedded(prefixes, work, analyzer)]
    for count in (1, 2):
        runs.append(run_workers(count, prefixes, work / f"w{count}", analyzer.model_version, args.batch))

    baseline = runs[0]
    posts = baseline.steps[-1].posts
    print(f"scenario      {scenario.name}, first {args.limit} lines ({posts} posts), {args.steps} steps")
    print(f"machine       {os.cpu_count()} CPU cores; analysis batches of {args.batch} posts on the workers")
    for run in runs:
        same = "same report" if _comparable(run.report) == _comparable(baseline.report) else "REPORT DIFFERS"
        print(
            f"{run.name:<12}  {run.rate:7.1f} posts/s  {run.rate / baseline.rate:5.2f}x embedded  "
            f"({run.seconds:.1f} s; {same})"
        )
    print("as the load grows (posts stored; analysis lag s; deepest analysis queue, batches; tick s):")
    for run in runs:
        cells = "  ".join(
            f"{step.posts:>6} {step.analysis_lag:6.1f} {step.max_queue:>3} {step.tick_seconds:5.2f}"
            for step in run.steps
        )
        print(f"  {run.name:<12} {cells}")


def _comparable(report: dict[str, Any] | None) -> Any:
    if report is None:
        return None
    return report | {"stats": report["stats"] | {"seconds": 0}}


if __name__ == "__main__":
    main()
