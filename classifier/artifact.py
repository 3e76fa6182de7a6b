"""Versioned model artifact: head weights (``heads.npz``), ``manifest.json`` and ``MODEL_CARD.md``.

Layout: ``classifier/artifacts/<version>/``; ``classifier/artifacts/DEFAULT`` names the version that
:func:`default_artifact_dir` (and so ``load_analyzer()``) uses. The manifest records the SHA-256 of the
weights file, so a truncated or hand-edited artifact is refused with a message instead of giving
silently wrong scores. Weights are stored without pickle (``allow_pickle=False``) so loading runs no code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.heads import DenseHead
from classifier.paths import ARTIFACTS_DIR

WEIGHTS_FILE = "heads.npz"
MANIFEST_FILE = "manifest.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
DEFAULT_POINTER = "DEFAULT"
HEAD_NAMES = ("problem", "category", "sentiment")
FORMAT_VERSION = 1


class ModelArtifactError(ValueError):
    """A model artifact is missing, incomplete or corrupt; the message says which file and what to do."""


@dataclass
class ModelArtifact:
    """The trained heads plus the manifest that describes them."""

    version: str
    problem: DenseHead
    category: DenseHead
    sentiment: DenseHead
    problem_threshold: float
    manifest: dict[str, Any]


def default_artifact_dir(artifacts_root: Path = ARTIFACTS_DIR) -> Path:
    """Folder of the version named in ``<artifacts_root>/DEFAULT``."""
    pointer = artifacts_root / DEFAULT_POINTER
    if not pointer.is_file():
        raise ModelArtifactError(f"no default model: {pointer} is missing; run `triage model train`")
    version = pointer.read_text(encoding="utf-8").strip()
    if not version or "/" in version or version.startswith("."):
        raise ModelArtifactError(f"{pointer} must hold a version folder name, found {version!r}")
    return artifacts_root / version


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_artifact(directory: Path, artifact: ModelArtifact, model_card: str) -> None:
    """Write weights, manifest (with the weights' hash) and model card into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for name in HEAD_NAMES:
        head: DenseHead = getattr(artifact, name)
        for index, (weight, bias) in enumerate(head.layers):
            arrays[f"{name}.{index}.weight"] = weight.astype(np.float32)
            arrays[f"{name}.{index}.bias"] = bias.astype(np.float32)
        arrays[f"{name}.logit_bias"] = (
            head.logit_bias.astype(np.float32)
            if head.logit_bias.size
            else np.zeros(len(head.labels), np.float32)
        )
    weights_path = directory / WEIGHTS_FILE
    with weights_path.open("wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)
    manifest = dict(artifact.manifest)
    manifest.update(
        format_version=FORMAT_VERSION,
        version=artifact.version,
        problem_threshold=artifact.problem_threshold,
        weights_file=WEIGHTS_FILE,
        weights_sha256=_sha256(weights_path),
        heads={
            name: {
                "labels": list(getattr(artifact, name).labels),
                "layers": len(getattr(artifact, name).layers),
                "temperature": getattr(artifact, name).temperature,
            }
            for name in HEAD_NAMES
        },
    )
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")
    (directory / MODEL_CARD_FILE).write_text(model_card, encoding="utf-8")


def load_artifact(directory: Path) -> ModelArtifact:
    """Read and verify an artifact folder; raises :class:`ModelArtifactError` on any defect."""
    manifest_path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise ModelArtifactError(f"model artifact folder {directory} does not exist")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelArtifactError(f"{manifest_path} is missing; is {directory} a model artifact?") from None
    except json.JSONDecodeError as error:
        raise ModelArtifactError(
            f"{manifest_path} is not valid JSON ({error}); retrain or restore it"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ModelArtifactError(f"{manifest_path} has an unknown format (expected format_version 1)")
    weights_path = directory / manifest.get("weights_file", WEIGHTS_FILE)
    if not weights_path.is_file():
        raise ModelArtifactError(f"{weights_path} is missing; retrain or restore the artifact")
    if _sha256(weights_path) != manifest.get("weights_sha256"):
        raise ModelArtifactError(f"{weights_path} does not match the hash in {manifest_path}; it is corrupt")
    try:
        with np.load(weights_path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        heads = {name: _read_head(name, manifest["heads"][name], arrays) for name in HEAD_NAMES}
        threshold = float(manifest["problem_threshold"])
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise ModelArtifactError(f"model artifact {directory} is incomplete or corrupt: {error}") from None
    return ModelArtifact(
        str(manifest["version"]), heads["problem"], heads["category"], heads["sentiment"], threshold, manifest
    )


def _read_head(name: str, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> DenseHead:
    layers = [(arrays[f"{name}.{i}.weight"], arrays[f"{name}.{i}.bias"]) for i in range(int(spec["layers"]))]
    labels = tuple(str(label) for label in spec["labels"])
    if layers[-1][0].shape[0] != len(labels):
        raise ValueError(f"head {name!r} has {layers[-1][0].shape[0]} outputs for {len(labels)} labels")
    return DenseHead(labels, layers, float(spec["temperature"]), arrays[f"{name}.logit_bias"])
