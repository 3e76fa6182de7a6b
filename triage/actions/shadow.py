"""Shadow mode: a candidate model scores the posts the service analysed, beside the model that did.

Every model version shares the encoder and differs only in its heads, and each
stored analysis keeps the post's embedding; so scoring live posts with a
candidate costs its heads alone, never a second encoder pass, and can run on
the whole stored stream at any time without touching what the service uses.
What comes back is what a data scientist reviews before a promotion: how often
the two agree on the decisions that matter (problem report or not, sentiment,
category), which way the problem decisions flip, and the posts where they
disagree most, with their text.

A candidate whose heads read more than the embedding (layer pools, v3 on) needs the posts' texts
encoded again: the caller passes an encoder backend, and the comparison costs what analysis costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.analysis import Analyzer, apply_heads
from classifier.artifact import ModelArtifact, ModelArtifactError
from classifier.encoder import SentenceEncoder
from classifier.features import EMBEDDING, artifact_features
from triage.storage.models import AnalysisRow, PostRow

#: posts read and scored per round trip: bounded memory whatever the number of stored posts
CHUNK = 2000


@dataclass(frozen=True)
class ShadowFilters:
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Decision:
    """What one model said of a post."""

    model_version: str
    problem_probability: float
    problem: bool
    sentiment: str
    category: str | None


@dataclass(frozen=True)
class Disagreement:
    post_id: int
    source: str
    external_id: str
    created_at: datetime
    text: str
    in_use: Decision
    candidate: Decision

    @property
    def problem_shift(self) -> float:
        return self.candidate.problem_probability - self.in_use.problem_probability

    def as_row(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "source": self.source,
            "external_id": self.external_id,
            "created_at": self.created_at.isoformat(),
            "text": self.text,
            "in_use_version": self.in_use.model_version,
            "in_use_problem": round(self.in_use.problem_probability, 4),
            "candidate_problem": round(self.candidate.problem_probability, 4),
            "in_use_sentiment": self.in_use.sentiment,
            "candidate_sentiment": self.candidate.sentiment,
            "in_use_category": self.in_use.category,
            "candidate_category": self.candidate.category,
        }


@dataclass
class ShadowReport:
    candidate_version: str
    #: stored analyses compared, by the version that wrote them
    in_use_versions: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    same_problem: int = 0
    same_sentiment: int = 0
    #: posts both call a problem report, and of those, how many get the same category
    both_problem: int = 0
    same_category: int = 0
    became_problem: int = 0
    stopped_being_problem: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def problem_agreement(self) -> float | None:
        return self._share(self.same_problem, self.posts)

    @property
    def sentiment_agreement(self) -> float | None:
        return self._share(self.same_sentiment, self.posts)

    @property
    def category_agreement(self) -> float | None:
        return self._share(self.same_category, self.both_problem)

    def most_disputed(self, count: int) -> list[Disagreement]:
        """The disagreements a reviewer should read first: the largest shifts in problem probability."""
        ordered = sorted(self.disagreements, key=lambda item: (-abs(item.problem_shift), item.post_id))
        return ordered[:count]


def _stored(session: Session, tenant: str, filters: ShadowFilters) -> Iterator[Sequence[Any]]:
    statement = (
        select(
            PostRow.id,
            PostRow.source,
            PostRow.external_id,
            PostRow.created_at,
            PostRow.text,
            AnalysisRow.model_version,
            AnalysisRow.problem_probability,
            AnalysisRow.sentiment,
            AnalysisRow.category,
            AnalysisRow.embedding,
        )
        .join(AnalysisRow, AnalysisRow.post_id == PostRow.id)
        .where(PostRow.tenant == tenant)
        .order_by(PostRow.created_at, PostRow.id)
    )
    if filters.since is not None:
        statement = statement.where(PostRow.created_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(PostRow.created_at < filters.until)
    if filters.source is not None:
        statement = statement.where(PostRow.source == filters.source)
    if filters.limit is not None:
        statement = statement.limit(filters.limit)
    rows = session.execute(statement.execution_options(yield_per=CHUNK))
    yield from rows.partitions(CHUNK)


def shadow_compare(
    session: Session,
    tenant: str,
    candidate: ModelArtifact,
    in_use_threshold: float,
    filters: ShadowFilters | None = None,
    encoder: SentenceEncoder | None = None,
) -> ShadowReport:
    """Score ``tenant``'s analysed posts with ``candidate``'s heads and compare with what is stored.

    ``in_use_threshold`` is the problem threshold of the model in use (a stored analysis keeps its
    probability, not the decision); the candidate decides with its own. ``encoder`` is needed only by
    a candidate that does not read the stored embedding (:class:`ModelArtifactError` without it).
    """
    report = ShadowReport(candidate.version)
    encoding = _candidate_analyzer(candidate, encoder)
    for chunk in _stored(session, tenant, filters or ShadowFilters()):
        texts = [row.text for row in chunk]
        if encoding is None:
            scored = apply_heads(
                candidate, texts, np.stack([np.frombuffer(row.embedding, dtype=np.float32) for row in chunk])
            )
        else:
            scored = encoding.analyze(texts)
        for row, analysis in zip(chunk, scored, strict=True):
            in_use = Decision(
                row.model_version,
                float(row.problem_probability),
                float(row.problem_probability) >= in_use_threshold,
                row.sentiment,
                row.category,
            )
            shadow = Decision(
                candidate.version,
                analysis.problem_probability,
                analysis.problem_probability >= candidate.problem_threshold,
                analysis.sentiment,
                analysis.category,
            )
            _count(report, row, in_use, shadow)
    return report


def _candidate_analyzer(candidate: ModelArtifact, encoder: SentenceEncoder | None) -> Analyzer | None:
    """``None`` when the stored embeddings are all ``candidate`` reads; otherwise what encodes again."""
    if artifact_features(candidate) == EMBEDDING:
        return None
    if encoder is None:
        raise ModelArtifactError(
            f"model {candidate.version} reads {artifact_features(candidate)}, not just the stored embedding: "
            "shadow mode needs the encoder to analyse the posts' texts again"
        )
    return Analyzer(encoder, candidate, cache_entries=0)


def _count(report: ShadowReport, row: Any, in_use: Decision, shadow: Decision) -> None:
    report.posts += 1
    report.in_use_versions[in_use.model_version] += 1
    same_problem = in_use.problem == shadow.problem
    same_sentiment = in_use.sentiment == shadow.sentiment
    same_category = True
    report.same_problem += same_problem
    report.same_sentiment += same_sentiment
    if in_use.problem and shadow.problem:
        report.both_problem += 1
        same_category = in_use.category == shadow.category
        report.same_category += same_category
    if shadow.problem and not in_use.problem:
        report.became_problem += 1
    if in_use.problem and not shadow.problem:
        report.stopped_being_problem += 1
    if not (same_problem and same_sentiment and same_category):
        report.disagreements.append(
            Disagreement(row.id, row.source, row.external_id, row.created_at, row.text, in_use, shadow)
        )


def disagreement_rows(disagreements: Sequence[Disagreement]) -> list[dict[str, Any]]:
    return [item.as_row() for item in disagreements]
