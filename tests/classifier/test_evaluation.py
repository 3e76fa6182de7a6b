"""The shared evaluation on generated sets, the sampling that keeps small runs comparable, and
reviewed labels read back from a real export."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from classifier.datasets import LabelledText
from classifier.evaluation import (
    EvaluationSets,
    benchmark_figures,
    evaluate_artifact,
    evaluate_versions,
    evaluation_sets,
    figure_table,
)
from classifier.labels import REVIEWED_DATASET, problem_category, problem_label
from classifier.metrics import binary_scores
from classifier.training.data import ProblemExamples, sample_per_split
from classifier.training.reviewed import ReviewedLabelsError, load_reviewed_labels
from tests.classifier.conftest import requires_shared
from tests.classifier.factories import separable_embeddings, tiny_artifact
from tests.classifier.reviews import write_reviewed_export


def part(dataset: str, seed: int, labels: list[str] | None = None) -> ProblemExamples:
    """Class 0 of the tiny artifact's generated space is 'problem'; 1 and 2 are not. Sanders
    (``labels`` given) holds no problem report, like the real set."""
    x, y = separable_embeddings(20, 3, seed=0)
    x = x + 0.05 * np.random.default_rng(seed).normal(size=x.shape).astype(np.float32)
    if labels is not None:
        return ProblemExamples(
            dataset, "test", [f"t{i}" for i in range(len(y))], labels, x, [False] * len(y), [None] * len(y)
        )
    return ProblemExamples(
        dataset,
        "test",
        [f"text {i}" for i in range(len(y))],
        labels or [str(c) for c in y],
        x,
        [c == 0 for c in y],
        ["payment" if c == 0 else None for c in y],
    )


@pytest.fixture
def sets() -> EvaluationSets:
    x, y = separable_embeddings(20, 3, seed=0)
    sentiment = [
        LabelledText(
            str(i), f"tweet {i}", ("negative", "neutral", "positive")[c], "test", "tweeteval_sentiment"
        )
        for i, c in enumerate(y)
    ]
    sanders_labels = ["irrelevant" if i % 2 else "positive" for i in range(60)]
    bank = part("banking77", 1)
    for row in range(20, 25):  # five chatter rows a person called problems: the artifact misses them
        bank.is_problem[row], bank.categories[row] = True, "payment"
    return EvaluationSets(
        [
            bank,
            part("airline_sentiment_2015", 2),
            part("sanders_tech_tweets", 3, sanders_labels),
        ],
        sentiment,
        x,
    )


def test_figures_are_the_metrics_of_the_artifacts_decisions(sets: EvaluationSets) -> None:
    artifact = tiny_artifact()
    evaluation = evaluate_artifact(artifact, sets)
    bank = sets.problem[0]
    flagged = artifact.problem.predict_proba(bank.embeddings)[:, 1] >= artifact.problem_threshold
    expected = binary_scores(bank.is_problem, [bool(v) for v in flagged])
    assert evaluation["problem"]["banking77"]["f1"] == pytest.approx(expected["f1"])
    assert evaluation["problem"]["banking77"]["category_accuracy"] == pytest.approx(
        float(np.mean([c == "payment" for c in artifact.category.predict(bank.embeddings[:25])]))
    )
    assert evaluation["problem"]["sanders_tech_tweets"]["positives"] == 0
    assert evaluation["problem"]["banking77"]["f1"] != evaluation["problem"]["airline_sentiment_2015"]["f1"]
    assert evaluation["problem_f1_mean"] == pytest.approx(
        np.mean([evaluation["problem"][d]["f1"] for d in ("banking77", "airline_sentiment_2015")])
    )  # sanders has no problem report: it measures false alarms only
    assert set(evaluation["categories"]) == {"payment"} and evaluation["categories"]["payment"]["n"] == 45
    assert 0 <= evaluation["general_tweets_flagged_rate"] <= 1


def test_tweets_figure_keeps_only_irrelevant_sanders_tweets(sets: EvaluationSets) -> None:
    artifact = tiny_artifact()
    airline, sanders = sets.problem[1], sets.problem[2]
    keep = [i for i, label in enumerate(sanders.labels) if label == "irrelevant"]
    embeddings = np.concatenate([airline.embeddings, sanders.embeddings[keep]])
    truth = airline.is_problem + [sanders.is_problem[i] for i in keep]
    flagged = artifact.problem.predict_proba(embeddings)[:, 1] >= 0.5
    expected = binary_scores(truth, [bool(v) for v in flagged])["f1"]
    assert evaluate_artifact(artifact, sets)["tweets_problem_vs_noise_f1"] == pytest.approx(expected)


def test_benchmark_figures_are_printed_as_the_benchmark_prints_them(sets: EvaluationSets) -> None:
    evaluation = evaluate_artifact(tiny_artifact(), sets)
    figures = dict(benchmark_figures(evaluation))
    recall = evaluation["sentiment"]["tweeteval_test_macro_recall"]
    assert figures["TweetEval sentiment macro recall (test)"] == f"{100 * recall:.1f}"
    assert (
        figures["banking77 problem vs question F1 (test)"]
        == f"{evaluation['problem']['banking77']['f1']:.3f}"
    )
    assert figures["nlbse24 bug vs rest F1 (test)"] == "–"  # not in these sets
    assert figures["maalej2016 Bug vs rest F1 (dedup 5-fold)"] == "–*"
    names = [name for name, _ in figure_table(evaluation)]
    assert "category payment P/R/F1 (n=45)" in names and "problem banking77 P/R/F1 (n=60)" in names


def test_sampling_per_split_is_seeded_capped_and_in_order() -> None:
    records = [LabelledText(str(i), f"t{i}", "x", ("train", "test")[i % 2], "d") for i in range(100)]
    small = sample_per_split(records, 10, seed=13)
    assert [r.split for r in small].count("train") == 10 and [r.split for r in small].count("test") == 10
    assert small == sample_per_split(records, 10, seed=13)
    assert small != sample_per_split(records, 10, seed=14)
    assert [int(r.id) for r in small] == sorted(int(r.id) for r in small)
    assert sample_per_split(records, 0, seed=13) is records
    # the test part drawn does not depend on whether the train part is drawn too
    tests_only = [r for r in records if r.split == "test"]
    assert [r for r in small if r.split == "test"] == sample_per_split(tests_only, 10, seed=13)


def test_reviewed_labels_map_to_problem_and_known_categories() -> None:
    assert problem_label(REVIEWED_DATASET, "not_problem") is False
    assert problem_label(REVIEWED_DATASET, "category:payment") is True
    assert problem_category(REVIEWED_DATASET, "category:payment") == "payment"
    assert problem_category(REVIEWED_DATASET, "category:billing") is None  # unknown to the category head
    assert problem_category(REVIEWED_DATASET, "problem") is None


def test_reviewed_labels_read_back_from_a_real_export(tmp_path: Path) -> None:
    reviewed = load_reviewed_labels(write_reviewed_export(tmp_path))
    labels = {record.text: record.label for record in reviewed.records}
    assert labels["my payment was declined twice at the checkout"] == "category:payment"
    assert labels["love the new dark mode, thanks team (0)"] == "not_problem"
    assert labels["cannot log in to the app, it keeps spinning"] == "problem"  # a confirmed cluster's member
    assert {record.split for record in reviewed.records} <= {"train", "validation", "test"}
    assert reviewed.source["rows"] == 12 + 4 + 5 + 1 and reviewed.source["texts"] == len(reviewed.records)
    assert len(reviewed.records) < reviewed.source["rows"]  # the login complaints appear twice: deduplicated


def test_reviewed_csv_keeps_the_latest_label_of_a_text(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["text", "is_problem", "category", "labelled_at", "external_id"])
        writer.writeheader()
        writer.writerow(
            {"text": "App crashes!", "is_problem": "True", "category": "", "labelled_at": "2026-01-02"}
        )
        writer.writerow(
            {"text": "app crashes", "is_problem": "False", "category": "", "labelled_at": "2026-01-01"}
        )
        writer.writerow({"text": "", "is_problem": "True", "category": "", "labelled_at": "2026-01-03"})
    records = load_reviewed_labels(path).records
    assert [(r.text, r.label) for r in records] == [("App crashes!", "problem")]
    (tmp_path / "bad.csv").write_text("text,label\nhello,problem\n")
    with pytest.raises(ReviewedLabelsError, match="lacks columns"):
        load_reviewed_labels(tmp_path / "bad.csv")
    with pytest.raises(ReviewedLabelsError, match="does not exist"):
        load_reviewed_labels(tmp_path / "missing.parquet")


def test_model_card_says_how_to_reproduce_a_small_run_on_reviews() -> None:
    from classifier.training.model_card import reproduce_flags, reviewed_flag

    assert reproduce_flags({"problem_head": "mlp", "max_per_split": 40}) == " --max-per-split 40"
    manifest = {"training_data": {"reviewed_labels": {"file": "labels.parquet"}}}
    assert reviewed_flag(manifest) == " --reviewed-labels labels.parquet" and reviewed_flag({}) == ""


@requires_shared
def test_versions_reading_different_features_are_scored_on_the_same_rows(analyzer) -> None:  # type: ignore[no-untyped-def]
    from classifier.artifact import load_artifact
    from classifier.paths import ARTIFACTS_DIR

    versions = {name: load_artifact(ARTIFACTS_DIR / name) for name in ("v2", "v3")}
    results = evaluate_versions(versions, lambda: analyzer._encoder, sample=25)
    # v3 keeps v2's problem and category heads: on the same rows their figures are the same
    assert results["v2"]["problem"] == results["v3"]["problem"]
    assert results["v2"]["categories"] == results["v3"]["categories"]
    assert results["v2"]["sentiment"] != results["v3"]["sentiment"]  # its sentiment head reads layer pools
    with pytest.raises(ValueError, match="reads layer-pools"):
        evaluate_artifact(versions["v3"], evaluation_sets(lambda: analyzer._encoder, sample=5))
