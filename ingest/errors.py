"""Errors a source reports about its input, naming where the problem is."""

from __future__ import annotations

from datetime import datetime
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


class SourceAuthError(IngestError):
    """The remote API refused the configured credentials.

    Retrying cannot help, so runners stop on this instead of looping; the
    message names the setting to fix and never contains the secret itself.
    """


class SourceConfigError(IngestError):
    """A source or feed is missing a setting it needs (a token, a query, a folder)."""


class RateLimitedError(IngestError):
    """The remote API asked us to wait. Raised after the last stored page, so the
    cursor is intact; ``retry_at`` is when the next request may be made."""

    def __init__(self, source: str, retry_at: datetime, reason: str) -> None:
        super().__init__(f"{source} is rate limited until {retry_at:%Y-%m-%dT%H:%M:%SZ}: {reason}")
        self.source = source
        self.retry_at = retry_at
        self.reason = reason


class WebhookRejectedError(IngestError):
    """A webhook's signature or token did not check out; the body is not trusted."""
