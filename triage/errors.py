"""Errors a user can cause and fix. Each message says what to do; the CLI prints
it on one line and exits non-zero, the API answers with problem details."""


class TriageError(Exception):
    """Base of every error signal-triage reports to a person."""


class StorageError(TriageError):
    pass


class ConfigurationError(TriageError):
    pass
