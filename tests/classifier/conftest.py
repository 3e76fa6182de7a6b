"""Shared fixtures: the encoder and analyzer are loaded once per test session (loading costs seconds)."""

from __future__ import annotations

import pytest

from classifier.analysis import Analyzer, load_analyzer
from classifier.artifact import ModelArtifactError
from classifier.paths import shared_dir


def shared_datasets_available() -> bool:
    return (shared_dir() / "datasets").is_dir()


requires_shared = pytest.mark.skipif(
    not shared_datasets_available(),
    reason="needs ../shared/datasets (or SIGNAL_TRIAGE_SHARED_DIR); labelled data is not in this checkout",
)


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """The committed default model with the real encoder."""
    try:
        return load_analyzer()
    except ModelArtifactError as error:
        pytest.skip(f"no committed default artifact: {error}")
