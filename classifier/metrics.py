"""Evaluation metrics used by training reports, the model card and the benchmarks (no sklearn needed)."""

from __future__ import annotations

from collections.abc import Sequence


def macro_recall(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """Mean per-class recall over ``labels`` (TweetEval's official sentiment metric)."""
    recalls = []
    for label in labels:
        relevant = [p for t, p in zip(truth, predicted, strict=True) if t == label]
        if relevant:
            recalls.append(sum(p == label for p in relevant) / len(relevant))
    return sum(recalls) / len(recalls) if recalls else 0.0


def binary_scores(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """Precision, recall, F1 of the positive class, plus accuracy and the counts behind them."""
    pairs = list(zip(truth, predicted, strict=True))
    true_pos = sum(t and p for t, p in pairs)
    false_pos = sum((not t) and p for t, p in pairs)
    false_neg = sum(t and not p for t, p in pairs)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
        "positives": float(sum(truth)),
        "n": float(len(pairs)),
        "flagged_rate": (true_pos + false_pos) / len(pairs) if pairs else 0.0,
    }


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of per-class F1 over the labels present in ``truth``."""
    scores = []
    for label in labels:
        if label not in truth:
            continue
        result = binary_scores([t == label for t in truth], [p == label for p in predicted])
        scores.append(result["f1"])
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact matches."""
    pairs = list(zip(truth, predicted, strict=True))
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
