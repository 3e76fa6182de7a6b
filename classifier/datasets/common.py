"""Shared pieces of the dataset loaders: the record type, CSV reading, text normalisation, dedup, splits.

Every loader deduplicates by :func:`normalize_for_dedup` *before* any split is made, and splits that the
source does not fix are made by a hash of that normalised text, so the same text always lands in the same
split whatever the seed or the order of rows (no leakage through near-identical retweets or repeated reviews).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from classifier.paths import dataset_csv

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class LabelledText:
    """One deduplicated, labelled text from a shared dataset.

    ``label`` is the dataset's own label (verbatim or aggregated as the loader documents); the mapping to
    problem/category/sentiment lives in :mod:`classifier.labels`. ``split`` is train, validation or test.
    """

    id: str
    text: str
    label: str
    split: str
    dataset: str
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def read_rows(name: str) -> Iterator[dict[str, str]]:
    """Rows of ``<shared>/datasets/<name>/data.csv`` as dicts (long issue bodies need a big field limit)."""
    csv.field_size_limit(10**8)
    with dataset_csv(name).open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def decode_escapes(text: str) -> str:
    r"""Turn literal ``\u2019``-style escapes (present in the SemEval/TweetEval files) into characters.

    Live tweets arrive with real characters, so the model must see the decoded form in training too.
    """
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


def normalize_for_dedup(text: str) -> str:
    """Key under which two texts count as the same post: lower-cased words, no mentions/URLs/escapes."""
    text = _URL.sub(" ", _MENTION.sub(" ", decode_escapes(text).lower()))
    return " ".join(_WORD.findall(text))


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` alone; used for seed-independent, order-independent splits."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(normalized: str, test_fraction: float = 0.2, validation_fraction: float = 0.1) -> str:
    """``test`` / ``validation`` / ``train`` by hash of the normalised text (see module docstring)."""
    value = stable_fraction(normalized)
    if value < test_fraction:
        return "test"
    if value < test_fraction + validation_fraction:
        return "validation"
    return "train"


def deduplicate(
    records: Iterable[LabelledText],
    resolve: Callable[[list[LabelledText]], LabelledText | None] | None = None,
) -> list[LabelledText]:
    """Keep one record per normalised text, in first-seen order.

    ``resolve`` picks the survivor of a group of same-text records (``None`` drops the group); the default
    keeps the first record when all labels agree and drops texts whose copies disagree, since such rows
    are label noise whichever copy is kept. Empty texts are dropped.
    """
    groups: dict[str, list[LabelledText]] = {}
    for record in records:
        key = normalize_for_dedup(record.text)
        if key:
            groups.setdefault(key, []).append(record)
    chooser = resolve or drop_conflicting_labels
    kept = [chooser(group) for group in groups.values()]
    return [record for record in kept if record is not None]


def drop_conflicting_labels(group: list[LabelledText]) -> LabelledText | None:
    """Default dedup resolution: first copy if every copy has the same label, else drop the text."""
    return group[0] if len({record.label for record in group}) == 1 else None
