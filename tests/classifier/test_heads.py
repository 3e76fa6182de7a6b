"""Heads fitted on generated embeddings: learning, calibration, numpy inference."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.heads import DenseHead, calibrate_binary, fit_logistic_head, fit_mlp_head
from tests.classifier.factories import mlp_head, separable_embeddings


def test_logistic_head_separates_generated_classes() -> None:
    x, y = separable_embeddings(40, 3)
    labels = ("red", "green", "blue")
    head = fit_logistic_head(x, [labels[c] for c in y], labels)
    assert sum(p == labels[c] for p, c in zip(head.predict(x), y, strict=True)) / len(y) > 0.95
    assert np.allclose(head.predict_proba(x).sum(axis=1), 1.0, atol=1e-5)


def test_binary_head_matches_sigmoid_and_keeps_label_order() -> None:
    x, y = separable_embeddings(40, 2)
    head = fit_logistic_head(x, ["yes" if c else "no" for c in y], ("no", "yes"))
    logits = head.logits(x)
    sigmoid = 1 / (1 + np.exp(-(logits[:, 1] - logits[:, 0])))
    assert np.allclose(head.predict_proba(x)[:, 1], sigmoid, atol=1e-5)
    assert head.predict(x[:1]) == ["yes" if y[0] else "no"]


def test_label_missing_from_training_data_is_never_predicted() -> None:
    x, y = separable_embeddings(20, 2)
    head = fit_logistic_head(x, [("a", "b")[c] for c in y], ("a", "b", "never"))
    assert "never" not in head.predict(x)


def test_calibration_on_held_out_data_tames_an_overconfident_head() -> None:
    rng = np.random.default_rng(3)
    x, y = separable_embeddings(300, 2, seed=3)
    noisy = [c if rng.random() > 0.2 else 1 - c for c in y]  # 20 % label noise: honest confidence ~0.8
    targets = ["yes" if c else "no" for c in noisy]
    order = rng.permutation(len(y))
    fit_rows, held_out = order[: len(y) // 2], order[len(y) // 2 :]
    overconfident = fit_logistic_head(x[fit_rows], [targets[i] for i in fit_rows], ("no", "yes"), 1000.0)
    calibrated = calibrate_binary(overconfident, x[held_out], [targets[i] for i in held_out])
    assert calibrated.temperature > 1.0
    truth = np.array([noisy[i] for i in held_out])
    correct = (calibrated.predict_proba(x[held_out])[:, 1] >= 0.5) == truth
    raw_gap = abs(overconfident.predict_proba(x[held_out]).max(axis=1).mean() - correct.mean())
    calibrated_gap = abs(calibrated.predict_proba(x[held_out]).max(axis=1).mean() - correct.mean())
    assert calibrated_gap < 0.05 < raw_gap


def test_calibration_refuses_multiclass_heads() -> None:
    x, y = separable_embeddings(10, 3)
    head = fit_logistic_head(x, [str(c) for c in y], ("0", "1", "2"))
    with pytest.raises(ValueError, match="two-label"):
        calibrate_binary(head, x, [str(c) for c in y])


def test_dense_head_applies_relu_between_layers() -> None:
    head: DenseHead = mlp_head()
    x, _ = separable_embeddings(5, 1)
    (w1, b1), (w2, b2) = head.layers
    expected = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    assert np.allclose(head.logits(x), expected, atol=1e-4)


def test_mlp_head_is_reproducible_and_learns() -> None:
    x, y = separable_embeddings(30, 2, seed=5)
    targets = ["yes" if c else "no" for c in y]
    first = fit_mlp_head(x, targets, ("no", "yes"), hidden=32, epochs=40, seed=3)
    second = fit_mlp_head(x, targets, ("no", "yes"), hidden=32, epochs=40, seed=3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first.layers, second.layers, strict=True))
    assert sum(p == t for p, t in zip(first.predict(x), targets, strict=True)) / len(targets) > 0.9
