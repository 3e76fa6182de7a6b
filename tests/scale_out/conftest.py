"""Fixtures of the scale-out tests: the machine's Redis (one DB number, flushed), PostgreSQL databases,
and real ``triage worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: a DB number of its own, so flushing it touches nothing else on the machine's Redis
REDIS_URL = os.environ.get("SIGNAL_TRIAGE_TEST_REDIS", "redis://127.0.0.1:6379/15")
#: how long a worker may take to import torch and connect on a loaded 2-core machine
WORKER_START_SECONDS = 180.0


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, empty before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {error}")
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@dataclass
class WorkerProcess:
    """A ``triage worker`` subprocess and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float, after: int = 0) -> int:
        """Block until ``needle`` appears in the log past offset ``after``; returns where it ends.

        Polls the worker's log file: this waits on another process's progress, it does not time anything.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.text()
            found = content.find(needle, after)
            if found >= 0:
                return found + len(needle)
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker {self.name} exited ({self.process.returncode}):\n{content[-3000:]}"
                )
            time.sleep(0.02)
        raise AssertionError(
            f"worker {self.name} did not log {needle!r} in {timeout:.0f}s:\n{self.text()[-3000:]}"
        )

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, no message handed back."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@dataclass
class Workers:
    """Starts ``triage worker`` processes for one test and stops them afterwards."""

    environment: dict[str, str]
    folder: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, name: str, *extra: str, pool: str = "solo") -> WorkerProcess:
        log = self.folder / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "triage", "worker", "--pool", pool, "--name", f"{name}@test", *extra],
            cwd=REPO,
            env=self.environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        worker = WorkerProcess(name, process, log)
        self.started.append(worker)
        worker.wait_for(f"{name}@test ready.", WORKER_START_SECONDS)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture
def worker_environment(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """Settings of the workers (and of the runner in the test): PostgreSQL and Redis. A test that kills
    a worker sets SIGNAL_TRIAGE_BROKER_VISIBILITY_TIMEOUT_SECONDS low before starting workers."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SIGNAL_TRIAGE_")}
    environment.update(
        SIGNAL_TRIAGE_DATABASE_URL=postgres_url,
        SIGNAL_TRIAGE_BROKER_URL=redis_url,
        SIGNAL_TRIAGE_DATA_DIR=str(tmp_path / "var"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    return environment


@pytest.fixture
def workers(worker_environment: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(worker_environment, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


@dataclass
class Beat:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def beats(worker_environment: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Beat]]:
    """Starts ``triage beat`` processes on short intervals (2 s; ticks 3 s; analysis batches of 32), one
    schedule file for all of them, with the workers' environment as it is when each starts."""
    started: list[Beat] = []

    def start(name: str) -> Beat:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "triage",
                    "beat",
                    "--pull-interval=2",
                    "--analysis-interval=2",
                    "--triage-interval=3",
                    "--delivery-interval=2",
                    "--analysis-batch=32",
                    f"--schedule-file={tmp_path / 'beat-schedule'}",
                ],
                cwd=tmp_path,
                env=worker_environment,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        beat = Beat(process, log)
        started.append(beat)
        return beat

    try:
        yield start
    finally:
        for beat in started:
            if beat.process.poll() is None:
                beat.process.kill()
                beat.process.wait(timeout=30)


@pytest.fixture
def scale_out_settings(worker_environment: dict[str, str]) -> Callable[[], object]:
    """``Settings`` as the workers see them (built from their environment, nothing else)."""
    from triage.settings import Settings

    def build() -> Settings:
        return Settings(
            database_url=worker_environment["SIGNAL_TRIAGE_DATABASE_URL"],
            broker_url=worker_environment["SIGNAL_TRIAGE_BROKER_URL"],
            broker_visibility_timeout_seconds=int(
                worker_environment.get("SIGNAL_TRIAGE_BROKER_VISIBILITY_TIMEOUT_SECONDS", "3600")
            ),
            data_dir=Path(worker_environment["SIGNAL_TRIAGE_DATA_DIR"]),
        )

    return build
