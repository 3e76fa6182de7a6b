"""Training steps on generated examples, and a whole small run with a fake encoder (no model load)."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from classifier import embedding_cache
from classifier.artifact import load_artifact
from classifier.paths import ARTIFACTS_DIR
from classifier.training.data import ProblemExamples
from classifier.training.model_card import reproduce_flags
from classifier.training.train import (
    TrainingOptions,
    _dataset_weights,
    train_artifact,
    train_problem_and_category,
)
from tests.classifier.conftest import requires_shared
from tests.classifier.factories import separable_embeddings


def examples(split: str, seed: int) -> list[ProblemExamples]:
    """Two generated 'datasets': class 0 = payment problems, 1 = app problems, 2 = chatter."""
    x, y = separable_embeddings(40, 3, seed=0)
    rng = np.random.default_rng(seed)
    x = x + 0.01 * rng.normal(size=x.shape).astype(np.float32)
    categories = [("payment", "app_malfunction", None)[c] for c in y]
    parts = []
    for name, rows in (
        ("bank", [i for i, c in enumerate(y) if c != 1]),
        ("apps", [i for i, c in enumerate(y) if c != 0]),
    ):
        parts.append(
            ProblemExamples(
                dataset=name,
                split=split,
                texts=[f"post {i}" for i in rows],
                labels=[str(y[i]) for i in rows],
                embeddings=x[rows],
                is_problem=[y[i] != 2 for i in rows],
                categories=[categories[i] for i in rows],
            )
        )
    return parts


@pytest.mark.parametrize("head", ["logistic", "mlp"])
def test_problem_and_category_heads_learn_and_report_per_dataset(head: str) -> None:
    data = examples("train", 1) + examples("validation", 2) + examples("test", 3)
    options = TrainingOptions(problem_c_grid=(1.0,), problem_head=head, mlp_hidden=16, mlp_epochs=10)
    problem, category, metrics = train_problem_and_category(data, options)
    assert set(metrics["test"]) == {"bank", "apps"}
    assert all(scores["f1"] > 0.9 for scores in metrics["test"].values())
    assert metrics["test"]["bank"]["category_accuracy"] > 0.9
    assert problem.labels == ("not_problem", "problem")
    assert problem.temperature != 1.0  # calibrated on validation
    assert "payment" in category.labels


def test_dataset_weights_balance_datasets() -> None:
    names = ["big"] * 90 + ["small"] * 10
    equal = _dataset_weights(names, "equal")
    assert equal[:90].sum() == pytest.approx(equal[90:].sum())
    assert equal.mean() == pytest.approx(1.0)
    sqrt = _dataset_weights(names, "sqrt")
    assert sqrt[:90].sum() / sqrt[90:].sum() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="unknown dataset weighting"):
        _dataset_weights(names, "none")


def test_model_card_reproduce_flags() -> None:
    assert reproduce_flags({"problem_head": "mlp", "dataset_weighting": "equal"}) == ""
    assert reproduce_flags({"seed": 13}) == " --problem-head logistic --dataset-weighting sqrt"
    assert reproduce_flags({"features": "layer-pools", "problem_heads_from": "v2"}) == (
        " --problem-head logistic --dataset-weighting sqrt --features layer-pools --problem-heads-from v2"
    )


class BagOfWordsLayers:
    """Fake layer-pool encoder that still carries the texts' words (a random vector per word, summed),
    so heads trained on it find the labels' signal; layer k is the same vector rolled by k."""

    name = "bag-of-words"
    batch_size = 64

    def encode_layers(self, texts: list[str]) -> np.ndarray:
        pools = np.zeros((len(texts), 6, 384), dtype=np.float32)
        for row, text in enumerate(texts):
            vector = np.zeros(384, dtype=np.float32)
            for word in text.lower().split():
                vector += np.random.default_rng(zlib.crc32(word.encode())).normal(size=384)
            vector /= max(float(np.linalg.norm(vector)), 1e-9)
            for layer in range(6):
                pools[row, layer] = np.roll(vector, layer - 5)
        return pools

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.encode_layers(texts)[:, -1]


@requires_shared
def test_a_version_with_a_sentiment_head_on_layer_pools_beside_kept_problem_heads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding_cache, "cache_dir", lambda: tmp_path / "cache")  # fake vectors stay here
    root = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS_DIR / "v2", root / "v2")
    options = TrainingOptions(
        features="layer-pools", problem_heads_from="v2", sentiment_sample=300, max_per_split=30
    )
    report = train_artifact(root, "v9", options, encoder=BagOfWordsLayers)
    artifact, v2 = load_artifact(report.artifact_dir), load_artifact(root / "v2")
    assert artifact.manifest["features"] == {
        "problem": "embedding",
        "category": "embedding",
        "sentiment": "layer-pools",
    }
    for head in ("problem", "category"):  # kept bit for bit: problem decisions and clustering do not move
        for (weight, bias), (kept_weight, kept_bias) in zip(
            getattr(artifact, head).layers, getattr(v2, head).layers, strict=True
        ):
            np.testing.assert_array_equal(weight, kept_weight)
            np.testing.assert_array_equal(bias, kept_bias)
    assert artifact.sentiment.layers[0][0].shape[1] == 6 * 384
    assert artifact.manifest["metrics"]["problem"]["heads_from"] == "v2"
    card = (report.artifact_dir / "MODEL_CARD.md").read_text()
    assert "Sentiment on the masked mean pools of all six transformer layers" in card
    assert "--features layer-pools --problem-heads-from v2" in card and "- Serving:" in card
    assert "the heads of v2, kept unchanged" in card
    cached = sorted(path.name for path in (tmp_path / "cache" / "embeddings").iterdir())
    assert cached == ["semeval2017_task4a_devdata.layer-pools.npz", "tweeteval_sentiment.layer-pools.npz"]
    with pytest.raises(ValueError, match="cannot be kept"):
        train_artifact(root, "v10", options, encoder=BagOfWordsLayers, reviewed=object())  # type: ignore[arg-type]
