"""Errors a source reports about its input, naming where the problem is."""

from __future__ import annotations

from pathlib import Path


class IngestError(Exception):
    """Base of the errors a person fixes by changing a source's input or configuration."""


class InvalidRecordError(IngestError):
    """One record (a line of a file, an item of a request) is not in the contract's shape."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class SourceUnavailableError(IngestError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
