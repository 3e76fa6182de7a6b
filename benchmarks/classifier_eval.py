"""Classifier quality benchmark: each figure beside a TF-IDF + logistic-regression baseline from this run.

Figures (issue 4 targets in brackets):

* TweetEval sentiment, test split, macro-averaged recall [>= 70.0; frozen MiniLM + LR probe: 64.8]
* nlbse24 bug vs feature/question, test split, F1 of "bug" [>= 0.85]
* banking77 problem intents vs question/request intents, test split, F1 of "problem" [>= 0.90]
* maalej2016 Bug vs rest, deduplicated, stratified 5-fold, mean F1 of "Bug" [>= 0.70]
* tweets problem vs noise: airline negative-with-reason vs neutral/positive, plus Sanders ``irrelevant``,
  hash-held-out test part; with the domain gap (a probe trained on tickets/reviews/forums only)

Columns: ``artifact`` = the committed model (one problem head for every domain, calibrated threshold);
``probe`` = frozen MiniLM + logistic regression trained on that dataset's own train part;
``tfidf`` = TF-IDF + LR trained on that dataset's own train part; ``tfidf-mix`` = TF-IDF + LR trained
on the artifact's whole training mixture. Embeddings come from the git-ignored cache
(``.cache/classifier``); a cold cache costs ~10 minutes of encoding on 2 CPU cores.

The artifact column is :func:`classifier.evaluation.benchmark_figures` of
:func:`classifier.evaluation.evaluate_artifact`, the function the retraining notebook and
``triage model evaluate`` call, so all three print the same figures for the same artifact and sample.
``--sample N`` caps every split of every set at N seeded rows (tests and quick looks; those figures
are not comparable to the full ones).

    python benchmarks/classifier_eval.py [--artifact classifier/artifacts/v1] [--sample N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.artifact import default_artifact_dir, load_artifact  # noqa: E402
from classifier.baselines import fit_tfidf_classifier  # noqa: E402
from classifier.datasets import load_maalej2016, load_semeval_pool, load_tweeteval  # noqa: E402
from classifier.encoder import load_sentence_encoder  # noqa: E402
from classifier.evaluation import (  # noqa: E402
    benchmark_figures,
    evaluate_artifact,
    sets_from_examples,
    tweet_noise_filter,
)
from classifier.features import EMBEDDING, FeatureLoader, artifact_features  # noqa: E402
from classifier.heads import calibrate_binary, fit_logistic_head  # noqa: E402
from classifier.labels import maalej2016_problem  # noqa: E402
from classifier.metrics import binary_scores, macro_recall  # noqa: E402
from classifier.paths import SharedDataMissingError  # noqa: E402
from classifier.training.data import (  # noqa: E402
    ProblemExamples,
    embed_records,
    problem_examples,
    sample_per_split,
)
from classifier.training.train import SENTIMENT_LABELS, _dataset_weights  # noqa: E402

TWEET_SETS = ("airline_sentiment_2015", "sanders_tech_tweets")
NON_TWEET_SETS = (
    "banking77",
    "nlbse24_issue_reports",
    "maalej2016_app_reviews",
    "tizard2019_forum_sentences",
)
_encoder: list = []


def encoder():  # type: ignore[no-untyped-def]
    if not _encoder:
        _encoder.append(load_sentence_encoder())
    return _encoder[0]


def f1(truth: list[bool], flagged: np.ndarray) -> float:
    return binary_scores(truth, [bool(v) for v in flagged])["f1"]


def fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if percent else f"{value:.3f}"


def sentiment_row(ours: str, sample: int, seed: int) -> list[str]:
    pool = sample_per_split(load_semeval_pool(), sample, seed)
    test = sample_per_split(load_tweeteval("test"), sample, seed)
    truth = [r.label for r in test]
    test_x = embed_records(test, "tweeteval_sentiment", encoder)
    pool_x = embed_records(pool, "semeval2017_task4a_devdata", encoder)
    probe = fit_logistic_head(pool_x, [r.label for r in pool], SENTIMENT_LABELS)
    probe_score = macro_recall(truth, probe.predict(test_x), SENTIMENT_LABELS)
    tfidf = fit_tfidf_classifier([r.text for r in pool], [r.label for r in pool], class_weight="balanced")
    baseline = macro_recall(truth, tfidf.predict([r.text for r in test]), SENTIMENT_LABELS)
    return [
        "TweetEval sentiment macro recall (test)",
        ours,
        fmt(probe_score, True),
        fmt(baseline, True),
        "–",
        ">= 70.0",
    ]


def in_domain(train: ProblemExamples, test: ProblemExamples) -> tuple[float, float]:
    """MiniLM probe and TF-IDF, each trained on one dataset's train part (class-balanced)."""
    targets = ["problem" if v else "not_problem" for v in train.is_problem]
    probe = fit_logistic_head(train.embeddings, targets, ("not_problem", "problem"), class_weight="balanced")
    tfidf = fit_tfidf_classifier(train.texts, targets, class_weight="balanced")
    probe_f1 = f1(test.is_problem, probe.predict_proba(test.embeddings)[:, 1] >= 0.5)
    column = tfidf.labels.index("problem")
    tfidf_f1 = f1(test.is_problem, tfidf.predict_proba(test.texts)[:, column] >= 0.5)
    return probe_f1, tfidf_f1


def merge(parts: list[ProblemExamples], name: str, split: str) -> ProblemExamples:
    return ProblemExamples(
        name,
        split,
        [t for p in parts for t in p.texts],
        [lab for p in parts for lab in p.labels],
        np.concatenate([p.embeddings for p in parts]),
        [v for p in parts for v in p.is_problem],
        [c for p in parts for c in p.categories],
    )


def problem_rows(ours: dict[str, str], examples: list[ProblemExamples]) -> list[list[str]]:
    parts = {(p.dataset, p.split): p for p in examples}
    train = [p for p in examples if p.split == "train"]
    texts = [t for p in train for t in p.texts]
    targets = ["problem" if v else "not_problem" for p in train for v in p.is_problem]
    weights = _dataset_weights([p.dataset for p in train for _ in p.texts])
    mixture_tfidf = fit_tfidf_classifier(texts, targets, sample_weight=weights)
    mix_column = mixture_tfidf.labels.index("problem")

    def mixture_f1(test: ProblemExamples) -> float:
        return f1(test.is_problem, mixture_tfidf.predict_proba(test.texts)[:, mix_column] >= 0.5)

    rows = []
    for dataset, title, target in (
        ("nlbse24_issue_reports", "nlbse24 bug vs rest F1 (test)", ">= 0.85"),
        ("banking77", "banking77 problem vs question F1 (test)", ">= 0.90"),
    ):
        test = parts[(dataset, "test")]
        probe, tfidf = in_domain(parts[(dataset, "train")], test)
        rows.append([title, ours[title], fmt(probe), fmt(tfidf), fmt(mixture_f1(test)), target])

    tweets_train = merge([tweet_noise_filter(parts[(d, "train")]) for d in TWEET_SETS], "tweets", "train")
    tweets_test = merge([tweet_noise_filter(parts[(d, "test")]) for d in TWEET_SETS], "tweets", "test")
    probe, tfidf = in_domain(tweets_train, tweets_test)
    rows.append(
        [
            "tweets problem vs noise F1 (held-out)",
            ours["tweets problem vs noise F1 (held-out)"],
            fmt(probe),
            fmt(tfidf),
            fmt(mixture_f1(tweets_test)),
            "–",
        ]
    )
    rows.append(domain_gap_row(parts, tweets_test))
    return rows


def domain_gap_row(parts: dict, tweets_test: ProblemExamples) -> list[str]:
    """Problem head trained without any tweets (tickets, reviews, forum sentences), scored on tweets."""
    train = merge([parts[(d, "train")] for d in NON_TWEET_SETS], "non-tweets", "train")
    validation = merge([parts[(d, "validation")] for d in NON_TWEET_SETS], "non-tweets", "validation")
    targets = ["problem" if v else "not_problem" for v in train.is_problem]
    weights = _dataset_weights([d for d in NON_TWEET_SETS for _ in parts[(d, "train")].texts])
    head = fit_logistic_head(train.embeddings, targets, ("not_problem", "problem"), 1.0, weights)
    head = calibrate_binary(
        head, validation.embeddings, ["problem" if v else "not_problem" for v in validation.is_problem]
    )
    probe = f1(tweets_test.is_problem, head.predict_proba(tweets_test.embeddings)[:, 1] >= 0.5)
    tfidf = fit_tfidf_classifier(train.texts, targets, sample_weight=weights)
    column = tfidf.labels.index("problem")
    baseline = f1(tweets_test.is_problem, tfidf.predict_proba(tweets_test.texts)[:, column] >= 0.5)
    return ["  same, trained without tweets (domain gap)", "–", fmt(probe), "–", fmt(baseline), "–"]


def maalej_cv_row(ours: str, sample: int, seed: int) -> list[str]:
    from sklearn.model_selection import StratifiedKFold

    records = sample_per_split(load_maalej2016(), sample, seed)
    embeddings = embed_records(records, "maalej2016_app_reviews", encoder)
    truth = np.array([maalej2016_problem(r.label) for r in records])
    texts = [r.text for r in records]
    probe_scores, tfidf_scores = [], []
    for train_rows, test_rows in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, truth):
        train = ProblemExamples(
            "maalej",
            "train",
            [texts[i] for i in train_rows],
            [""] * len(train_rows),
            embeddings[train_rows],
            [bool(truth[i]) for i in train_rows],
            [None] * len(train_rows),
        )
        test = ProblemExamples(
            "maalej",
            "test",
            [texts[i] for i in test_rows],
            [""] * len(test_rows),
            embeddings[test_rows],
            [bool(truth[i]) for i in test_rows],
            [None] * len(test_rows),
        )
        probe, tfidf = in_domain(train, test)
        probe_scores.append(probe)
        tfidf_scores.append(tfidf)
    return [
        "maalej2016 Bug vs rest F1 (dedup 5-fold)",
        ours,
        fmt(float(np.mean(probe_scores))),
        fmt(float(np.mean(tfidf_scores))),
        "–",
        ">= 0.70",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifact", type=Path, default=None, help="artifact folder (default: DEFAULT)")
    parser.add_argument("--sample", type=int, default=0, help="at most N rows per split of every set")
    args = parser.parse_args()
    artifact = load_artifact(args.artifact or default_artifact_dir())
    options = artifact.manifest.get("training_options", {})
    seed = int(options.get("seed", 13))
    started = time.perf_counter()
    try:
        noise_sample = int(options.get("noise_sample", 6000))
        examples = problem_examples(encoder, noise_sample, seed, max_per_split=args.sample)
        # the baselines read the embedding; the artifact reads what it was trained on
        features = FeatureLoader(artifact_features(artifact), encoder)
        if features.kind != EMBEDDING:
            ours_examples = problem_examples(features, noise_sample, seed, max_per_split=args.sample)
        else:
            ours_examples = examples
        sets = sets_from_examples(ours_examples, features, sample=args.sample, seed=seed)
        ours = dict(benchmark_figures(evaluate_artifact(artifact, sets)))
        rows = [sentiment_row(ours["TweetEval sentiment macro recall (test)"], args.sample, seed)]
        rows += problem_rows(ours, examples)
        rows.append(maalej_cv_row(ours["maalej2016 Bug vs rest F1 (dedup 5-fold)"], args.sample, seed))
    except SharedDataMissingError as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return 2
    header = ["figure", f"artifact {artifact.version}", "probe", "tfidf", "tfidf-mix", "target"]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(
        "\n* artifact on maalej2016: its hash-held-out test part (the artifact trained on the other 80 %),"
        " not the 5 folds."
    )
    if args.sample:
        print(f"(sample: at most {args.sample} rows per split; not comparable to full figures)")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
