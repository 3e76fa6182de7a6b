"""A folder other tools drop JSONL or CSV files into; each new file is read as it appears.

Each file keeps its own line cursor (inside this source's one cursor, keyed by
file name), so a file that grows is continued, not re-read, and a restart
picks up every file where it stopped. A file modified within the last
``settle`` period may still be being written and waits for the next pull, so a
half-written last line is never read as a malformed record.
"""

from __future__ import annotations

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
    ) -> None:
        self.folder = folder
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
            reader = ReplayFileSource(path, skip_invalid=self.skip_invalid, csv_source=self.csv_source)
            for batch in reader.read({"line": line}):
                line = int(batch.cursor["line"])
                files[path.name] = {"line": line, "size": size}
                batch.cursor = self._cursor(files)
                yield batch
            if files.get(path.name) != {"line": line, "size": size}:
                # nothing but blank lines since the cursor: remember the size so the file is not re-opened
                files[path.name] = {"line": line, "size": size}
                yield SourceBatch(cursor=self._cursor(files))

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
