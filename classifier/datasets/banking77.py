"""banking77: short banking-app support queries with 77 intents and the authors' fixed train/test split.

The source has no duplicates, but the loader still deduplicates (cheap, and keeps the contract uniform).
A ``validation`` slice is carved from ``train`` by text hash for calibration; ``test`` is untouched.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, deduplicate, hash_split, normalize_for_dedup, read_rows

NAME = "banking77"


def load_banking77() -> list[LabelledText]:
    """Deduplicated rows; split is ``train``/``validation`` (10 % of train by hash) or ``test``."""
    records = deduplicate(
        LabelledText(row["id"], row["text"], row["label"], row["split"], NAME) for row in read_rows(NAME)
    )
    return [_with_validation(record) for record in records]


def _with_validation(record: LabelledText) -> LabelledText:
    if record.split != "train":
        return record
    in_validation = hash_split(normalize_for_dedup(record.text), 0.0, 0.1) == "validation"
    if not in_validation:
        return record
    return LabelledText(record.id, record.text, record.label, "validation", record.dataset, record.extra)
