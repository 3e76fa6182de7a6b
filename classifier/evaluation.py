"""Evaluation of one artifact on the held-out test parts: the figures every reader of a model shares.

``benchmarks/classifier_eval.py``, the retraining notebook and ``triage model evaluate`` all call
:func:`evaluate_artifact` on sets built by :func:`evaluation_sets` (or :func:`sets_from_examples`), and
print :func:`benchmark_figures`, so the same artifact on the same sample gives the same printed figures
everywhere. Only test parts are embedded: training and validation rows are never needed to score a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.artifact import ModelArtifact
from classifier.datasets import LabelledText, load_tweeteval
from classifier.features import FEATURE_WIDTHS, FeatureLoader, artifact_features, head_features, head_input
from classifier.labels import CATEGORIES
from classifier.metrics import accuracy, binary_scores, macro_f1, macro_recall
from classifier.training.data import (
    EncoderLoader,
    ProblemExamples,
    ProgressFactory,
    embed_records,
    problem_examples,
    sample_per_split,
)

SENTIMENT_LABELS = ("negative", "neutral", "positive")
TWEET_SETS = ("airline_sentiment_2015", "sanders_tech_tweets")
TWEETEVAL_POOL = "tweeteval_sentiment"


@dataclass
class EvaluationSets:
    """Held-out rows with their embeddings: problem test parts per dataset and TweetEval test."""

    problem: list[ProblemExamples]
    sentiment: list[LabelledText]
    sentiment_embeddings: np.ndarray
    sample: int = 0
    seed: int = 13


def evaluation_sets(
    encoder: EncoderLoader,
    *,
    sample: int = 0,
    seed: int = 13,
    noise_sample: int = 6000,
    extra: list[LabelledText] | None = None,
    progress: ProgressFactory | None = None,
) -> EvaluationSets:
    """Test parts of every problem dataset (plus ``extra``, e.g. reviewed labels) and TweetEval test.

    ``sample`` > 0 caps every test part at that many rows (drawn per dataset with ``seed``), for small runs.
    ``noise_sample`` and ``seed`` pick the general-tweet test part exactly as training did.
    """
    examples = problem_examples(
        encoder, noise_sample, seed, progress=progress, max_per_split=sample, splits=("test",), extra=extra
    )
    return sets_from_examples(examples, encoder, sample=sample, seed=seed, progress=progress)


def evaluate_versions(
    artifacts: dict[str, ModelArtifact],
    encoder: EncoderLoader,
    *,
    sample: int = 0,
    seed: int = 13,
    noise_sample: int = 6000,
    extra: list[LabelledText] | None = None,
    progress: ProgressFactory | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate_artifact` of each of ``artifacts`` (by label) on the same held-out rows, each on
    the features it reads: one set of rows, encoded once per feature kind the versions need."""
    sets: dict[str, EvaluationSets] = {}
    results: dict[str, dict[str, Any]] = {}
    for label, artifact in artifacts.items():
        kind = artifact_features(artifact)
        if kind not in sets:
            sets[kind] = evaluation_sets(
                FeatureLoader(kind, encoder),
                sample=sample,
                seed=seed,
                noise_sample=noise_sample,
                extra=extra,
                progress=progress,
            )
        results[label] = evaluate_artifact(artifact, sets[kind])
    return results


def sets_from_examples(
    examples: list[ProblemExamples],
    encoder: EncoderLoader,
    *,
    sample: int = 0,
    seed: int = 13,
    progress: ProgressFactory | None = None,
) -> EvaluationSets:
    """Evaluation sets from examples already built (the benchmark builds all splits for its baselines)."""
    sentiment = sample_per_split(load_tweeteval("test"), sample, seed)
    embeddings = embed_records(sentiment, TWEETEVAL_POOL, encoder, progress)
    test = [part for part in examples if part.split == "test"]
    return EvaluationSets(test, sentiment, embeddings, sample, seed)


def tweet_noise_filter(part: ProblemExamples) -> ProblemExamples:
    """Sanders: only ``irrelevant`` tweets count as the noise of the tweets figure; airline: all rows."""
    if part.dataset != "sanders_tech_tweets":
        return part
    keep = [i for i, label in enumerate(part.labels) if label == "irrelevant"]
    return ProblemExamples(
        part.dataset,
        part.split,
        [part.texts[i] for i in keep],
        [part.labels[i] for i in keep],
        part.embeddings[keep],
        [part.is_problem[i] for i in keep],
        [part.categories[i] for i in keep],
    )


def _read(artifact: ModelArtifact, head: str, features: np.ndarray, predict: Any) -> Any:
    """``predict`` on the columns of ``features`` that ``head`` reads (see ``head_input``)."""
    return predict(head_input(features, head_features(artifact)[head]))


def _problem_probability(artifact: ModelArtifact, features: np.ndarray) -> np.ndarray:
    return _read(artifact, "problem", features, artifact.problem.predict_proba)[:, 1]


def _categories(artifact: ModelArtifact, features: np.ndarray) -> list[str]:
    return list(_read(artifact, "category", features, artifact.category.predict))


def _problem_scores(artifact: ModelArtifact, part: ProblemExamples) -> dict[str, float]:
    flagged = _problem_probability(artifact, part.embeddings) >= artifact.problem_threshold
    scores = binary_scores(part.is_problem, [bool(v) for v in flagged])
    rows = [i for i, flag in enumerate(part.is_problem) if flag and part.categories[i]]
    if rows:
        truth = [part.categories[i] or "" for i in rows]
        predicted = _categories(artifact, part.embeddings[rows])
        scores["category_accuracy"] = accuracy(truth, predicted)
        scores["category_macro_f1"] = macro_f1(truth, predicted, CATEGORIES)
    return scores


def _per_category(artifact: ModelArtifact, parts: list[ProblemExamples]) -> dict[str, dict[str, float]]:
    """Per category, over every test problem report with a known category: the category head's
    precision/recall/F1, and the share the problem head flags at all (``problem_recall``)."""
    truth: list[str] = []
    predicted: list[str] = []
    flagged: list[bool] = []
    for part in parts:
        rows = [i for i, flag in enumerate(part.is_problem) if flag and part.categories[i]]
        if not rows:
            continue
        embeddings = part.embeddings[rows]
        truth += [part.categories[i] or "" for i in rows]
        predicted += list(_categories(artifact, embeddings))
        probability = _problem_probability(artifact, embeddings)
        flagged += [bool(v) for v in probability >= artifact.problem_threshold]
    result: dict[str, dict[str, float]] = {}
    for category in CATEGORIES:
        members = [i for i, label in enumerate(truth) if label == category]
        if not members:
            continue
        scores = binary_scores([t == category for t in truth], [p == category for p in predicted])
        result[category] = {
            "n": float(len(members)),
            "precision": scores["precision"],
            "recall": scores["recall"],
            "f1": scores["f1"],
            "problem_recall": sum(flagged[i] for i in members) / len(members),
        }
    return result


def evaluate_artifact(artifact: ModelArtifact, sets: EvaluationSets) -> dict[str, Any]:
    """Every figure of one artifact on ``sets``: per dataset, per category, tweets, sentiment.

    ``sets`` must hold the features the artifact reads (build them with a
    :class:`classifier.features.FeatureLoader` of that kind); a mismatch is refused, not mis-scored.
    """
    width = FEATURE_WIDTHS[artifact_features(artifact)]
    if sets.sentiment_embeddings.shape[1] != width:
        raise ValueError(
            f"model {artifact.version} reads {artifact_features(artifact)} ({width} numbers per text); "
            f"these evaluation sets hold {sets.sentiment_embeddings.shape[1]}"
        )
    parts = {part.dataset: part for part in sets.problem}
    per_dataset = {name: _problem_scores(artifact, part) for name, part in sorted(parts.items())}
    with_problems = [scores["f1"] for scores in per_dataset.values() if scores["positives"] > 0]
    tweets = [tweet_noise_filter(parts[name]) for name in TWEET_SETS if name in parts]
    tweets_f1 = None
    if tweets:
        truth = [v for part in tweets for v in part.is_problem]
        embeddings = np.concatenate([part.embeddings for part in tweets])
        flagged = _problem_probability(artifact, embeddings) >= artifact.problem_threshold
        tweets_f1 = binary_scores(truth, [bool(v) for v in flagged])["f1"]
    sentiment_truth = [record.label for record in sets.sentiment]
    sentiment_predicted = _read(artifact, "sentiment", sets.sentiment_embeddings, artifact.sentiment.predict)
    general_flagged = _problem_probability(artifact, sets.sentiment_embeddings)
    return {
        "version": artifact.version,
        "sample": sets.sample,
        "seed": sets.seed,
        "problem": per_dataset,
        "problem_f1_mean": float(np.mean(with_problems)) if with_problems else 0.0,
        "categories": _per_category(artifact, sets.problem),
        "tweets_problem_vs_noise_f1": tweets_f1,
        "sentiment": {
            "tweeteval_test_macro_recall": macro_recall(
                sentiment_truth, sentiment_predicted, SENTIMENT_LABELS
            ),
            "tweeteval_test_accuracy": accuracy(sentiment_truth, sentiment_predicted),
            "n": float(len(sentiment_truth)),
        },
        "general_tweets_flagged_rate": float((general_flagged >= artifact.problem_threshold).mean())
        if len(general_flagged)
        else 0.0,
    }


def _f1(evaluation: dict[str, Any], dataset: str) -> str:
    scores = evaluation["problem"].get(dataset)
    return "–" if scores is None else f"{scores['f1']:.3f}"


def benchmark_figures(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """The artifact column of ``benchmarks/classifier_eval.py``, as (figure, printed value) pairs."""
    tweets = evaluation["tweets_problem_vs_noise_f1"]
    return [
        (
            "TweetEval sentiment macro recall (test)",
            f"{100 * evaluation['sentiment']['tweeteval_test_macro_recall']:.1f}",
        ),
        ("nlbse24 bug vs rest F1 (test)", _f1(evaluation, "nlbse24_issue_reports")),
        ("banking77 problem vs question F1 (test)", _f1(evaluation, "banking77")),
        ("tweets problem vs noise F1 (held-out)", "–" if tweets is None else f"{tweets:.3f}"),
        ("maalej2016 Bug vs rest F1 (dedup 5-fold)", _f1(evaluation, "maalej2016_app_reviews") + "*"),
    ]


def figure_table(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """Every figure a person compares versions on, flattened to (name, value) rows for printing."""
    rows = [(name, value) for name, value in benchmark_figures(evaluation)]
    rows.append(("problem F1, mean over test sets with problems", f"{evaluation['problem_f1_mean']:.3f}"))
    rows.append(
        ("general tweets flagged as problems", f"{100 * evaluation['general_tweets_flagged_rate']:.1f} %")
    )
    for dataset, scores in evaluation["problem"].items():
        rows.append(
            (
                f"problem {dataset} P/R/F1 (n={int(scores['n'])})",
                f"{scores['precision']:.3f}/{scores['recall']:.3f}/{scores['f1']:.3f}",
            )
        )
    for category, scores in evaluation["categories"].items():
        rows.append(
            (
                f"category {category} P/R/F1 (n={int(scores['n'])})",
                f"{scores['precision']:.3f}/{scores['recall']:.3f}/{scores['f1']:.3f}",
            )
        )
    return rows
