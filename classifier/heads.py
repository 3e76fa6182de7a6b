"""Small classification heads over frozen, normalised sentence embeddings, and how they are fitted.

Inference is plain numpy (a few matrix products), so the service needs no scikit-learn or autograd at run
time and a head is a handful of arrays in the artifact. Fitting uses scikit-learn's L-BFGS logistic
regression, which is deterministic on CPU for a given input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DenseHead:
    """Dense layers with ReLU between them, then softmax over ``labels``.

    ``temperature`` and ``logit_bias`` are the post-hoc calibration (Platt scaling for the binary head,
    prior shift for sentiment); they are applied to the final logits before the softmax.
    """

    labels: tuple[str, ...]
    layers: list[tuple[np.ndarray, np.ndarray]]
    temperature: float = 1.0
    logit_bias: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """Raw final-layer logits, shape (n, len(labels))."""
        hidden = np.asarray(embeddings, dtype=np.float32)
        for index, (weight, bias) in enumerate(self.layers):
            hidden = hidden @ weight.T + bias
            if index < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        return hidden

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, shape (n, len(labels))."""
        logits = self.logits(embeddings) / self.temperature
        if self.logit_bias.size:
            logits = logits + self.logit_bias
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, embeddings: np.ndarray) -> list[str]:
        """Most probable label per row."""
        return [self.labels[index] for index in self.predict_proba(embeddings).argmax(axis=1)]


def fit_logistic_head(
    embeddings: np.ndarray,
    targets: Sequence[str],
    labels: Sequence[str],
    regularization: float = 1.0,
    sample_weight: np.ndarray | None = None,
    class_weight: str | None = None,
) -> DenseHead:
    """Multinomial (or binary) logistic regression as a one-layer :class:`DenseHead`.

    ``regularization`` is scikit-learn's ``C`` (inverse L2 strength). For two labels the single binary
    weight vector ``w`` becomes rows ``[0, w]`` so that the softmax equals the logistic sigmoid.
    """
    from sklearn.linear_model import LogisticRegression

    label_list = list(labels)
    index = {label: position for position, label in enumerate(label_list)}
    y = np.array([index[target] for target in targets])
    model = LogisticRegression(C=regularization, max_iter=2000, class_weight=class_weight)
    model.fit(embeddings, y, sample_weight=sample_weight)
    present = list(model.classes_)
    dim = embeddings.shape[1]
    weight = np.zeros((len(label_list), dim), dtype=np.float32)
    bias = np.full(len(label_list), -30.0, dtype=np.float32)  # labels absent from the data: never chosen
    if len(present) == 2:
        weight[present[1]] = model.coef_[0]
        bias[present[0]], bias[present[1]] = 0.0, model.intercept_[0]
    else:
        for row, label_index in enumerate(present):
            weight[label_index] = model.coef_[row]
            bias[label_index] = model.intercept_[row]
    return DenseHead(tuple(label_list), [(weight, bias)])


def calibrate_binary(head: DenseHead, embeddings: np.ndarray, targets: Sequence[str]) -> DenseHead:
    """Platt scaling of a two-label head on held-out data: fits ``sigmoid(a * margin + c)``.

    Needed because training mixes datasets with very different problem rates (banking77 is half problems,
    general tweets none), so raw probabilities reflect the training mixture, not any real stream.
    """
    from sklearn.linear_model import LogisticRegression

    if len(head.labels) != 2:
        raise ValueError("calibrate_binary needs a two-label head")
    logits = head.logits(embeddings)
    margin = (logits[:, 1] - logits[:, 0]).reshape(-1, 1)
    y = np.array([1 if target == head.labels[1] else 0 for target in targets])
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(margin, y)
    slope, intercept = float(platt.coef_[0][0]), float(platt.intercept_[0])
    if slope <= 0:
        raise ValueError("calibration found no positive relation between head margin and labels")
    return DenseHead(head.labels, head.layers, 1.0 / slope, np.array([0.0, intercept], dtype=np.float32))
