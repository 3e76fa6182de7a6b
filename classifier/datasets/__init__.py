"""Loaders for the labelled public datasets in ``../shared/datasets`` (never copied into the repo).

Each loader returns deduplicated :class:`LabelledText` records with a leak-free ``split``.
"""

from classifier.datasets.airline import load_airline
from classifier.datasets.banking77 import load_banking77
from classifier.datasets.common import LabelledText
from classifier.datasets.maalej2016 import load_maalej2016
from classifier.datasets.nlbse24 import load_nlbse24
from classifier.datasets.sanders import load_sanders
from classifier.datasets.sentiment import load_semeval_pool, load_tweeteval
from classifier.datasets.tizard2019 import load_tizard2019

__all__ = [
    "LabelledText",
    "load_airline",
    "load_banking77",
    "load_maalej2016",
    "load_nlbse24",
    "load_sanders",
    "load_semeval_pool",
    "load_tizard2019",
    "load_tweeteval",
]
