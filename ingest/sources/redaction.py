"""Keeping credentials out of client libraries' debug logs.

tweepy logs every request's headers at DEBUG, bearer token included; turning
on debug logging to chase a problem must not leak the token into log storage.
"""

from __future__ import annotations

import logging

_REDACTED = "[redacted]"


class RedactSecret(logging.Filter):
    """Replaces a secret in a record's rendered message before any handler sees it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secret:
            return True
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, _REDACTED), None
        return True


def redact_in_logger(logger_name: str, secret: str) -> None:
    """Install the filter once per (logger, secret); repeated sources do not stack filters."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, RedactSecret) and existing._secret == secret:
            return
    logger.addFilter(RedactSecret(secret))
