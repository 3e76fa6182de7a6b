"""Classifier test helpers; the session-wide `analyzer` fixture (one encoder load) is in tests/conftest.py."""

from __future__ import annotations

import pytest

from classifier.paths import shared_dir


def shared_datasets_available() -> bool:
    return (shared_dir() / "datasets").is_dir()


requires_shared = pytest.mark.skipif(
    not shared_datasets_available(),
    reason="needs ../shared/datasets (or SIGNAL_TRIAGE_SHARED_DIR); labelled data is not in this checkout",
)
