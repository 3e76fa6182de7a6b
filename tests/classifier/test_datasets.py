"""Loaders over ../shared/datasets: dedup before split, fixed splits kept, no benchmark leakage."""

from __future__ import annotations

from collections import Counter

import pytest

from classifier.datasets import (
    load_airline,
    load_banking77,
    load_maalej2016,
    load_nlbse24,
    load_sanders,
    load_semeval_pool,
    load_tizard2019,
    load_tweeteval,
)
from classifier.datasets.common import normalize_for_dedup
from tests.classifier.conftest import requires_shared

pytestmark = requires_shared


def test_sentiment_train_pool_shares_no_text_with_tweeteval() -> None:
    pool = {normalize_for_dedup(r.text) for r in load_semeval_pool()}
    for split in ("validation", "test"):
        benchmark = {normalize_for_dedup(r.text) for r in load_tweeteval(split)}
        assert not pool & benchmark, f"SemEval pool overlaps TweetEval {split}"


def test_tweeteval_splits_are_kept_whole() -> None:
    assert len(load_tweeteval("validation")) == 2000
    assert len(load_tweeteval("test")) == 12284
    with pytest.raises(ValueError, match="only validation and test"):
        load_tweeteval("train")


@pytest.mark.parametrize(
    "loader",
    [
        load_airline,
        load_banking77,
        load_maalej2016,
        load_nlbse24,
        load_sanders,
        load_tizard2019,
        load_semeval_pool,
    ],
)
def test_each_text_occurs_once_so_no_split_leaks(loader) -> None:  # type: ignore[no-untyped-def]
    records = loader()
    keys = Counter(normalize_for_dedup(r.text) for r in records)
    assert keys.most_common(1)[0][1] == 1
    assert {r.split for r in records} <= {"train", "validation", "test"}


def test_fixed_splits_are_respected() -> None:
    banking = load_banking77()
    assert all(r.id.startswith("test-") == (r.split == "test") for r in banking)
    issues = load_nlbse24()
    assert all(r.id.startswith("test-") == (r.split == "test") for r in issues)


def test_maalej_keeps_every_label_of_a_multi_label_review() -> None:
    labels = Counter(r.label for r in load_maalej2016())
    assert any("|" in label for label in labels)
    assert all(label.split("|")[0] in {"Bug", "Feature", "UserExperience", "Rating"} for label in labels)


def test_tizard_junk_labels_are_gone() -> None:
    assert not {"remove", "continued from previous"} & {r.label for r in load_tizard2019()}
