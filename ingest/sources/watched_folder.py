"""A folder other tools drop JSONL or CSV files into; each new file is read as it appears.

Each file keeps its own line cursor (inside this source's one cursor, keyed by
file name), so a file that grows is continued, not re-read, and a restart
picks up every file where it stopped. A file modified within the last
``settle`` period may still be being written and waits for the next pull, so a
half-written last line is never read as a malformed record.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from ingest.errors import SourceUnavailableError
from ingest.sources.base import Cursor, Source, SourceBatch
from ingest.sources.replay_file import ReplayFileSource

_SUFFIXES = {".jsonl", ".ndjson", ".csv"}


class WatchedFolderSource(Source):
    kind = "folder"

    def __init__(
        self,
        folder: Path,
        *,
        clock: Callable[[], datetime],
        settle: timedelta = timedelta(seconds=5),
        skip_invalid: bool = True,
        csv_source: str = "file",
        batch_lines: int = 5000,
    ) -> None:
        self.folder = folder
        self.batch_lines = batch_lines
        self.settle = settle
        self.skip_invalid = skip_invalid
        self.csv_source = csv_source
        self._clock = clock

    def read(self, cursor: Cursor) -> Iterator[SourceBatch]:
        files: dict[str, dict[str, int]] = {
            name: dict(state) for name, state in (cursor.get("files") or {}).items()
        }
        for path in self._ready_files():
            size = path.stat().st_size  # before reading: lines appended meanwhile are caught next pull
            state = files.get(path.name, {})
            if state.get("size") == size:
                continue
            line = int(state.get("line", 0))
            reader = ReplayFileSource(
                path, skip_invalid=self.skip_invalid, csv_source=self.csv_source, batch_lines=self.batch_lines
            )
            # the size goes into the cursor only with a file's last batch: a cursor saying "read to
            # this size" after a middle batch would make a restart skip the rest of the file
            held: SourceBatch | None = None
            for batch in reader.read({"line": line}):
                if held is not None:
                    files[path.name] = {"line": line, "size": state.get("size", -1)}
                    held.cursor = self._cursor(files)
                    yield held
                held, line = batch, int(batch.cursor["line"])
            files[path.name] = {"line": line, "size": size}
            # an empty batch when only blank lines followed: remember the size, so the file is not re-opened
            held = held if held is not None else SourceBatch()
            held.cursor = self._cursor(files)
            yield held

    def check(self) -> str:
        ready = self._ready_files()
        if not os.access(self.folder, os.R_OK | os.X_OK):
            raise SourceUnavailableError(self.folder, "permission denied")
        return f"folder {self.folder} is readable; {len(ready)} JSONL/CSV file(s) ready to read"

    def cursor_since(self, since: datetime, current: Cursor) -> Cursor:
        """Forget the position in every file modified since ``since``, so each is read again
        from its first line (lines stored before are recognised and not stored twice)."""
        if not self.folder.is_dir():
            raise SourceUnavailableError(self.folder, "not a folder (set sources.watched_folder)")
        files = dict(current.get("files") or {})
        for name in list(files):
            path = self.folder / name
            if not path.exists() or path.stat().st_mtime >= since.timestamp():
                del files[name]
        return self._cursor(files)

    @staticmethod
    def _cursor(files: dict[str, dict[str, int]]) -> Cursor:
        return {"files": {name: dict(state) for name, state in files.items()}}

    def _ready_files(self) -> list[Path]:
        if not self.folder.is_dir():
            raise SourceUnavailableError(self.folder, "not a folder (set sources.watched_folder)")
        cutoff = (self._clock() - self.settle).timestamp()
        ready = [
            path
            for path in self.folder.iterdir()
            if path.is_file() and path.suffix.lower() in _SUFFIXES and path.stat().st_mtime <= cutoff
        ]
        return sorted(ready, key=lambda path: (path.stat().st_mtime, path.name))
