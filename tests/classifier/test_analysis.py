"""The Analyzer contract with the real encoder and the committed default artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.analysis import Analyzer, load_analyzer
from classifier.artifact import ModelArtifactError
from classifier.encoder import TorchSentenceEncoder
from classifier.text import prepare_text

POSTS = [
    "@AcmePay my card keeps getting declined at every shop since this morning, what is going on??",
    "I hate mondays",
    "Loving the new dark mode, great work team!",
    "How do I change the email address on my account?",
    "the app crashes every time I open the settings page after the update",
    "x",
]


@pytest.fixture(scope="module")
def results(analyzer: Analyzer) -> list:
    return analyzer.analyze(POSTS, batch_size=2)


def test_embedding_is_the_base_models_normalised_sentence_embedding(
    analyzer: Analyzer, results: list
) -> None:
    encoder = analyzer._encoder
    assert isinstance(encoder, TorchSentenceEncoder)
    reference = encoder.model.encode([prepare_text(p) for p in POSTS], normalize_embeddings=True)
    for result, expected in zip(results, reference, strict=True):
        assert result.embedding.dtype == np.float32 and result.embedding.shape == (384,)
        assert abs(float(np.linalg.norm(result.embedding)) - 1.0) < 1e-4
        assert float(result.embedding @ expected) > 0.9999


def test_results_come_back_in_input_order(analyzer: Analyzer, results: list) -> None:
    single = analyzer.analyze([POSTS[4]])[0]
    assert float(single.embedding @ results[4].embedding) > 0.9999
    assert single.problem_probability == pytest.approx(results[4].problem_probability, abs=1e-4)


def test_progress_reports_cumulative_counts_per_batch(analyzer: Analyzer) -> None:
    seen: list[int] = []
    unseen = [f"{post} (progress check)" for post in POSTS]  # the analyser remembers texts it has seen
    analyzer.analyze(unseen, batch_size=4, progress=seen.append)
    assert seen == [4, 6]


def test_scores_are_well_formed(results: list) -> None:
    for result in results:
        assert 0.0 <= result.problem_probability <= 1.0
        assert set(result.sentiment_scores) == {"negative", "neutral", "positive"}
        assert sum(result.sentiment_scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert result.sentiment == max(result.sentiment_scores, key=result.sentiment_scores.__getitem__)
        assert (result.category is None) == (result.problem_probability < 0.5)


def test_obvious_cases(results: list) -> None:
    declined, mondays, praise, question, crash, _ = results
    assert declined.problem_probability > 0.5 and crash.problem_probability > 0.5
    assert mondays.problem_probability < 0.5 and praise.problem_probability < 0.5
    assert question.problem_probability < declined.problem_probability
    assert praise.sentiment == "positive" and declined.sentiment == "negative"


def test_embed_matches_analysis_embedding(analyzer: Analyzer, results: list) -> None:
    vectors = analyzer.embed(POSTS[:2])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert float(vectors[0] @ results[0].embedding) > 0.9999


def test_empty_input(analyzer: Analyzer) -> None:
    assert analyzer.analyze([]) == []
    assert analyzer.embed([]).shape == (0, 384)


def test_missing_artifact_is_refused_before_loading_the_encoder(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError):
        load_analyzer(tmp_path / "nothing-here")
