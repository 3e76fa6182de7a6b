"""Restarting the machine's Redis and stopping its PostgreSQL for the Celery fault tests.

Each context manager leaves its server running (and answering) when it exits, whatever happened
inside; a test that cannot do it here (no server tools, not root) is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come back within {timeout:.0f}s")


def redis_answers() -> bool:
    result = run(["redis-cli", "-p", "6379", "ping"], timeout=10)
    return result.returncode == 0 and "PONG" in result.stdout


def postgres_answers() -> bool:
    return run(["pg_isready", "-h", "127.0.0.1"], timeout=10).returncode == 0


def pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        pytest.skip("no PostgreSQL cluster under /etc/postgresql to stop and start")
    return versions[-1], "main"


@contextmanager
def redis_restarted_on_exit() -> Iterator[Callable[[], None]]:
    """Yields a function that restarts Redis; Redis is started again (and answering) on exit regardless."""
    for command in ("redis-cli", "redis-server"):
        if shutil.which(command) is None:
            pytest.skip(f"needs {command} on PATH to restart Redis")

    def restart() -> None:
        run(["redis-cli", "-p", "6379", "shutdown", "nosave"])
        wait_until(lambda: not redis_answers(), "Redis going down", timeout=30)
        started = run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""]
        )
        assert started.returncode == 0, f"redis-server did not start: {started.stderr}"
        wait_until(redis_answers, "Redis")

    try:
        yield restart
    finally:
        if not redis_answers():
            run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""])
            wait_until(redis_answers, "Redis")


@contextmanager
def postgres_restarted_on_exit() -> Iterator[Callable[[float], None]]:
    """Yields a function that stops PostgreSQL for a while; it is started (and answering) on exit anyway."""
    for command in ("pg_ctlcluster", "pg_isready"):
        if shutil.which(command) is None:
            pytest.skip(f"needs {command} on PATH to stop and start PostgreSQL")
    if os.geteuid() != 0:
        pytest.skip("stopping the PostgreSQL cluster needs root (pg_ctlcluster)")
    version, cluster = pg_cluster()
    control = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster]

    def start() -> None:
        started = run([*control, "start"], timeout=120)
        assert started.returncode == 0 or postgres_answers(), f"PostgreSQL did not start: {started.stderr}"
        wait_until(postgres_answers, "PostgreSQL", timeout=120)

    def outage(seconds: float) -> None:
        stopped = run([*control, "stop"], timeout=120)
        if stopped.returncode != 0:
            pytest.skip(f"cannot stop PostgreSQL ({' '.join(control)} stop): {stopped.stderr.strip()}")
        try:
            time.sleep(seconds)
        finally:
            start()

    try:
        yield outage
    finally:
        if not postgres_answers():
            start()
