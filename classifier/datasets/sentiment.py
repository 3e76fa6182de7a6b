"""Sentiment data: the SemEval 2013-2016 training pool and the TweetEval validation/test benchmark.

TweetEval's own train text is missing from the shared snapshot, so the head trains on the SemEval pool
it was drawn from. Hygiene (see both READMEs): pool rows flagged ``in_tweeteval_validation`` or
``in_tweeteval_test`` are dropped, and so is any pool row whose normalised text equals *any* TweetEval
validation or test text (the flag is only a prefix match). TweetEval splits are kept whole and
un-deduplicated so the reported macro recall is comparable with published figures.
"""

from __future__ import annotations

from classifier.datasets.common import (
    LabelledText,
    decode_escapes,
    deduplicate,
    normalize_for_dedup,
    read_rows,
)

SEMEVAL = "semeval2017_task4a_devdata"
TWEETEVAL = "tweeteval_sentiment"
SENTIMENT_LABELS = ("negative", "neutral", "positive")


def load_tweeteval(split: str) -> list[LabelledText]:
    """TweetEval sentiment ``validation`` or ``test`` rows, escapes decoded, in file order."""
    if split not in ("validation", "test"):
        raise ValueError(f"TweetEval sentiment has only validation and test text here, not {split!r}")
    return [
        LabelledText(row["id"], decode_escapes(row["text"]), row["label"], split, TWEETEVAL)
        for row in read_rows(TWEETEVAL)
        if row["split"] == split
    ]


def load_semeval_pool() -> list[LabelledText]:
    """The deduplicated SemEval pool minus anything that overlaps TweetEval validation or test."""
    benchmark_keys = {
        normalize_for_dedup(record.text)
        for split in ("validation", "test")
        for record in load_tweeteval(split)
    }
    candidates = (
        LabelledText(
            row["id"],
            decode_escapes(row["text"]),
            row["label"],
            "train",
            SEMEVAL,
            {"original_split": row["split"]},
        )
        for row in read_rows(SEMEVAL)
        if row["in_tweeteval_validation"] != "1" and row["in_tweeteval_test"] != "1"
    )
    return [
        record for record in deduplicate(candidates) if normalize_for_dedup(record.text) not in benchmark_keys
    ]
