"""Small generated inputs for classifier tests (no dataset rows)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.artifact import ModelArtifact
from classifier.heads import DenseHead, fit_logistic_head
from classifier.labels import CATEGORIES


def separable_embeddings(
    n_per_class: int, n_classes: int, dim: int = 384, seed: int = 0
) -> tuple[np.ndarray, list[int]]:
    """Unit vectors clustered around one random direction per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    points, classes = [], []
    for label in range(n_classes):
        cloud = centres[label] + 0.8 * rng.normal(size=(n_per_class, dim))
        points.append(cloud)
        classes += [label] * n_per_class
    stacked = np.concatenate(points).astype(np.float32)
    return stacked / np.linalg.norm(stacked, axis=1, keepdims=True), classes


def tiny_artifact(version: str = "t1") -> ModelArtifact:
    """An artifact whose heads were fitted on generated points; good enough to test plumbing."""
    x, y = separable_embeddings(30, 3)
    problem = fit_logistic_head(
        x, ["problem" if c == 0 else "not_problem" for c in y], ("not_problem", "problem")
    )
    category = fit_logistic_head(x, [CATEGORIES[c] for c in y], CATEGORIES)
    sentiment = fit_logistic_head(
        x, [("negative", "neutral", "positive")[c] for c in y], ("negative", "neutral", "positive")
    )
    sentiment.logit_bias = np.array([0.1, 0.0, -0.1], dtype=np.float32)
    return ModelArtifact(version, problem, category, sentiment, 0.5, {"created": "test"})


def mlp_head() -> DenseHead:
    rng = np.random.default_rng(1)
    return DenseHead(
        ("a", "b"),
        [
            (rng.normal(size=(8, 384)).astype(np.float32), np.zeros(8, np.float32)),
            (rng.normal(size=(2, 8)).astype(np.float32), np.zeros(2, np.float32)),
        ],
    )


class CountingEncoder:
    """Fake encoder: a deterministic unit vector per text length, recording every text it encodes."""

    name = "fake"
    batch_size = 64

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, len(text) % 384] = 1.0
        return vectors
