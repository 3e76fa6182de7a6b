"""sanders_tech_tweets: tweets naming Apple/Google/Microsoft/Twitter, labelled by sentiment or ``irrelevant``.

``irrelevant`` (off-topic or non-English) is the natural noise class for a relevance filter. No split in
the source: by text hash after dedup.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, deduplicate, hash_split, normalize_for_dedup, read_rows

NAME = "sanders_tech_tweets"


def load_sanders() -> list[LabelledText]:
    """Deduplicated tweets with the verbatim sentiment/relevance label."""
    records = deduplicate(
        LabelledText(row["id"], row["text"], row["label"], "", NAME, {"topic": row["app"]})
        for row in read_rows(NAME)
    )
    return [
        LabelledText(r.id, r.text, r.label, hash_split(normalize_for_dedup(r.text)), NAME, r.extra)
        for r in records
    ]
