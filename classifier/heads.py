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


def fit_mlp_head(
    embeddings: np.ndarray,
    targets: Sequence[str],
    labels: Sequence[str],
    hidden: int = 256,
    epochs: int = 40,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    dropout: float = 0.2,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> DenseHead:
    """One-hidden-layer ReLU network trained with AdamW on weighted cross-entropy; CPU-deterministic.

    Why an MLP: the problem head serves several domains at once (banking queries, issue reports, airline
    tweets), and "not working" looks different in each; one hidden layer lets the head draw a different
    boundary per region of the embedding space, which a single hyperplane cannot.
    """
    import torch

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    label_list = list(labels)
    index = {label: position for position, label in enumerate(label_list)}
    x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
    y = torch.tensor([index[target] for target in targets], dtype=torch.long)
    weights = (
        torch.ones(len(y)) if sample_weight is None else torch.from_numpy(sample_weight.astype(np.float32))
    )
    first = torch.nn.Linear(x.shape[1], hidden)
    second = torch.nn.Linear(hidden, len(label_list))
    network = torch.nn.Sequential(
        torch.nn.Dropout(dropout), first, torch.nn.ReLU(), torch.nn.Dropout(dropout), second
    )
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    network.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            rows = order[start : start + batch_size]
            losses = torch.nn.functional.cross_entropy(network(x[rows]), y[rows], reduction="none")
            loss = (losses * weights[rows]).sum() / weights[rows].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    return DenseHead(
        tuple(label_list),
        [
            (first.weight.detach().numpy().copy(), first.bias.detach().numpy().copy()),
            (second.weight.detach().numpy().copy(), second.bias.detach().numpy().copy()),
        ],
    )
