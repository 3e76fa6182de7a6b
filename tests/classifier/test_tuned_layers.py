"""The fine-tuning probe: configurations, a tiny CPU run, and the rows file the GPU run reads."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from benchmarks.fine_tuning_probe import export_half_precision_model, load_rows, save_rows, table
from classifier.encoder import encoder_path
from classifier.training.data import NOISE_DATASET, problem_records
from classifier.training.tuned_layers import (
    ProblemRow,
    SentimentRow,
    TaskRows,
    TuningConfig,
    evaluate_tuned,
    run_probe,
    train_tuned,
)
from tests.classifier.conftest import requires_shared

SENTIMENT = [
    ("i love this, works perfectly", "positive"),
    ("great service, thank you so much", "positive"),
    ("this is terrible and i am angry", "negative"),
    ("worst experience ever, awful", "negative"),
    ("the meeting is at noon on tuesday", "neutral"),
    ("the store opens at nine", "neutral"),
]
PROBLEM = [
    ("the app crashes every time i log in", True, "apps"),
    ("my card payment was declined again", True, "bank"),
    ("what time do you open tomorrow", False, "apps"),
    ("can i change my address online", False, "bank"),
]


def tiny_rows() -> TaskRows:
    sentiment = [SentimentRow(text, label) for text, label in SENTIMENT * 3]
    problem = [ProblemRow(text, flag, dataset) for text, flag, dataset in PROBLEM * 3]
    return TaskRows(
        {"train": sentiment, "validation": sentiment[:6], "test": sentiment[:6]},
        {"train": problem, "validation": problem[:4], "test": problem[:4]},
    )


def test_configurations_are_named_by_what_they_tune_and_refuse_nonsense() -> None:
    assert TuningConfig(6, 1e-3).name == "frozen"
    assert TuningConfig(4, 1e-4).name == "top2"
    assert TuningConfig(0, 5e-5, distill_weight=2.0).name == "all-distill2"
    with pytest.raises(ValueError, match="first_tuned_layer"):
        TuningConfig(7, 1e-4)
    with pytest.raises(ValueError, match="frozen embedding"):
        TuningConfig(6, 1e-4, distill_weight=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        TuningConfig(4, 0.0)


def test_only_the_layers_asked_for_move_and_the_figures_come_back() -> None:
    import torch

    config = TuningConfig(5, 1e-3, epochs=2, batch_size=4)
    model, tokens, _ = train_tuned(encoder_path(), tiny_rows(), config)
    reference, _, _ = train_tuned(encoder_path(), tiny_rows(), TuningConfig(6, 1e-9, epochs=1, batch_size=4))
    layers, untouched = model.encoder.encoder.layer, reference.encoder.encoder.layer
    for index in range(5):
        assert torch.equal(
            layers[index].attention.self.query.weight, untouched[index].attention.self.query.weight
        ), f"frozen layer {index} moved"
    assert not torch.equal(layers[5].attention.self.query.weight, untouched[5].attention.self.query.weight)

    figures = evaluate_tuned(model, tokens, tiny_rows(), "cpu", frozen=reference)
    assert 0.0 <= figures["tweeteval_test_macro_recall"] <= 1.0
    assert set(figures["problem_test"]) == {"apps", "bank"}
    cosine = figures["embedding_cosine_to_frozen"]
    assert -1.0 <= cosine["p05"] <= cosine["mean"] < 1.0  # tuning layer 6 moved the embedding


def test_probe_reports_one_result_per_configuration_in_a_table() -> None:
    configs = [TuningConfig(6, 1e-3, epochs=1, batch_size=4), TuningConfig(5, 1e-4, epochs=1, batch_size=4)]
    results = run_probe(encoder_path(), tiny_rows(), configs)
    assert [r["config"] for r in results] == ["frozen", "top1"]
    assert "embedding_cosine_to_frozen" not in results[0]
    printed = table(results)
    assert "| frozen | 0 |" in printed and "| top1 | 1 |" in printed and ">= 70.0" in printed


def test_rows_file_round_trips_and_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl.gz"
    save_rows(tiny_rows(), path)
    loaded = load_rows(path)
    assert loaded.sentiment == tiny_rows().sentiment and loaded.problem == tiny_rows().problem
    with gzip.open(path, "at", encoding="utf-8") as handle:
        handle.write('{"task": "problem", "split": "train", "text": "x"}\n')
    with pytest.raises(SystemExit, match=r"rows\.jsonl\.gz:\d+: not a probe row"):
        load_rows(path)


def test_the_travelling_encoder_copy_is_half_the_size_and_the_same_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    export_half_precision_model(tmp_path / "model")
    original = encoder_path() / "model.safetensors"
    copy = tmp_path / "model" / "model.safetensors"
    assert copy.stat().st_size < 0.55 * original.stat().st_size
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    before, after = load_file(original), load_file(copy)
    assert before.keys() == after.keys()
    for name, weight in before.items():
        assert (after[name].float() - weight).abs().max() <= 1e-3 * max(1.0, float(weight.abs().max()))


@requires_shared
def test_problem_records_keep_the_asked_splits_and_end_with_general_tweets() -> None:
    records = problem_records(noise_sample=40, seed=13, max_per_split=30, splits=("test",))
    assert records[-1][0] == NOISE_DATASET
    assert 0 < len(records[-1][1]) <= 10  # a quarter of the noise sample for test
    for _, rows in records:
        assert rows and all(row.split == "test" for row in rows) and len(rows) <= 30
