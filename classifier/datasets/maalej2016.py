"""maalej2016: app-store reviews labelled Bug / Feature / UserExperience / Rating (multi-label by file).

A review text may sit in several label files. After dedup by normalised text the record carries every
label it had, joined in ``label`` by ``|`` in a fixed order (e.g. ``Bug|Rating``); :mod:`classifier.labels`
counts a text as a problem report when ``Bug`` is among them. The text is the review body (what
the dedup key covers); the title is kept in ``extra``. No split exists: test/validation/train by hash.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, hash_split, normalize_for_dedup, read_rows

NAME = "maalej2016_app_reviews"
LABEL_ORDER = ("Bug", "Feature", "UserExperience", "Rating")


def load_maalej2016() -> list[LabelledText]:
    """One record per distinct review text with all of its labels; empty texts dropped."""
    labels: dict[str, set[str]] = {}
    first: dict[str, dict[str, str]] = {}
    for row in read_rows(NAME):
        key = normalize_for_dedup(row["text"])
        if not key:
            continue
        labels.setdefault(key, set()).add(row["label"])
        first.setdefault(key, row)
    records = []
    for key, row in first.items():
        joined = "|".join(label for label in LABEL_ORDER if label in labels[key])
        extra = {"rating": row["rating"], "title": row["title"]}
        records.append(LabelledText(row["id"], row["text"].strip(), joined, hash_split(key), NAME, extra))
    return records
