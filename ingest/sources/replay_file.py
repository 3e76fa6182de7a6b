"""Scenario replay files: JSONL in the contract of DESIGN.md, or CSV with a column map.

A malformed line is an error naming the file and line. With
``skip_invalid`` it is reported in the batch's ``skipped`` list instead, and
reading goes on: one bad line in a day of posts should not cost the day.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingest.errors import InvalidRecordError, SourceUnavailableError
from ingest.records import ChangeEvent, Post, Service
from ingest.sources.base import Cursor, Source, SourceBatch

#: replay-file field -> Post field, where the names differ
_POST_FIELDS = {"id": "external_id", "author": "author_key"}
DEFAULT_CSV_COLUMNS: Mapping[str, str] = {
    "id": "id",
    "author": "author",
    "text": "text",
    "created_at": "created_at",
    "source": "source",
}


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def parse_replay_object(obj: Any, location: str) -> Post | ChangeEvent | Service:
    """Turn one replay-file object into its record, or raise ``InvalidRecordError``."""
    if not isinstance(obj, dict):
        raise InvalidRecordError(location, "expected a JSON object")
    kind = obj.get("type")
    fields = {key: value for key, value in obj.items() if key != "type"}
    try:
        if kind == "post":
            for old, new in _POST_FIELDS.items():
                if old in fields:
                    fields[new] = fields.pop(old)
            return Post.model_validate(fields)
        if kind == "change":
            fields["external_id"] = fields.pop("id", None)
            fields["started_at"] = fields.pop("created_at", fields.get("started_at"))
            return ChangeEvent.model_validate(fields)
        if kind == "service":
            return Service.model_validate(fields)
    except ValidationError as error:
        raise InvalidRecordError(location, _first_error(error)) from None
    raise InvalidRecordError(location, f"'type' must be post, change or service, not {kind!r}")


class ReplayFileSource(Source):
    """Reads a JSONL replay file (or a CSV of posts) from a line cursor."""

    kind = "file"

    def __init__(
        self,
        path: Path,
        *,
        skip_invalid: bool = False,
        batch_lines: int = 5000,
        csv_columns: Mapping[str, str] | None = None,
        csv_source: str = "file",
    ) -> None:
        self.path = path
        self.skip_invalid = skip_invalid
        self.batch_lines = batch_lines
        self.csv_columns = dict(DEFAULT_CSV_COLUMNS | dict(csv_columns or {}))
        self.csv_source = csv_source

    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        start_line = int(cursor.get("line", 0))
        batch = SourceBatch(cursor={"line": start_line})
        for line_number, parse in self._lines(start_line):
            try:
                record = parse()
            except InvalidRecordError as error:
                if not self.skip_invalid:
                    raise
                batch.skipped.append(error)
            else:
                if isinstance(record, Post):
                    batch.posts.append(record)
                elif isinstance(record, ChangeEvent):
                    batch.changes.append(record)
                elif record is not None:
                    batch.services.append(record)
            batch.cursor = {"line": line_number}
            if line_number - start_line >= self.batch_lines:
                yield batch
                start_line = line_number
                batch = SourceBatch(cursor={"line": line_number})
        if batch.record_count or batch.skipped:
            yield batch

    def _lines(self, start_line: int) -> Iterator[tuple[int, Any]]:
        is_csv = self.path.suffix.lower() == ".csv"
        try:
            # JSONL is read as bytes and decoded line by line, so one line that is not UTF-8 is one
            # invalid record, not the end of the file
            handle = self.path.open(encoding="utf-8", newline="") if is_csv else self.path.open("rb")
        except OSError as error:
            raise SourceUnavailableError(self.path, error.strerror or str(error)) from error
        with handle:
            if is_csv:
                yield from self._csv_lines(handle, start_line)
            else:
                yield from self._jsonl_lines(handle, start_line)

    def _jsonl_lines(self, handle: Any, start_line: int) -> Iterator[tuple[int, Any]]:
        for line_number, raw in enumerate(handle, start=1):
            if line_number <= start_line:
                continue
            location = f"{self.path}:{line_number}"
            if not raw.strip():
                yield line_number, lambda: None
                continue
            first = line_number == 1  # a byte-order mark may open the file
            yield (
                line_number,
                lambda raw=raw, location=location, first=first: self._parse_json(raw, location, first),
            )

    @staticmethod
    def _parse_json(raw: bytes, location: str, first: bool = False) -> Post | ChangeEvent | Service:
        try:
            line = raw.decode("utf-8-sig" if first else "utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRecordError(location, f"not valid UTF-8 (byte {error.start + 1})") from None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            reason = f"not valid JSON ({error.msg} at column {error.colno})"
            raise InvalidRecordError(location, reason) from None
        return parse_replay_object(obj, location)

    def _csv_lines(self, handle: Any, start_line: int) -> Iterator[tuple[int, Any]]:
        reader = csv.DictReader(handle)
        missing = {self.csv_columns["text"], self.csv_columns["created_at"]} - set(reader.fieldnames or [])
        if missing:
            raise InvalidRecordError(f"{self.path}:1", f"missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            line_number = reader.line_num
            if line_number <= start_line:
                continue
            location = f"{self.path}:{line_number}"
            yield line_number, lambda row=row, location=location: self._parse_csv_row(row, location)

    def _parse_csv_row(self, row: Mapping[str, str | None], location: str) -> Post | ChangeEvent | Service:
        columns = self.csv_columns

        def value(name: str) -> str | None:
            return row.get(columns[name]) or None

        obj = {
            "type": "post",
            "source": value("source") or self.csv_source,
            "id": value("id") or location.rsplit(":", 1)[-1],
            "author": value("author") or "unknown",
            "text": value("text"),
            "created_at": value("created_at"),
        }
        return parse_replay_object(obj, location)
