"""Storing the classifier's view of posts, and finding posts still to analyse."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.analysis import PostAnalysis
from triage.storage.models import AnalysisRow, PostRow


def posts_to_analyse(session: Session, tenant: str, model_version: str) -> list[tuple[int, str]]:
    """(post id, text) of posts with no analysis by ``model_version``, oldest first."""
    analysed = select(AnalysisRow.post_id).where(AnalysisRow.model_version == model_version)
    statement = (
        select(PostRow.id, PostRow.text)
        .where(PostRow.tenant == tenant, PostRow.id.not_in(analysed))
        .order_by(PostRow.created_at, PostRow.id)
    )
    return [(row.id, row.text) for row in session.execute(statement)]


def stored_embeddings(session: Session, post_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Embeddings an earlier model version already computed for these posts.

    Model versions differ in their heads, not in the encoder, so a new version
    only needs its heads run on these: promoting a model re-encodes nothing.
    """
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(post_ids), 5000):
        chunk = list(post_ids[start : start + 5000])
        statement = select(AnalysisRow.post_id, AnalysisRow.embedding).where(AnalysisRow.post_id.in_(chunk))
        for row in session.execute(statement):
            found[row.post_id] = np.frombuffer(row.embedding, dtype=np.float32)
    return found


def store_analyses(
    session: Session, post_ids: Sequence[int], analyses: Sequence[PostAnalysis], model_version: str
) -> None:
    """Replace any older analysis of these posts by this model's."""
    rows = [
        {
            "post_id": post_id,
            "model_version": model_version,
            "problem_probability": float(analysis.problem_probability),
            "category": analysis.category,
            "sentiment": analysis.sentiment,
            "sentiment_scores": {
                key: round(float(value), 6) for key, value in analysis.sentiment_scores.items()
            },
            "language": analysis.language,
            "embedding": np.asarray(analysis.embedding, dtype=np.float32).tobytes(),
        }
        for post_id, analysis in zip(post_ids, analyses, strict=True)
    ]
    if not rows:
        return
    session.execute(AnalysisRow.__table__.delete().where(AnalysisRow.post_id.in_(list(post_ids))))
    session.execute(AnalysisRow.__table__.insert(), rows)
