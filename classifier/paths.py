"""Where the classifier finds shared data, its cache and its committed artifacts.

The labelled datasets live beside the repository (``../shared``), never inside it, so every reader
locates them through :func:`shared_dir`; tests and benchmarks skip cleanly when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
SHARED_DIR_ENV = "SIGNAL_TRIAGE_SHARED_DIR"


class SharedDataMissingError(FileNotFoundError):
    """The ``../shared`` datasets folder is not there (e.g. a bare checkout or CI without data)."""


def shared_dir() -> Path:
    """The shared folder: ``$SIGNAL_TRIAGE_SHARED_DIR`` when set, else ``<repo>/../shared``."""
    override = os.environ.get(SHARED_DIR_ENV)
    return Path(override).expanduser().resolve() if override else (REPO_ROOT.parent / "shared").resolve()


def dataset_csv(name: str) -> Path:
    """Path of ``<shared>/datasets/<name>/data.csv``; raises :class:`SharedDataMissingError` when absent."""
    path = shared_dir() / "datasets" / name / "data.csv"
    if not path.is_file():
        raise SharedDataMissingError(
            f"dataset {name!r} not found at {path}; set {SHARED_DIR_ENV} to the folder holding datasets/"
        )
    return path


def cache_dir() -> Path:
    """Git-ignored cache for embeddings (``<repo>/.cache/classifier``), created on demand."""
    path = REPO_ROOT / ".cache" / "classifier"
    path.mkdir(parents=True, exist_ok=True)
    return path
