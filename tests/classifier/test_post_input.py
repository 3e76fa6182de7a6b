"""Reading CSV/JSONL posts: good rows kept, bad rows reported with their line, file errors raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.post_input import PostInputError, read_posts


def test_csv_with_and_without_ids(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text('id,text\na1,the export button does nothing\n,"two\nlines"\na3,\n', encoding="utf-8")
    posts, rejected = read_posts(path)
    assert [(p.id, p.text, p.line) for p in posts] == [
        ("a1", "the export button does nothing", 2),
        ("3", "two\nlines", 3),
    ]
    assert [(r.line, r.reason) for r in rejected] == [(5, "empty text")]


def test_csv_without_text_column_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,body\n1,hello\n", encoding="utf-8")
    with pytest.raises(PostInputError, match="no 'text' column"):
        read_posts(path)


def test_jsonl_bad_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(
        '{"id": "p1", "text": "sync stopped working"}\n'
        "{broken\n"
        "\n"
        '["a list"]\n'
        '{"id": "p5"}\n'
        '{"id": 6, "text": "cannot log in"}\n'
        '{"id": {"x": 1}, "text": "odd id"}\n',
        encoding="utf-8",
    )
    posts, rejected = read_posts(path)
    assert [(p.id, p.line) for p in posts] == [("p1", 1), ("6", 6)]
    assert [r.line for r in rejected] == [2, 4, 5, 7]
    assert rejected[0].reason.startswith("invalid JSON")


def test_unsupported_or_missing_file(tmp_path: Path) -> None:
    (tmp_path / "posts.txt").write_text("x")
    with pytest.raises(PostInputError, match="unsupported"):
        read_posts(tmp_path / "posts.txt")
    with pytest.raises(PostInputError, match="does not exist"):
        read_posts(tmp_path / "absent.csv")
