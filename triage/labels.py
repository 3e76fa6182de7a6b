"""A cluster's label in customer words: its most distinctive terms.

Class-based TF-IDF: a term scores high when it is frequent in this cluster
and rare across all clusters' text (the background), so "declined" beats
"card" when every cluster mentions cards.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z][a-z0-9'\-]{2,}")
_STOPWORDS = frozenset(
    """
    the and for that this with have has had was were are but not you your our they them their what
    when where which who why how can cant can't could would should will just been being from into
    out about there here than then its it's i'm i've im ive dont don't didn't doesnt doesn't isnt
    isn't wont won't also get got still any all some one two very really now today yesterday please
    help thanks thank hi hello again why my me we us he she his her him it is am be do did does so
    if or on in at to of a an as by no yes
    """.split()  # noqa: SIM905
)


def terms(text: str) -> list[str]:
    return [
        word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS and not word.startswith("http")
    ]


class BackgroundTerms:
    """Document frequencies of terms over all problem reports seen, for the IDF part."""

    def __init__(self) -> None:
        self.documents = 0
        self.frequency: Counter[str] = Counter()

    def add(self, text: str) -> None:
        self.documents += 1
        self.frequency.update(set(terms(text)))

    def distinctive_terms(self, texts: Iterable[str], limit: int = 4) -> list[str]:
        counts: Counter[str] = Counter()
        size = 0
        for text in texts:
            counts.update(set(terms(text)))
            size += 1
        if not counts:
            return []
        scored = {
            term: (count / size) * math.log(1 + (self.documents + 1) / (self.frequency[term] + 1))
            for term, count in counts.items()
            if count >= 2 or size < 3
        }
        return [term for term, _ in sorted(scored.items(), key=lambda item: (-item[1], item[0]))[:limit]]


def label_for(distinctive: Sequence[str], representative_text: str) -> str:
    if distinctive:
        return " / ".join(distinctive)
    return representative_text[:60]
