"""How much tuning the encoder's own layers buys over heads on the frozen embedding (a measured probe).

The committed heads read the frozen MiniLM embedding, so clustering and every head share one vector and
a head can be retrained without moving clusters. The question this module answers with figures is what
that costs: it trains the problem and sentiment tasks jointly with the encoder's top layers unfrozen
(``first_tuned_layer`` 6 = none, the frozen baseline; 4 = the top two; 0 = all six) and scores the same
held-out parts the artifact is scored on. With ``distill_weight`` > 0 the heads read the tuned model's own
normalised embedding while a cosine loss keeps that embedding near the frozen one, so the figures show
what is left when clustering keeps (almost) its vectors.

Training needs the ``torch`` and ``transformers`` that sentence-transformers already brings; it runs on a
GPU when one is there (minutes) and on the CPU otherwise (hours at full size; ``max_per_split`` for
small runs). ``benchmarks/fine_tuning_probe.py`` is the command that prints the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classifier.metrics import binary_scores, macro_recall
from classifier.training.train import _dataset_weights, best_logit_shift

SENTIMENT_LABELS = ("negative", "neutral", "positive")
ENCODER_LAYERS = 6  # all-MiniLM-L6-v2
POOLED_SCALE = 20.0  # logit scale on a unit-length embedding (distillation mode)


@dataclass(frozen=True)
class SentimentRow:
    text: str
    label: str


@dataclass(frozen=True)
class ProblemRow:
    text: str
    is_problem: bool
    dataset: str


@dataclass
class TaskRows:
    """Prepared texts of both tasks per split (``train``, ``validation``, ``test``)."""

    sentiment: dict[str, list[SentimentRow]] = field(default_factory=dict)
    problem: dict[str, list[ProblemRow]] = field(default_factory=dict)


@dataclass(frozen=True)
class TuningConfig:
    """One probe run; ``first_tuned_layer`` counts from the bottom (6 = encoder frozen)."""

    first_tuned_layer: int
    learning_rate: float
    epochs: int = 3
    distill_weight: float = 0.0
    batch_size: int = 64
    max_length: int = 128
    seed: int = 13

    def __post_init__(self) -> None:
        if not 0 <= self.first_tuned_layer <= ENCODER_LAYERS:
            raise ValueError(f"first_tuned_layer must be 0..{ENCODER_LAYERS}, got {self.first_tuned_layer}")
        if self.distill_weight and self.first_tuned_layer == ENCODER_LAYERS:
            raise ValueError("distillation needs tuned layers: a frozen embedding cannot move")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs and batch_size must be positive, and learning_rate above 0")

    @property
    def name(self) -> str:
        tuned = ENCODER_LAYERS - self.first_tuned_layer
        base = "frozen" if tuned == 0 else f"top{tuned}" if tuned < ENCODER_LAYERS else "all"
        return f"{base}-distill{self.distill_weight:g}" if self.distill_weight else base


def _torch() -> Any:
    import torch

    return torch


class _Tokens:
    """Tokenises each distinct text once; batches are padded to their own longest text."""

    def __init__(self, tokenizer: Any, max_length: int, device: str) -> None:
        self._tokenizer = tokenizer
        self._max_length = max_length
        self._device = device
        self._ids: dict[str, list[int]] = {}

    def batch(self, texts: Sequence[str]) -> dict[str, Any]:
        torch = _torch()
        missing = sorted({text for text in texts if text not in self._ids})
        if missing:
            encoded = self._tokenizer(missing, truncation=True, max_length=self._max_length)["input_ids"]
            self._ids.update(zip(missing, encoded, strict=True))
        sequences = [self._ids[text] for text in texts]
        width = max(len(ids) for ids in sequences)
        input_ids = torch.zeros(len(sequences), width, dtype=torch.long)
        mask = torch.zeros(len(sequences), width, dtype=torch.long)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        return {
            "input_ids": input_ids.to(self._device),
            "attention_mask": mask.to(self._device),
            "token_type_ids": torch.zeros_like(input_ids).to(self._device),
        }


def _mean_pool(hidden: Any, mask: Any) -> Any:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


def _build_model(model_dir: Path, config: TuningConfig) -> Any:
    torch = _torch()
    from transformers import AutoModel

    class TunedEncoder(torch.nn.Module):  # type: ignore[misc,name-defined]
        """MiniLM with its top layers trainable and two linear heads on the mean-pooled output."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32)
            for parameter in self.encoder.parameters():
                parameter.requires_grad = False
            for layer in self.encoder.encoder.layer[config.first_tuned_layer :]:
                for parameter in layer.parameters():
                    parameter.requires_grad = True
            frozen = config.first_tuned_layer == ENCODER_LAYERS
            # the frozen baseline gets the hidden layer the committed problem head has; tuned layers need none
            width = 256 if frozen else 384
            self.hidden = (
                torch.nn.Sequential(torch.nn.Linear(384, width), torch.nn.ReLU())
                if frozen
                else torch.nn.Identity()
            )
            self.dropout = torch.nn.Dropout(0.1)
            self.sentiment = torch.nn.Linear(width, len(SENTIMENT_LABELS))
            self.problem = torch.nn.Linear(width, 2)

        def forward(self, tokens: dict[str, Any]) -> tuple[Any, Any, Any]:
            pooled = _mean_pool(self.encoder(**tokens).last_hidden_state, tokens["attention_mask"]).float()
            embedding = torch.nn.functional.normalize(pooled, dim=-1)
            if config.distill_weight:
                features = embedding * POOLED_SCALE
            else:
                features = self.hidden(self.dropout(pooled))
            return self.sentiment(features), self.problem(features), embedding

    return TunedEncoder()


def frozen_model(model_dir: Path, device: str) -> Any:
    """The encoder as it ships (every layer frozen), in evaluation mode: the reference embedding."""
    return _build_model(model_dir, TuningConfig(ENCODER_LAYERS, 1.0)).to(device).eval()


def _autocast(device: str) -> Any:
    torch = _torch()
    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)


def train_tuned(
    model_dir: Path,
    rows: TaskRows,
    config: TuningConfig,
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
    frozen: Any | None = None,
    tokens: _Tokens | None = None,
) -> tuple[Any, _Tokens, float]:
    """Train one configuration; returns the model, its tokeniser cache and the training seconds.

    ``frozen`` (a frozen-encoder model, built here when needed and not given) is the distillation target;
    ``tokens`` lets several configurations share one tokenisation of the rows.

    Every step takes one sentiment batch (class-balanced loss, since the metric is macro recall) and one
    problem batch drawn with every dataset equally likely (as the committed head weights them), so the big
    sets do not decide the boundary alone.
    """
    torch = _torch()
    from transformers import AutoTokenizer

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if tokens is None:
        tokens = _Tokens(AutoTokenizer.from_pretrained(str(model_dir)), config.max_length, device)
    model = _build_model(model_dir, config).to(device)
    teacher = frozen
    if config.distill_weight and teacher is None:
        teacher = frozen_model(model_dir, device)
    sentiment, problem = rows.sentiment["train"], rows.problem["train"]
    if not sentiment or not problem:
        raise ValueError("both tasks need training rows")
    sentiment_y = np.array([SENTIMENT_LABELS.index(row.label) for row in sentiment])
    counts = np.bincount(sentiment_y, minlength=3).clip(min=1)
    class_weight = torch.tensor(len(sentiment_y) / (3 * counts), dtype=torch.float32, device=device)
    draw = _dataset_weights([row.dataset for row in problem], "equal")
    draw /= draw.sum()
    per_epoch = max(1, len(sentiment) // config.batch_size)
    steps = per_epoch * config.epochs
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.01)
    warmup = max(1, int(0.06 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, step / warmup) * max(0.0, (steps - step) / steps)
    )
    started = time.perf_counter()
    step = 0
    for _ in range(config.epochs):
        model.train()
        order = rng.permutation(len(sentiment))
        for batch in range(per_epoch):
            chosen = order[batch * config.batch_size : (batch + 1) * config.batch_size]
            drawn = rng.choice(len(problem), config.batch_size, p=draw)
            sentiment_tokens = tokens.batch([sentiment[i].text for i in chosen])
            problem_tokens = tokens.batch([problem[i].text for i in drawn])
            with _autocast(device):
                sentiment_logits, _, sentiment_embedding = model(sentiment_tokens)
                _, problem_logits, problem_embedding = model(problem_tokens)
                loss = torch.nn.functional.cross_entropy(
                    sentiment_logits.float(),
                    torch.tensor(sentiment_y[chosen], device=device),
                    weight=class_weight,
                ) + torch.nn.functional.cross_entropy(
                    problem_logits.float(),
                    torch.tensor([int(problem[i].is_problem) for i in drawn], device=device),
                )
                if teacher is not None and config.distill_weight:
                    with torch.no_grad():
                        _, _, frozen_sentiment = teacher(sentiment_tokens)
                        _, _, frozen_problem = teacher(problem_tokens)
                    drift = (1 - (sentiment_embedding * frozen_sentiment).sum(-1)).mean() + (
                        1 - (problem_embedding * frozen_problem).sum(-1)
                    ).mean()
                    loss = loss + config.distill_weight * drift
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if log and step % 500 == 0:
                log(f"  {config.name}: step {step}/{steps}, loss {loss.item():.3f}")
    return model, tokens, time.perf_counter() - started


def predict(
    model: Any, tokens: _Tokens, texts: Sequence[str], device: str, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentiment logits, problem probability and unit embedding per text, in input order."""
    torch = _torch()
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    logits = np.zeros((len(texts), len(SENTIMENT_LABELS)), dtype=np.float32)
    probability = np.zeros(len(texts), dtype=np.float32)
    embeddings = np.zeros((len(texts), 384), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            with _autocast(device):
                sentiment, problem, embedding = model(tokens.batch([texts[i] for i in batch]))
            logits[batch] = sentiment.float().cpu().numpy()
            probability[batch] = problem.float().softmax(-1)[:, 1].cpu().numpy()
            embeddings[batch] = embedding.float().cpu().numpy()
    return logits, probability, embeddings


def evaluate_tuned(
    model: Any, tokens: _Tokens, rows: TaskRows, device: str, frozen: Any | None = None
) -> dict[str, Any]:
    """TweetEval test macro recall and per-dataset problem F1 (at 0.5) on the test parts.

    Where a dataset has no problem reports (general tweets), the share flagged is reported instead.
    ``frozen`` (a frozen-encoder model) adds the mean and 5th-percentile cosine of this model's
    embedding to the frozen one: what clustering would see move.
    """
    validation, test = rows.sentiment["validation"], rows.sentiment["test"]
    validation_logits, _, _ = predict(model, tokens, [r.text for r in validation], device)
    test_logits, _, test_embeddings = predict(model, tokens, [r.text for r in test], device)
    shift, _ = best_logit_shift(validation_logits, [r.label for r in validation], SENTIMENT_LABELS)
    truth = [r.label for r in test]
    figures: dict[str, Any] = {
        "tweeteval_test_macro_recall": macro_recall(
            truth, [SENTIMENT_LABELS[i] for i in (test_logits + shift).argmax(1)], SENTIMENT_LABELS
        ),
        "problem_test": {},
    }
    problem_rows = rows.problem["test"]
    _, probability, problem_embeddings = predict(model, tokens, [r.text for r in problem_rows], device)
    for dataset in sorted({r.dataset for r in problem_rows}):
        index = [i for i, r in enumerate(problem_rows) if r.dataset == dataset]
        labels = [problem_rows[i].is_problem for i in index]
        flagged = [bool(probability[i] >= 0.5) for i in index]
        figures["problem_test"][dataset] = (
            {"f1": binary_scores(labels, flagged)["f1"]}
            if any(labels)
            else {"flagged": float(np.mean(flagged))}
        )
    if frozen is not None:
        texts = [r.text for r in test] + [r.text for r in problem_rows]
        _, _, reference = predict(frozen, tokens, texts, device)
        cosine = (np.concatenate([test_embeddings, problem_embeddings]) * reference).sum(1)
        figures["embedding_cosine_to_frozen"] = {
            "mean": float(cosine.mean()),
            "p05": float(np.quantile(cosine, 0.05)),
        }
    return figures


def run_probe(
    model_dir: Path,
    rows: TaskRows,
    configs: Sequence[TuningConfig],
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train and score each configuration in turn; one result dict per configuration."""
    from transformers import AutoTokenizer

    frozen = frozen_model(model_dir, device)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    shared: dict[int, _Tokens] = {}
    results = []
    for config in configs:
        cache = shared.setdefault(config.max_length, _Tokens(tokenizer, config.max_length, device))
        model, tokens, seconds = train_tuned(model_dir, rows, config, device, log, frozen, cache)
        tuned_any = config.first_tuned_layer < ENCODER_LAYERS
        figures = evaluate_tuned(model, tokens, rows, device, frozen if tuned_any else None)
        result = {"config": config.name, **asdict(config), "train_seconds": seconds, **figures}
        results.append(result)
        if log:
            log(f"{config.name}: TweetEval {100 * figures['tweeteval_test_macro_recall']:.1f}")
        del model
    return results
