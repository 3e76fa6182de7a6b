"""A real ``SIGKILL`` of ``triage sources pull`` mid-ingest, then a restart: every post stored once.

The pull runs as a separate process on a watched folder with small batches
(one transaction each), against a SQLite file this test reads between kills.
Each kill lands wherever the process happens to be (parsing, inside a commit,
between batches); the cursor is stored in the same transaction as its batch,
so whatever the last committed batch was, the restart continues right after it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

LINES_PER_FILE = 2500
FILES = ("a-first.jsonl", "b-second.jsonl")
TOTAL = LINES_PER_FILE * len(FILES)
BATCH_LINES = 10
KILLS = 3
#: bounded polling: how long one process may take to store its next few batches
POLL_LIMIT_SECONDS = 60.0


def write_posts(folder: Path) -> set[str]:
    folder.mkdir()
    expected: set[str] = set()
    for number, name in enumerate(FILES):
        lines = []
        for index in range(LINES_PER_FILE):
            external_id = f"{number}-{index}"
            expected.add(external_id)
            lines.append(
                json.dumps(
                    {
                        "type": "post",
                        "source": "forum",
                        "id": external_id,
                        "author": f"user{index % 97}",
                        "text": f"checkout fails with error {index}",
                        "created_at": "2026-03-01T10:00:00Z",
                    }
                )
            )
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.utime(folder / name, (1_000_000 + number, 1_000_000 + number))  # settled, read in this order
    return expected


def stored_count(database: Path) -> int:
    """Posts committed so far, read as a second SQLite connection (WAL: never blocks the writer)."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def start_pull(tmp_path: Path, folder: Path, database: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SIGNAL_TRIAGE_DATABASE_URL": f"sqlite:///{database.as_posix()}",
        "SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER": str(folder),
        "SIGNAL_TRIAGE_SOURCES__WATCHED_FOLDER_SETTLE_SECONDS": "0",
    }
    command = [sys.executable, "-m", "triage", "sources", "pull", "folder", "-q"]
    return subprocess.Popen(
        [*command, "--batch-lines", str(BATCH_LINES)],
        cwd=tmp_path,  # no .env of the repository
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_once_more_is_stored(process: subprocess.Popen[bytes], database: Path, at_least: int) -> int:
    """Poll until ``at_least`` posts are committed, then SIGKILL; the count seen just before."""
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    count = stored_count(database)
    while count < at_least:
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"the pull ended (rc {process.returncode}) before it could be killed: {stderr!r}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no progress past {count} posts in {POLL_LIMIT_SECONDS}s")
        time.sleep(0.005)
        count = stored_count(database)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return count


def test_sigkill_mid_ingest_then_restart_stores_every_post_exactly_once(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    database = tmp_path / "ingest.db"
    expected = write_posts(folder)

    seen_at_kill = []
    for kill in range(1, KILLS + 1):
        process = start_pull(tmp_path, folder, database)
        # each run is killed a little further on: inside the first file, then the second
        seen_at_kill.append(kill_once_more_is_stored(process, database, at_least=kill * TOTAL // (KILLS + 1)))
        assert process.returncode == -signal.SIGKILL, "the pull finished before the kill landed"
    killed_with = stored_count(database)
    assert killed_with < TOTAL, "every post was stored before the last kill: nothing was resumed"

    finish = start_pull(tmp_path, folder, database)
    _, stderr = finish.communicate(timeout=300)

    assert finish.returncode == 0, stderr.decode()
    summary = stderr.decode()
    # resumed right after the last committed batch: nothing read twice, nothing skipped
    assert f"{TOTAL - killed_with} new post(s), 0 already stored" in summary, summary
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT source, external_id FROM posts").fetchall()
        (cursor,) = connection.execute("SELECT cursor FROM sources WHERE name = 'folder'").fetchone()
    ids = [external_id for _, external_id in rows]
    assert len(ids) == len(set(ids)) == TOTAL
    assert set(ids) == expected and {source for source, _ in rows} == {"forum"}
    files = json.loads(cursor)["files"]
    assert {name: state["line"] for name, state in files.items()} == dict.fromkeys(FILES, LINES_PER_FILE)
    assert seen_at_kill == sorted(seen_at_kill)
