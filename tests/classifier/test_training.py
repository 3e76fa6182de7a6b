"""The problem/category training step on generated examples (no datasets, no encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.training.data import ProblemExamples
from classifier.training.model_card import reproduce_flags
from classifier.training.train import TrainingOptions, _dataset_weights, train_problem_and_category
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
