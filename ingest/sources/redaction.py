"""Keeping credentials out of client libraries' debug logs.

tweepy logs every request's headers at DEBUG, bearer token included; turning
on debug logging to chase a problem must not leak the token into log storage.
"""

from __future__ import annotations

import logging

_REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replaces known secrets in a record's rendered message before any handler sees it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # longest first, so a secret that contains another is replaced whole
        found = [secret for secret in sorted(self._secrets, key=len, reverse=True) if secret in message]
        if found:
            for secret in found:
                message = message.replace(secret, _REDACTED)
            record.msg, record.args = message, None
        return True


def redact_in_logger(logger_name: str, secret: str) -> None:
    """Redact ``secret`` in everything ``logger_name`` logs; one filter per logger, however many sources."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, RedactSecrets):
            existing.add(secret)
            return
    redactor = RedactSecrets()
    redactor.add(secret)
    logger.addFilter(redactor)
