"""TF-IDF + logistic regression baselines, trained in the same run as the figures they sit beside.

A word/bigram TF-IDF model is the honest yardstick for "does the sentence encoder earn its cost": it is
cheap, strong on in-domain text with telltale words ("crash", "declined") and weak across domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class TfidfClassifier:
    """A fitted vectoriser and logistic regression; ``labels`` order matches ``predict_proba`` columns."""

    vectorizer: Any
    model: Any
    labels: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in ``labels`` order."""
        return np.asarray(self.model.predict_proba(self.vectorizer.transform(list(texts))))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Most probable label per text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


def fit_tfidf_classifier(
    texts: Sequence[str],
    targets: Sequence[str],
    sample_weight: np.ndarray | None = None,
    class_weight: str | None = None,
    regularization: float = 4.0,
) -> TfidfClassifier:
    """Word 1-2-gram TF-IDF (sublinear tf, min_df 2) + L2 logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
    features = vectorizer.fit_transform(list(texts))
    model = LogisticRegression(C=regularization, max_iter=3000, class_weight=class_weight)
    model.fit(features, list(targets), sample_weight=sample_weight)
    return TfidfClassifier(vectorizer, model, tuple(str(label) for label in model.classes_))
