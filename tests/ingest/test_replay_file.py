from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import InvalidRecordError, SourceUnavailableError
from ingest.records import ChangeEvent, Post, Service
from ingest.sources.replay_file import ReplayFileSource

GOOD = [
    {"type": "service", "name": "cards", "description": "card payments"},
    {
        "type": "post",
        "source": "twitter",
        "id": "t1",
        "author": "u1",
        "text": "card declined",
        "created_at": "2026-03-01T10:02:11Z",
        "lang": "en",
    },
    {
        "type": "post",
        "source": "zendesk",
        "id": "z1",
        "author": "org1:u2",
        "text": "Subject\n\nbody",
        "created_at": "2026-03-01T10:03:00Z",
        "meta": {"priority": "high"},
    },
    {
        "type": "change",
        "id": "c1",
        "service": "cards",
        "kind": "deploy",
        "summary": "card-api v2",
        "created_at": "2026-03-01T09:50:00Z",
    },
]


def write_lines(path: Path, objects: list[object], extra: list[str] | None = None) -> Path:
    lines = [json.dumps(obj) for obj in objects] + (extra or [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_all(
    source: ReplayFileSource,
) -> tuple[list[Post], list[ChangeEvent], list[Service], list[InvalidRecordError]]:
    posts, changes, services, skipped = [], [], [], []
    for batch in source.read({}):
        posts += batch.posts
        changes += batch.changes
        services += batch.services
        skipped += batch.skipped
    return posts, changes, services, skipped


def test_reads_every_record_kind_of_the_contract(tmp_path: Path) -> None:
    posts, changes, services, skipped = read_all(ReplayFileSource(write_lines(tmp_path / "s.jsonl", GOOD)))
    assert [post.external_id for post in posts] == ["t1", "z1"]
    assert posts[1].author_key == "org1:u2" and posts[1].meta == {"priority": "high"}
    assert posts[0].created_at.tzinfo is not None
    assert changes[0].external_id == "c1" and changes[0].kind == "deploy" and changes[0].can_be_cause
    assert services[0].name == "cards"
    assert skipped == []


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"type": "post", "source": "twitter", "id": "t9", "author": "u1", "text": "x"}),
            "created_at",
        ),
        (json.dumps({"type": "tweet"}), "'type' must be"),
        (
            json.dumps(
                {"type": "change", "id": "c9", "kind": "earthquake", "created_at": "2026-03-01T10:00:00Z"}
            ),
            "kind",
        ),
        (json.dumps([1, 2]), "expected a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, expected: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", GOOD, [bad_line])
    with pytest.raises(InvalidRecordError) as caught:
        read_all(ReplayFileSource(path))
    assert caught.value.location == f"{path}:5"
    assert expected in str(caught.value)


def test_skip_invalid_reports_and_keeps_going(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", GOOD[:2], ["{oops", json.dumps(GOOD[2])])
    posts, _, _, skipped = read_all(ReplayFileSource(path, skip_invalid=True))
    assert [post.external_id for post in posts] == ["t1", "z1"]
    assert [error.location for error in skipped] == [f"{path}:3"]


def test_cursor_resumes_after_the_last_line_read(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", GOOD)
    batches = list(ReplayFileSource(path, batch_lines=2).read({}))
    assert batches[0].cursor == {"line": 2}
    resumed = list(ReplayFileSource(path).read(batches[0].cursor))
    assert [post.external_id for batch in resumed for post in batch.posts] == ["z1"]


def test_csv_with_a_column_map(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text(
        "ticket,body,when,who\n17,app crashes on login,2026-03-01T10:00:00Z,ann\n", encoding="utf-8"
    )
    source = ReplayFileSource(
        path,
        csv_columns={"id": "ticket", "text": "body", "created_at": "when", "author": "who"},
        csv_source="zendesk",
    )
    posts, _, _, _ = read_all(source)
    assert posts[0].external_id == "17" and posts[0].source == "zendesk" and posts[0].author_key == "ann"


def test_csv_missing_required_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,message\n1,hello\n", encoding="utf-8")
    with pytest.raises(InvalidRecordError, match="missing column"):
        read_all(ReplayFileSource(path))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="cannot read"):
        read_all(ReplayFileSource(tmp_path / "nope.jsonl"))
