"""Assembles the problem-report and category examples from every dataset, with embeddings.

Model inputs are :func:`classifier.text.prepare_text` of each record's text, and embeddings come from the
git-ignored cache (pool = dataset name), so this module is cheap on a rerun. General-domain tweets from
the SemEval pool serve as problem-report *negatives*; they are split by text hash like the other sets
without a fixed split, and only a seeded sample of their train part is used.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from classifier.datasets import (
    LabelledText,
    load_airline,
    load_banking77,
    load_maalej2016,
    load_nlbse24,
    load_sanders,
    load_semeval_pool,
    load_tizard2019,
)
from classifier.datasets.common import hash_split, normalize_for_dedup
from classifier.embedding_cache import cached_embeddings
from classifier.encoder import SentenceEncoder
from classifier.features import FEATURE_WIDTHS, cache_pool, loader_kind
from classifier.labels import REVIEWED_DATASET, problem_category, problem_label
from classifier.text import prepare_text

EncoderLoader = Callable[[], SentenceEncoder]
ProgressFactory = Callable[[str, int], Callable[[int], None] | None]

PROBLEM_DATASETS: dict[str, Callable[[], list[LabelledText]]] = {
    "banking77": load_banking77,
    "nlbse24_issue_reports": load_nlbse24,
    "maalej2016_app_reviews": load_maalej2016,
    "tizard2019_forum_sentences": load_tizard2019,
    "airline_sentiment_2015": load_airline,
    "sanders_tech_tweets": load_sanders,
}
NOISE_DATASET = "semeval2017_task4a_devdata"


@dataclass
class ProblemExamples:
    """Problem-labelled examples of one dataset and split, aligned row by row."""

    dataset: str
    split: str
    texts: list[str]
    labels: list[str]
    embeddings: np.ndarray
    is_problem: list[bool]
    categories: list[str | None]


def embed_records(
    records: list[LabelledText], pool: str, encoder: EncoderLoader, progress: ProgressFactory | None = None
) -> np.ndarray:
    """Cached features of the prepared texts of ``records``: embeddings, or the kind a
    :class:`classifier.features.FeatureLoader` gives (cached apart from the embeddings)."""
    texts = [prepare_text(record.text) for record in records]
    callback = progress(pool, len(texts)) if progress else None
    kind = loader_kind(encoder)
    return cached_embeddings(
        encoder, texts, cache_pool(pool, kind), progress=callback, width=FEATURE_WIDTHS[kind]
    )


def labelled_examples(
    dataset: str, records: list[LabelledText], embeddings: np.ndarray
) -> list[ProblemExamples]:
    """``records`` of one dataset with their label mapping applied, per split; unmapped labels are left out.

    ``embeddings`` are any per-record features (row ``i`` for ``records[i]``): probes that compare other
    features of the same texts with the committed heads' input reuse the same rows and mapping.
    """
    by_split: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if problem_label(dataset, record.label) is not None:
            by_split.setdefault(record.split, []).append(index)
    return [
        ProblemExamples(
            dataset=dataset,
            split=split,
            texts=[records[i].text for i in indices],
            labels=[records[i].label for i in indices],
            embeddings=embeddings[indices],
            is_problem=[bool(problem_label(dataset, records[i].label)) for i in indices],
            categories=[problem_category(dataset, records[i].label) for i in indices],
        )
        for split, indices in sorted(by_split.items())
    ]


def sample_per_split(records: list[LabelledText], max_per_split: int, seed: int) -> list[LabelledText]:
    """At most ``max_per_split`` records per split, drawn with a seed per (dataset, split), in input order.

    Small runs (tests, notebooks on ``SMALL=1``) and the benchmark's ``--sample`` draw the same rows for the
    same seed, so their figures can be compared. ``0`` keeps everything.
    """
    if max_per_split <= 0:
        return records
    by_split: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_split.setdefault(record.split, []).append(index)
    keep: list[int] = []
    for split, indices in sorted(by_split.items()):
        dataset = records[indices[0]].dataset
        rng = random.Random(f"{seed}:{dataset}:{split}")
        keep.extend(indices if len(indices) <= max_per_split else rng.sample(indices, max_per_split))
    return [records[index] for index in sorted(keep)]


def problem_records(
    noise_sample: int,
    seed: int,
    semeval_pool: list[LabelledText] | None = None,
    max_per_split: int = 0,
    splits: tuple[str, ...] = ("train", "validation", "test"),
    extra: list[LabelledText] | None = None,
) -> list[tuple[str, list[LabelledText]]]:
    """Each dataset's records (before the label mapping), plus ``noise_sample`` general tweets as negatives.

    The noise sample is drawn (seeded) from the train part of the SemEval pool; its validation and test
    parts are capped at a quarter of ``noise_sample`` each, to measure false alarms on general chatter.
    ``extra`` are further labelled records (people's reviewed labels, dataset ``reviewed_labels``).
    ``max_per_split`` caps the rows of every split (small runs); ``splits`` limits which splits are kept.
    Texts are not embedded here, so callers that tune the encoder itself can use the same rows.
    """
    result: list[tuple[str, list[LabelledText]]] = []
    sources: list[tuple[str, Callable[[], list[LabelledText]]]] = list(PROBLEM_DATASETS.items())
    if extra:
        sources.append((REVIEWED_DATASET, lambda: list(extra)))
    for dataset, loader in sources:
        result.append(
            (dataset, [r for r in sample_per_split(loader(), max_per_split, seed) if r.split in splits])
        )
    pool = semeval_pool if semeval_pool is not None else load_semeval_pool()
    rng = random.Random(seed)
    noise: list[LabelledText] = []
    for split, cap in (
        ("train", noise_sample),
        ("validation", noise_sample // 4),
        ("test", noise_sample // 4),
    ):
        members = [r for r in pool if hash_split(normalize_for_dedup(r.text)) == split]
        chosen = rng.sample(members, min(cap, len(members)))
        if max_per_split > 0:
            chosen = chosen[:max_per_split]
        if split in splits:
            noise.extend(LabelledText(r.id, r.text, r.label, split, NOISE_DATASET) for r in chosen)
    result.append((NOISE_DATASET, noise))
    return result


def problem_examples(
    encoder: EncoderLoader,
    noise_sample: int,
    seed: int,
    semeval_pool: list[LabelledText] | None = None,
    progress: ProgressFactory | None = None,
    max_per_split: int = 0,
    splits: tuple[str, ...] = ("train", "validation", "test"),
    extra: list[LabelledText] | None = None,
) -> list[ProblemExamples]:
    """Every dataset's problem examples per split (the rows of :func:`problem_records`), embedded.

    The defaults reproduce the committed artifacts; evaluation passes ``splits=("test",)`` so only test
    parts are embedded.
    """
    result: list[ProblemExamples] = []
    for dataset, records in problem_records(noise_sample, seed, semeval_pool, max_per_split, splits, extra):
        result.extend(labelled_examples(dataset, records, embed_records(records, dataset, encoder, progress)))
    return result
