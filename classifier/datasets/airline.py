"""airline_sentiment_2015: tweets to US airlines with sentiment and, for negatives, a reason.

Dedup by tweet id first (155 ids repeat; repeats with different labels are dropped), then by normalised
text. ``label`` is ``<sentiment>`` or ``negative:<reason>`` so the problem/category mapping can use both.
No split exists in the source: by text hash.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, deduplicate, hash_split, normalize_for_dedup, read_rows

NAME = "airline_sentiment_2015"


def load_airline() -> list[LabelledText]:
    """Deduplicated tweets with ``label`` = sentiment or ``negative:<negativereason>``."""
    by_id: dict[str, list[LabelledText]] = {}
    for row in read_rows(NAME):
        reason = row["negativereason"].strip()
        label = f"negative:{reason}" if row["label"] == "negative" and reason else row["label"]
        record = LabelledText(
            row["id"], row["text"], label, "", NAME, {"created_at": row["created_at"], "airline": row["app"]}
        )
        by_id.setdefault(row["id"], []).append(record)
    unique_ids = [group[0] for group in by_id.values() if len({r.label for r in group}) == 1]
    return [
        LabelledText(r.id, r.text, r.label, hash_split(normalize_for_dedup(r.text)), NAME, r.extra)
        for r in deduplicate(unique_ids)
    ]
