"""Would the heads gain from the encoder's intermediate layers, which the same pass computes anyway? Measured.

The committed heads read only the final normalised sentence embedding, so that a stored post can be
re-scored by any version without the encoder. Every layer's hidden states are computed in that same pass,
and the lower layers keep more of a text's wording; if heads on them were much better, keeping them
would pay for a heavier analysis contract (features stored or re-encoded for re-scoring, every fast
backend exporting extra outputs). This probe trains the same heads with the same code as ``triage model
train`` (problem MLP with its calibration and dataset weighting, the sentiment logistic head with its
validation bias search) once on the final embedding and once on the mean pools of all six layers
(each L2-normalised, concatenated), and prints both on the same held-out parts.

Layer pools come from the product's own encoder (``TorchSentenceEncoder.encode_layers``) through the
training cache (``.cache/classifier/embeddings/<pool>.layer-pools.npz``, shared with ``triage model train
--features layer-pools``; a cold cache encodes ~100k texts: about 20 minutes on 2 CPU cores). v3 is the
"layers 1-6" row trained and committed.

    python benchmarks/layer_features_probe.py [--sample N] [--out var/layer-probe.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.datasets import LabelledText, load_semeval_pool, load_tweeteval  # noqa: E402
from classifier.encoder import EMBEDDING_DIM, LAYERS, load_sentence_encoder  # noqa: E402
from classifier.features import LAYER_POOLS, FeatureLoader  # noqa: E402
from classifier.heads import fit_logistic_head  # noqa: E402
from classifier.metrics import macro_recall  # noqa: E402
from classifier.training.data import (  # noqa: E402
    ProblemExamples,
    embed_records,
    labelled_examples,
    problem_records,
    sample_per_split,
)
from classifier.training.train import (  # noqa: E402
    SENTIMENT_LABELS,
    TrainingOptions,
    best_logit_shift,
    train_problem_and_category,
)

FEATURE_SETS: dict[str, tuple[int, ...]] = {"final embedding": (6,), "layers 1-6": (1, 2, 3, 4, 5, 6)}
TARGETS = {
    "tweeteval": ">= 70.0",
    "nlbse24_issue_reports": ">= 0.85",
    "maalej2016_app_reviews": ">= 0.70",
    "banking77": ">= 0.90",
}


def features(pools: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """The pools of ``layers`` (1-based) side by side: (n, 384 * len(layers))."""
    return pools[:, [layer - 1 for layer in layers], :].reshape(len(pools), -1)


def sentiment_figure(
    train: tuple[np.ndarray, list[str]],
    validation: tuple[np.ndarray, list[str]],
    test: tuple[np.ndarray, list[str]],
    c_grid: Sequence[float] = TrainingOptions().sentiment_c_grid,
) -> float:
    """TweetEval test macro recall of the committed sentiment recipe on these features: balanced
    logistic heads over ``c_grid``, each with the per-class bias that maximises validation macro recall;
    the best on validation is scored on test."""
    best: tuple[float, float] | None = None
    for c in c_grid:
        head = fit_logistic_head(train[0], train[1], SENTIMENT_LABELS, c, class_weight="balanced")
        shift, score = best_logit_shift(head.logits(validation[0]), validation[1], SENTIMENT_LABELS)
        predicted = [SENTIMENT_LABELS[i] for i in (head.logits(test[0]) + shift).argmax(1)]
        figure = macro_recall(test[1], predicted, SENTIMENT_LABELS)
        if best is None or score > best[0]:
            best = (score, figure)
    assert best is not None
    return best[1]


def problem_figures(examples: list[ProblemExamples], options: TrainingOptions) -> dict[str, dict[str, float]]:
    """Per dataset, the test F1 of the committed problem-head recipe on these features, or the share
    flagged where a dataset holds no problem reports (general and off-topic tweets)."""
    _, _, metrics = train_problem_and_category(examples, options)
    return {
        dataset: {"f1": scores["f1"]} if scores["positives"] else {"flagged": scores["flagged_rate"]}
        for dataset, scores in metrics["test"].items()
    }


def _records(sample: int, options: TrainingOptions) -> dict[str, Any]:
    pool = load_semeval_pool()
    return {
        "sentiment_train": sample_per_split(pool, sample, options.seed),
        "validation": sample_per_split(load_tweeteval("validation"), sample, options.seed),
        "test": sample_per_split(load_tweeteval("test"), sample, options.seed),
        "problem": problem_records(options.noise_sample, options.seed, pool, sample),
    }


def run(sample: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Both feature sets' figures: ``{name: {"tweeteval": ..., dataset: f1, ...}}``."""
    options = TrainingOptions(max_per_split=sample)
    records = _records(sample, options)
    problem_sets: list[tuple[str, list[LabelledText]]] = records["problem"]
    sentiment_parts = [records["sentiment_train"], records["validation"], records["test"]]
    loader = FeatureLoader(LAYER_POOLS, load_sentence_encoder)

    def pools_of(part: Sequence[LabelledText], pool: str) -> np.ndarray:
        return embed_records(list(part), pool, loader).reshape(len(part), LAYERS, EMBEDDING_DIM)

    log("layer pools (cached after the first run)")
    sentiment_pools = [
        pools_of(records["sentiment_train"], "semeval2017_task4a_devdata"),
        pools_of(records["validation"], "tweeteval_sentiment"),
        pools_of(records["test"], "tweeteval_sentiment"),
    ]
    problem_pools = [pools_of(part, dataset) for dataset, part in problem_sets]

    results: dict[str, Any] = {}
    for name, layers in FEATURE_SETS.items():
        train, validation, test = (
            (features(pools, layers), [r.label for r in part])
            for part, pools in zip(sentiment_parts, sentiment_pools, strict=True)
        )
        examples = [
            example
            for (dataset, part), pools in zip(problem_sets, problem_pools, strict=True)
            for example in labelled_examples(dataset, part, features(pools, layers))
        ]
        results[name] = {
            "tweeteval": sentiment_figure(train, validation, test, options.sentiment_c_grid),
            **problem_figures(examples, options),
        }
        log(f"{name}: done")
    return results


def _cell(figure: dict[str, float]) -> str:
    return f"{figure['f1']:.3f}" if "f1" in figure else f"{100 * figure['flagged']:.1f} % flagged"


def table(results: dict[str, Any]) -> str:
    """Markdown: one row per feature set; problem F1 per dataset, or the share of non-problems flagged."""
    datasets = sorted({key for figures in results.values() for key in figures if key != "tweeteval"})
    header = ["features", "TweetEval", *datasets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, figures in results.items():
        cells = [name, f"{100 * figures['tweeteval']:.1f}", *(_cell(figures[d]) for d in datasets)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| target | " + " | ".join(TARGETS.get(k, "–") for k in ["tweeteval", *datasets]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=int, default=0, help="at most N rows per split of every set (quick)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    results = run(args.sample)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
