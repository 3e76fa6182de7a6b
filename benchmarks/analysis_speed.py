"""Analysis speed: the classifier's analysis rate against bare ``SentenceTransformer.encode`` in the same run.

Both sides process the same 2,000 real customer tweets (a seeded sample of ``twcs_spotifycares_inbound``).
Baseline: ``SentenceTransformer.encode(texts, batch_size=32)`` in fp32. Candidates: the full analysis
(text preparation, length-sorted batching, encoder, three heads, language mark) with each backend.
A backend counts only if it keeps agreement with the fp32 reference: mean cosine >= 0.99 to the fp32
embedding and >= 99 % identical problem and sentiment decisions. Each timing is the best of ``--repeats``
runs, interleaved, because the machine is shared and noisy; only ratios are comparable between runs.
``cpu ratio`` compares process CPU seconds (all threads), which a busy neighbour distorts less than wall
time; ``ratio`` is the wall-clock one.

    python benchmarks/analysis_speed.py [--repeats 3] [--batch-size N] [--backends torch,openvino-bf16]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.analysis import Analyzer, load_encoder_backend  # noqa: E402
from classifier.artifact import ModelArtifactError, default_artifact_dir, load_artifact  # noqa: E402
from classifier.encoder import load_sentence_encoder  # noqa: E402
from classifier.paths import SharedDataMissingError, dataset_csv  # noqa: E402
from classifier.text import prepare_text  # noqa: E402

SAMPLE = 2000


def real_tweets(seed: int) -> list[str]:
    csv.field_size_limit(10**8)
    with dataset_csv("twcs_spotifycares_inbound").open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle) if row["text"].strip()]
    return random.Random(seed).sample(texts, SAMPLE)


def measured_tweets(seed: int) -> list[str] | None:
    """The measured tweets, or None after saying why they cannot be read (``../shared`` missing)."""
    try:
        return real_tweets(seed)
    except SharedDataMissingError as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return None


def timed(run) -> tuple[float, float, Any]:  # type: ignore[no-untyped-def]
    """Wall seconds, CPU seconds of this process (all threads), and the result of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def compare_backends(
    texts: list[str], analyzers: dict[str, Analyzer], repeats: int, batch_size: int | None, label: str
) -> None:
    """Time each analyzer against bare fp32 encode on ``texts`` and print speed and agreement; agreement
    is with the analyzer named ``torch`` (the fp32 reference), which should be among them."""
    artifact_threshold = next(iter(analyzers.values())).problem_threshold
    reference_model = load_sentence_encoder().model
    reference_model.encode(texts[:64], batch_size=32)  # warm-up: first call pays lazy initialisation
    for analyzer in analyzers.values():
        analyzer.analyze(texts[:64])

    wall: dict[str, list[float]] = {"bare encode": [], **{name: [] for name in analyzers}}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    outputs: dict[str, list] = {}
    for _ in range(repeats):  # interleaved so a noisy neighbour hurts every candidate alike
        seconds, cpu_seconds, _ = timed(lambda: reference_model.encode(texts, batch_size=32))
        wall["bare encode"].append(seconds)
        cpu["bare encode"].append(cpu_seconds)
        for name, analyzer in analyzers.items():
            seconds, cpu_seconds, outputs[name] = timed(lambda a=analyzer: a.analyze(texts, batch_size))
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)

    reference = np.asarray(
        reference_model.encode([prepare_text(t) for t in texts], batch_size=32, normalize_embeddings=True)
    )
    baseline_rate = len(texts) / min(wall["bare encode"])
    baseline_cpu = min(cpu["bare encode"])
    print(f"{len(texts)} {label}, best of {repeats}, torch threads {torch.get_num_threads()}")
    print(
        f"{'candidate':<32}{'batch':>6}{'posts/s':>9}{'ratio':>8}{'cpu ratio':>10}{'cosine':>9}"
        f"{'problem =':>11}{'sentiment =':>13}  ok"
    )
    print(f"{'bare encode fp32':<32}{32:>6}{baseline_rate:>9.0f}{1.0:>8.2f}{1.0:>10.2f}")
    fp32 = outputs.get("torch")
    for name, analyzer in analyzers.items():
        rate = len(texts) / min(wall[name])
        cpu_ratio = baseline_cpu / min(cpu[name])
        results = outputs[name]
        embeddings = np.stack([r.embedding for r in results])
        cosine = float(np.mean(np.sum(embeddings * reference, axis=1)))
        compare = fp32 or results
        problem_same = np.mean(
            [
                (a.problem_probability >= artifact_threshold) == (b.problem_probability >= artifact_threshold)
                for a, b in zip(results, compare, strict=True)
            ]
        )
        sentiment_same = np.mean([a.sentiment == b.sentiment for a, b in zip(results, compare, strict=True)])
        ok = cosine >= 0.99 and problem_same >= 0.99 and sentiment_same >= 0.99
        print(
            f"{'analysis ' + name:<32}{batch_size or analyzer.batch_size:>6}{rate:>9.0f}"
            f"{rate / baseline_rate:>8.2f}{cpu_ratio:>10.2f}{cosine:>9.4f}"
            f"{100 * problem_same:>10.1f}%{100 * sentiment_same:>12.1f}%  {'yes' if ok else 'NO'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="texts per encoder call (default: each backend's own)"
    )
    parser.add_argument("--backends", default="torch,torch-bf16,openvino-bf16,onnx-fp32,onnx-int8")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", type=Path, help="model version folder (default: the one in use)")
    args = parser.parse_args()
    texts = measured_tweets(args.seed)
    if texts is None:
        return 2
    artifact = load_artifact(args.model or default_artifact_dir())
    analyzers = {}
    for name in args.backends.split(","):
        try:
            analyzers[name] = Analyzer(load_encoder_backend(name), artifact, cache_entries=0)
        except ModelArtifactError as error:  # a backend missing here, or one that cannot serve these heads
            print(f"skipping {name}: {error}", file=sys.stderr)
    label = f"real tweets (twcs_spotifycares_inbound, seed {args.seed})"
    compare_backends(texts, analyzers, args.repeats, args.batch_size, label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
