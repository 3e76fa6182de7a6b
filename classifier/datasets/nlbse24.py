"""nlbse24: GitHub issues (title + body) labelled bug / feature / question, with a fixed split.

Dedup happens across both splits first; a test text that also occurs in train (3 in the source) stays in
test and its train copy is dropped, so test is never trained on. 10 % of train (by hash) is validation.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, hash_split, normalize_for_dedup, read_rows

NAME = "nlbse24_issue_reports"


def load_nlbse24() -> list[LabelledText]:
    """Deduplicated issues; conflicting duplicates are dropped, test copies win over train copies."""
    rows = [
        LabelledText(row["id"], row["text"], row["label"], row["split"], NAME, {"app": row["app"]})
        for row in read_rows(NAME)
    ]
    groups: dict[str, list[LabelledText]] = {}
    for record in rows:
        groups.setdefault(normalize_for_dedup(record.text), []).append(record)
    kept: list[LabelledText] = []
    for key, group in groups.items():
        if not key or len({record.label for record in group}) > 1:
            continue
        record = next((r for r in group if r.split == "test"), group[0])
        if record.split == "train" and hash_split(key, 0.0, 0.1) == "validation":
            record = LabelledText(record.id, record.text, record.label, "validation", NAME, record.extra)
        kept.append(record)
    return kept
