"""Would the heads gain from the encoder's intermediate layers, which the same pass computes anyway? Measured.

The committed heads read only the final normalised sentence embedding, so that a stored post can be
re-scored by any version without the encoder. Every layer's hidden states are computed in that same pass,
and the lower layers keep more of a text's wording; if heads on them were much better, keeping them
would pay for a heavier analysis contract (features stored or re-encoded for re-scoring, every fast
backend exporting extra outputs). This probe trains the same heads with the same code as ``triage model
train`` (problem MLP with its calibration and dataset weighting, the sentiment logistic head with its
validation bias search) once on the final embedding and once on the mean pools of all six layers
(each L2-normalised, concatenated), and prints both on the same held-out parts.

Layer pools are cached by text in the git-ignored ``.cache/classifier/layer-pools.npz`` (a cold cache
encodes ~100k texts: about 20 minutes on 2 CPU cores).

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
from classifier.embedding_cache import load_vectors, save_vectors, text_key  # noqa: E402
from classifier.encoder import EMBEDDING_DIM, length_sorted_batches  # noqa: E402
from classifier.heads import fit_logistic_head  # noqa: E402
from classifier.metrics import macro_recall  # noqa: E402
from classifier.paths import cache_dir  # noqa: E402
from classifier.text import prepare_text  # noqa: E402
from classifier.training.data import (  # noqa: E402
    ProblemExamples,
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

LAYERS = 6  # all-MiniLM-L6-v2
FEATURE_SETS: dict[str, tuple[int, ...]] = {"final embedding": (6,), "layers 1-6": (1, 2, 3, 4, 5, 6)}
TARGETS = {
    "tweeteval": ">= 70.0",
    "nlbse24_issue_reports": ">= 0.85",
    "maalej2016_app_reviews": ">= 0.70",
    "banking77": ">= 0.90",
}
SAVE_EVERY = 8192


class LayerPools:
    """Mean pool of each transformer layer's output (L2-normalised), through the sentence model's own
    tokenisation and length limit, so the last layer's pool is the product's embedding."""

    def __init__(self) -> None:
        from classifier.encoder import load_sentence_encoder

        self._model = load_sentence_encoder().model

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 6, 384) float32."""
        import torch

        prepared = self._model.preprocess(list(texts))
        features = {key: prepared[key] for key in ("input_ids", "attention_mask", "token_type_ids")}
        transformer: Any = self._model[0].auto_model
        with torch.no_grad():
            output = transformer(**features, output_hidden_states=True)
        mask = features["attention_mask"].unsqueeze(-1).float()
        pools = [(hidden * mask).sum(1) / mask.sum(1) for hidden in output.hidden_states[1:]]
        stacked = torch.nn.functional.normalize(torch.stack(pools, dim=1), dim=-1)
        return np.asarray(stacked.numpy(), dtype=np.float32)


def cached_layer_pools(
    texts: Sequence[str],
    encoder: Callable[[], LayerPools],
    path: Path | None = None,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(n, 6, 384) pools of ``texts`` in input order, encoding only texts the cache file lacks; the
    file is rewritten every few thousand texts, so an interrupted run keeps its work."""
    path = path or cache_dir() / "layer-pools.npz"
    known = load_vectors(path)
    keys = [text_key(text) for text in texts]
    missing = sorted({key: index for index, key in enumerate(keys) if key not in known}.values())
    done = 0
    for start in range(0, len(missing), SAVE_EVERY):
        chunk = missing[start : start + SAVE_EVERY]
        model = encoder()
        for batch in length_sorted_batches([texts[i] for i in chunk], batch_size):
            indices = [chunk[i] for i in batch]
            for index, pools in zip(indices, model.encode_batch([texts[i] for i in indices]), strict=True):
                known[keys[index]] = pools
            done += len(batch)
            if progress is not None:
                progress(done)
        save_vectors(path, known)
    if not keys:
        return np.zeros((0, LAYERS, EMBEDDING_DIM), dtype=np.float32)
    return np.stack([known[key] for key in keys]).astype(np.float32)


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


def run(sample: int = 0, cache: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Both feature sets' figures: ``{name: {"tweeteval": ..., dataset: f1, ...}}``."""
    options = TrainingOptions(max_per_split=sample)
    records = _records(sample, options)
    problem_sets: list[tuple[str, list[LabelledText]]] = records["problem"]
    sentiment_parts = [records["sentiment_train"], records["validation"], records["test"]]
    texts = sorted(
        {prepare_text(r.text) for part in sentiment_parts for r in part}
        | {prepare_text(r.text) for _, part in problem_sets for r in part}
    )
    log(f"{len(texts)} distinct texts")
    loaded: list[LayerPools] = []

    def encoder() -> LayerPools:
        if not loaded:
            loaded.append(LayerPools())
        return loaded[0]

    def report(done: int) -> None:
        if done % 6400 < 64:
            log(f"  layer pools: {done} encoded")

    pools = cached_layer_pools(texts, encoder, cache, progress=report)
    row = {text: index for index, text in enumerate(texts)}

    def pools_of(part: Sequence[LabelledText]) -> np.ndarray:
        return pools[[row[prepare_text(r.text)] for r in part]]

    results: dict[str, Any] = {}
    for name, layers in FEATURE_SETS.items():
        train, validation, test = (
            (features(pools_of(part), layers), [r.label for r in part]) for part in sentiment_parts
        )
        examples = [
            example
            for dataset, part in problem_sets
            for example in labelled_examples(dataset, part, features(pools_of(part), layers))
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
