from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingest.errors import SourceUnavailableError
from ingest.sources.watched_folder import WatchedFolderSource
from triage.ingestion import pull_source
from triage.storage.models import PostRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def post_line(post_id: str) -> str:
    return (
        json.dumps(
            {
                "type": "post",
                "source": "forum",
                "id": post_id,
                "author": "u1",
                "text": "the app logs me out",
                "created_at": "2026-03-01T10:00:00Z",
            }
        )
        + "\n"
    )


def write(path: Path, text: str, *, age: timedelta = timedelta(minutes=1), mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        handle.write(text)
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))


def source(folder: Path) -> WatchedFolderSource:
    return WatchedFolderSource(folder, clock=lambda: NOW, settle=timedelta(seconds=5))


def stored(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(PostRow.external_id)))


def test_new_and_grown_files_are_picked_up_and_each_keeps_its_cursor(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder / "a.jsonl", post_line("a1") + post_line("a2"))
    write(folder / "notes.txt", "not a data file")

    first = pull_source(sessions, "t", "folder", source(folder), clock=lambda: NOW)
    write(folder / "a.jsonl", post_line("a3"), mode="a")
    write(folder / "b.csv", "id,author,text,created_at\nb1,u2,cannot pay,2026-03-01T10:01:00Z\n")
    second = pull_source(sessions, "t", "folder", source(folder), clock=lambda: NOW)
    third = pull_source(sessions, "t", "folder", source(folder), clock=lambda: NOW)

    assert (first.posts_new, second.posts_new, third.posts_new) == (2, 2, 0)
    assert second.posts_seen_before == 0 and third.batches == 0
    assert stored(sessions) == ["a1", "a2", "a3", "b1"]
    assert second.cursor["files"]["a.jsonl"]["line"] == 3


def test_a_file_still_being_written_waits_for_the_next_pull(tmp_path: Path) -> None:
    write(tmp_path / "late.jsonl", post_line("x1"), age=timedelta(seconds=1))
    assert list(source(tmp_path).read({})) == []


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="sources.watched_folder"):
        list(source(tmp_path / "nowhere").read({}))


def test_a_cursor_after_a_middle_batch_resumes_the_rest_of_the_file(tmp_path: Path) -> None:
    write(tmp_path / "posts.jsonl", "".join(post_line(f"p{index}") for index in range(5)))
    source = WatchedFolderSource(tmp_path, clock=lambda: NOW, batch_lines=2)

    first = next(iter(source.read({})))  # as if the process died right after storing this batch
    rest = list(source.read(first.cursor))

    assert [post.external_id for post in first.posts] == ["p0", "p1"]
    assert [post.external_id for batch in rest for post in batch.posts] == ["p2", "p3", "p4"]
    assert list(source.read(rest[-1].cursor)) == []
