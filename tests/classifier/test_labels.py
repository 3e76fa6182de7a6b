"""The dataset -> problem/category mapping follows the documented definition."""

from __future__ import annotations

import pytest

from classifier.labels import (
    AIRLINE_REASON_CATEGORIES,
    BANKING77_PROBLEMS,
    CATEGORIES,
    problem_category,
    problem_label,
)


@pytest.mark.parametrize(
    ("dataset", "label", "expected"),
    [
        ("banking77", "card_not_working", True),
        ("banking77", "declined_card_payment", True),
        ("banking77", "transfer_not_received_by_recipient", True),
        ("banking77", "top_up_failed", True),
        ("banking77", "card_delivery_estimate", False),
        ("banking77", "exchange_rate", False),
        ("banking77", "lost_or_stolen_card", False),
        ("banking77", "transfer_fee_charged", None),
        ("nlbse24_issue_reports", "bug", True),
        ("nlbse24_issue_reports", "feature", False),
        ("nlbse24_issue_reports", "question", False),
        ("maalej2016_app_reviews", "Bug", True),
        ("maalej2016_app_reviews", "Bug|Rating", True),
        ("maalej2016_app_reviews", "Feature|Rating", False),
        ("maalej2016_app_reviews", "Rating", False),
        ("airline_sentiment_2015", "negative:Late Flight", True),
        ("airline_sentiment_2015", "negative:Can't Tell", None),
        ("airline_sentiment_2015", "neutral", False),
        ("airline_sentiment_2015", "positive", False),
        ("sanders_tech_tweets", "irrelevant", False),
        ("sanders_tech_tweets", "negative", None),
        ("semeval2017_task4a_devdata", "negative", False),
        ("tizard2019_forum_sentences", "apparent bug", True),
        ("tizard2019_forum_sentences", "feature request", False),
        ("tizard2019_forum_sentences", "praise application", False),
        ("tizard2019_forum_sentences", "help seeking", None),
    ],
)
def test_problem_label(dataset: str, label: str, expected: bool | None) -> None:
    assert problem_label(dataset, label) is expected


def test_generic_negative_chatter_is_never_a_problem() -> None:
    assert problem_label("semeval2017_task4a_devdata", "negative") is False
    assert problem_category("semeval2017_task4a_devdata", "negative") is None


def test_every_mapped_category_is_in_the_taxonomy() -> None:
    used = set(BANKING77_PROBLEMS.values()) | set(AIRLINE_REASON_CATEGORIES.values()) | {"app_malfunction"}
    assert used <= set(CATEGORIES)


@pytest.mark.parametrize(
    ("dataset", "label", "category"),
    [
        ("banking77", "declined_card_payment", "payment"),
        ("banking77", "pin_blocked", "account_access"),
        ("airline_sentiment_2015", "negative:Cancelled Flight", "delay_or_cancellation"),
        ("airline_sentiment_2015", "negative:Lost Luggage", "lost_or_damaged"),
        ("nlbse24_issue_reports", "bug", "app_malfunction"),
        ("banking77", "exchange_rate", None),
    ],
)
def test_problem_category(dataset: str, label: str, category: str | None) -> None:
    assert problem_category(dataset, label) == category


def test_unknown_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="no problem-report mapping"):
        problem_label("no_such_set", "bug")
