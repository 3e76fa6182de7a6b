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


def tiny_layer_pool_artifact(version: str = "l1") -> ModelArtifact:
    """Like :func:`tiny_artifact`, but its heads read layer pools (6 x 384 numbers per text)."""
    x, y = separable_embeddings(30, 3, dim=6 * 384)
    problem = fit_logistic_head(
        x, ["problem" if c == 0 else "not_problem" for c in y], ("not_problem", "problem")
    )
    category = fit_logistic_head(x, [CATEGORIES[c] for c in y], CATEGORIES)
    sentiment = fit_logistic_head(
        x, [("negative", "neutral", "positive")[c] for c in y], ("negative", "neutral", "positive")
    )
    return ModelArtifact(version, problem, category, sentiment, 0.5, {"features": "layer-pools"})


class CountingLayerEncoder(CountingEncoder):
    """Fake layer-pool backend: layer ``k`` of a text is a unit vector at ``(len(text) + k) % 384``;
    the last layer equals what ``encode_batch`` gives."""

    name = "fake-layers"

    def encode_layers(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        pools = np.zeros((len(texts), 6, 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for layer in range(6):
                pools[row, layer, (len(text) + layer - 5) % 384] = 1.0
        return pools


def mixed_artifact(version: str = "m1") -> ModelArtifact:
    """Problem and category heads of :func:`tiny_artifact` on the embedding, the sentiment head of
    :func:`tiny_layer_pool_artifact` on layer pools: v3's layout."""
    embedding_heads, pool_heads = tiny_artifact(version), tiny_layer_pool_artifact(version)
    features = {"problem": "embedding", "category": "embedding", "sentiment": "layer-pools"}
    return ModelArtifact(
        version,
        embedding_heads.problem,
        embedding_heads.category,
        pool_heads.sentiment,
        0.5,
        {"features": features},
    )
