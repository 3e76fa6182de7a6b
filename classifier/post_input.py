"""Reads posts to analyse from CSV (column ``text``, optional ``id``) or JSONL (``{"id", "text"}``).

Bad rows are returned as :class:`RejectedRow` (with their 1-based line number and the reason) instead of
aborting the whole file: one malformed line in a million-line export should not cost the other lines.
A file-level problem (unknown extension, no ``text`` column, unreadable file) raises :class:`PostInputError`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


class PostInputError(ValueError):
    """The input file as a whole cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class InputPost:
    """One post to analyse; ``id`` defaults to the line number when the file has none."""

    id: str
    text: str
    line: int


@dataclass(frozen=True)
class RejectedRow:
    """A skipped row: where it is and why."""

    line: int
    reason: str


def read_posts(path: Path) -> tuple[list[InputPost], list[RejectedRow]]:
    """Posts and rejected rows of a ``.csv`` or ``.jsonl``/``.ndjson`` file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise PostInputError(f"input file {path} does not exist")
    try:
        if suffix == ".csv":
            return _read_csv(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _read_jsonl(path)
    except UnicodeDecodeError as error:
        raise PostInputError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    raise PostInputError(f"{path}: unsupported file type {suffix!r}; use .csv (column text) or .jsonl")


def _checked(identifier: object, text: object, line: int) -> InputPost | RejectedRow:
    if not isinstance(text, str):
        return RejectedRow(line, "missing text" if text is None else "text is not a string")
    if not text.strip():
        return RejectedRow(line, "empty text")
    if identifier is None or identifier == "":
        identifier = str(line)
    if isinstance(identifier, bool) or not isinstance(identifier, str | int):
        return RejectedRow(line, "id must be a string or an integer")
    return InputPost(str(identifier), text, line)


def _split(results: list[InputPost | RejectedRow]) -> tuple[list[InputPost], list[RejectedRow]]:
    return (
        [r for r in results if isinstance(r, InputPost)],
        [r for r in results if isinstance(r, RejectedRow)],
    )


def _read_csv(path: Path) -> tuple[list[InputPost], list[RejectedRow]]:
    csv.field_size_limit(10**8)
    results: list[InputPost | RejectedRow] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise PostInputError(f"{path} has no 'text' column (header: {reader.fieldnames or 'none'})")
        line = reader.line_num + 1
        try:
            for row in reader:
                if None in row:
                    results.append(RejectedRow(line, "more fields than the header"))
                else:
                    results.append(_checked(row.get("id"), row.get("text"), line))
                line = reader.line_num + 1
        except csv.Error as error:
            results.append(RejectedRow(line, f"unreadable CSV from here on: {error}"))
    return _split(results)


def _read_jsonl(path: Path) -> tuple[list[InputPost], list[RejectedRow]]:
    results: list[InputPost | RejectedRow] = []
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as error:
                results.append(RejectedRow(line, f"invalid JSON: {error.msg}"))
                continue
            if not isinstance(value, dict):
                results.append(RejectedRow(line, "not a JSON object"))
                continue
            results.append(_checked(value.get("id"), value.get("text"), line))
    return _split(results)
