"""tizard2019: support-forum sentences (VLC, Firefox) labelled with feedback types.

Uses ``label_normalized`` (lower-cased) with one more fold: the single ``ig - uncertain`` spelling becomes
``ig-uncertain``. The four junk labels that are text fragments are dropped (README caveat). Dedup drops
sentences whose copies disagree ("Thanks." recurs with several labels). No split: by text hash.
"""

from __future__ import annotations

from classifier.datasets.common import LabelledText, deduplicate, hash_split, normalize_for_dedup, read_rows

NAME = "tizard2019_forum_sentences"
JUNK_LABELS = frozenset(
    {"and remove cookies warning !", "and remove cookies", "remove", "continued from previous"}
)


def load_tizard2019() -> list[LabelledText]:
    """Deduplicated sentences with normalised labels, junk labels removed."""
    candidates = []
    for row in read_rows(NAME):
        label = row["label_normalized"].strip().replace("ig - uncertain", "ig-uncertain")
        if label in JUNK_LABELS:
            continue
        candidates.append(LabelledText(row["id"], row["text"], label, "", NAME, {"app": row["app"]}))
    return [
        LabelledText(r.id, r.text, r.label, hash_split(normalize_for_dedup(r.text)), NAME, r.extra)
        for r in deduplicate(candidates)
    ]
