"""A full disk, a read-only database and a corrupt model artifact, each through the CLI as a real
process: one clear line, a non-zero exit, no traceback, and nothing lost that was committed.

How the faults are made:

- **full disk, RLIMIT_FSIZE**: the child runs with ``resource.setrlimit(RLIMIT_FSIZE)`` set just
  above the empty database's size, so SQLite's writes past it fail with ``EFBIG`` (Python ignores
  ``SIGXFSZ``), which SQLite reports as a disk I/O error. Works anywhere, as any user.
- **full disk, tmpfs**: where the tests may mount (root in a container), the database lives on a
  256 KiB tmpfs, and SQLite gets ``ENOSPC`` (``SQLITE_FULL``). Skipped where mounting is refused.
- **read-only database**: the database file sits on a tmpfs remounted read-only (root ignores file
  modes), or, for other users, has its write permission removed.
- **corrupt model**: a copy of the default artifact with one byte of its weights flipped.

After a disk fault the same command is run again without the limit: it must finish, store every
post exactly once and write a report equal to an undisturbed replay's.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.artifact import default_artifact_dir
from tests.faults.support import run_cli, service_env, write_scenario

pytestmark = pytest.mark.slow


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    error = " ".join(
        line.strip() for line in lines[[i for i, line in enumerate(lines) if "error:" in line][0] :]
    )
    for word in words:
        assert word in error, error
    return error


def integrity(database: Path) -> tuple[str, int, int]:
    with sqlite3.connect(database) as connection:
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        posts = connection.execute("SELECT count(*) FROM posts").fetchone()[0]
        distinct = connection.execute(
            "SELECT count(DISTINCT source || ':' || external_id) FROM posts"
        ).fetchone()[0]
    return check, posts, distinct


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    folder = tmp_path_factory.mktemp("scenario")
    path = folder / "bank_day.jsonl"
    return path, write_scenario(path)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, scenario: tuple[Path, set[tuple[str, str]]]) -> Path:
    """An undisturbed replay: its database (for the read-only test) and report."""
    root = tmp_path_factory.mktemp("reference")
    database = root / "triage.db"
    result = run_cli(
        ["replay", str(scenario[0]), "--report", str(root / "report.json"), "--no-timing", "--quiet"],
        service_env(database),
        root,
    )
    assert result.returncode == 0, result.stderr
    return root


def resume_and_compare(root: Path, scenario: tuple[Path, set[tuple[str, str]]], reference: Path) -> None:
    """Nothing committed before the fault is lost, nothing is stored twice, and the finished replay's
    report is the undisturbed one's."""
    database = root / "triage.db"
    check, _, _ = integrity(database)
    assert check == "ok"
    again = run_cli(
        ["replay", str(scenario[0]), "--report", str(root / "report.json"), "--no-timing", "--quiet"],
        service_env(database),
        root,
    )
    assert again.returncode == 0, again.stderr
    check, posts, distinct = integrity(database)
    assert (check, posts, distinct) == ("ok", len(scenario[1]), len(scenario[1]))
    assert json.loads((root / "report.json").read_text()) == json.loads(
        (reference / "report.json").read_text()
    )


def limit_file_size(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_by_file_size_limit_is_one_clear_error_and_the_rerun_loses_nothing(
    tmp_path: Path, scenario: tuple[Path, set[tuple[str, str]]], reference: Path
) -> None:
    database = tmp_path / "triage.db"
    # an empty, migrated database first, so the limit falls inside the replay's own writes
    made = run_cli(["outbox", "list"], service_env(database), tmp_path)
    assert made.returncode == 0, made.stderr
    limit = database.stat().st_size + 64 * 1024

    faulted = run_cli(
        ["replay", str(scenario[0]), "--report", str(tmp_path / "report.json"), "--no-timing", "--quiet"],
        service_env(database),
        tmp_path,
        preexec=limit_file_size(limit),
    )

    assert_one_clear_error(faulted, "cannot write to the database", "start again")
    assert not (tmp_path / "report.json").exists(), "no report from a replay that could not store"
    resume_and_compare(tmp_path, scenario, reference)


def test_embedded_runner_stops_on_a_full_disk_instead_of_retrying_forever(
    tmp_path: Path, scenario: tuple[Path, set[tuple[str, str]]]
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(scenario[0], folder / "day.jsonl")
    os.utime(folder / "day.jsonl", (1_000_000, 1_000_000))
    database = tmp_path / "triage.db"
    env = service_env(database, folder)
    made = run_cli(["outbox", "list"], env, tmp_path)
    assert made.returncode == 0, made.stderr

    faulted = run_cli(
        ["run", "--source", "folder", "--no-analysis", "--batch-lines", "10", "--interval", "1"],
        env,
        tmp_path,
        preexec=limit_file_size(database.stat().st_size + 16 * 1024),
    )

    assert_one_clear_error(faulted, "cannot write to the database")
    check, posts, distinct = integrity(database)
    assert check == "ok" and posts == distinct, "what was committed is intact and stored once"


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({made.stderr.decode().strip()}); the RLIMIT_FSIZE test covers it"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_on_a_small_tmpfs_is_one_clear_error(
    tmp_path: Path, small_tmpfs: Path, scenario: tuple[Path, set[tuple[str, str]]]
) -> None:
    database = small_tmpfs / "triage.db"

    faulted = run_cli(
        ["replay", str(scenario[0]), "--report", str(tmp_path / "report.json"), "--no-timing", "--quiet"],
        service_env(database),
        tmp_path,
    )

    assert_one_clear_error(faulted, "cannot write to the database")
    check, posts, distinct = integrity(database)
    assert check == "ok" and posts == distinct


def test_read_only_database_is_one_clear_error_and_is_left_untouched(
    tmp_path: Path, reference: Path, scenario: tuple[Path, set[tuple[str, str]]]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True
        )
        if made.returncode != 0:
            pytest.skip("running as root without the right to mount: file modes cannot make a file read-only")
        mounted = True
    try:
        shutil.copy(reference / "triage.db", folder / "triage.db")
        before = hashlib.sha256((folder / "triage.db").read_bytes()).hexdigest()
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            (folder / "triage.db").chmod(0o444)
            folder.chmod(0o555)

        faulted = run_cli(
            ["replay", str(scenario[0]), "--report", str(tmp_path / "report.json"), "--quiet"],
            service_env(folder / "triage.db"),
            tmp_path,
        )

        assert_one_clear_error(faulted, "cannot write to the database")
        assert hashlib.sha256((folder / "triage.db").read_bytes()).hexdigest() == before
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        else:
            folder.chmod(0o755)


@pytest.fixture
def corrupt_model(tmp_path: Path) -> Path:
    artifact = tmp_path / "model"
    shutil.copytree(default_artifact_dir(), artifact)
    weights = artifact / "heads.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    return artifact


@pytest.mark.parametrize("command", ["replay", "run"])
def test_corrupt_model_artifact_is_one_clear_error_before_anything_is_stored(
    command: str, tmp_path: Path, corrupt_model: Path, scenario: tuple[Path, set[tuple[str, str]]]
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(scenario[0], folder / "day.jsonl")
    database = tmp_path / "triage.db"
    env = service_env(database, folder, SIGNAL_TRIAGE_MODEL_DIR=str(corrupt_model))
    args = (
        ["replay", str(scenario[0]), "--report", str(tmp_path / "r.json"), "--quiet"]
        if command == "replay"
        else ["run", "--once", "--source", "folder"]
    )

    faulted = run_cli(args, env, tmp_path)

    assert_one_clear_error(faulted, "corrupt")
    if database.exists():
        assert integrity(database)[1] == 0, "nothing is stored with a model that cannot be trusted"
