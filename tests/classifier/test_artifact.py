"""Artifacts round-trip and refuse to load when missing or corrupt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.artifact import ModelArtifactError, default_artifact_dir, load_artifact, save_artifact
from tests.classifier.factories import separable_embeddings, tiny_artifact


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_artifact(tmp_path / "t1", tiny_artifact(), "# card\n")
    return tmp_path / "t1"


def test_round_trip_gives_identical_predictions(saved: Path) -> None:
    original = tiny_artifact()
    loaded = load_artifact(saved)
    x, _ = separable_embeddings(5, 3, seed=9)
    for name in ("problem", "category", "sentiment"):
        assert np.allclose(getattr(loaded, name).predict_proba(x), getattr(original, name).predict_proba(x))
    assert loaded.version == "t1" and loaded.problem_threshold == 0.5
    assert (saved / "MODEL_CARD.md").read_text() == "# card\n"


def test_error_is_a_value_error() -> None:
    assert issubclass(ModelArtifactError, ValueError)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nope")


def test_missing_weights(saved: Path) -> None:
    (saved / "heads.npz").unlink()
    with pytest.raises(ModelArtifactError, match="missing"):
        load_artifact(saved)


def test_tampered_weights(saved: Path) -> None:
    data = bytearray((saved / "heads.npz").read_bytes())
    data[-10] ^= 0xFF
    (saved / "heads.npz").write_bytes(bytes(data))
    with pytest.raises(ModelArtifactError, match="corrupt"):
        load_artifact(saved)


def test_broken_manifest(saved: Path) -> None:
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(ModelArtifactError, match="not valid JSON"):
        load_artifact(saved)


def test_manifest_missing_a_head(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    del manifest["heads"]["sentiment"]
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="incomplete or corrupt"):
        load_artifact(saved)


def test_default_pointer(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="no default model"):
        default_artifact_dir(tmp_path)
    (tmp_path / "DEFAULT").write_text("v7\n")
    assert default_artifact_dir(tmp_path) == tmp_path / "v7"
    (tmp_path / "DEFAULT").write_text("../elsewhere")
    with pytest.raises(ModelArtifactError, match="version folder name"):
        default_artifact_dir(tmp_path)
