"""What tuning MiniLM's own layers would buy over heads on the frozen embedding, measured.

Trains the problem and sentiment tasks jointly with the encoder's top layers unfrozen (see
:mod:`classifier.training.tuned_layers`) and prints, per configuration, the issue 4 figures on the same
held-out parts the committed artifact is scored on, beside ``frozen`` (the same training loop with the
encoder frozen) from the same run, and how far each tuned model's embedding moved from the frozen one
(what clustering would see). A GPU makes a configuration take 2-3 minutes; on two CPU cores a full-size
configuration takes hours, so use ``--sample`` there.

The device machine gets only the checkout (at most 64 MiB): export the rows and an fp16 copy of the
encoder (44 MB instead of 88; loaded back as fp32) into a git-ignored folder here, carry it, train there::

    python benchmarks/fine_tuning_probe.py --export-rows var/gpu/rows.jsonl.gz --export-model var/gpu/model
    python benchmarks/fine_tuning_probe.py --rows var/gpu/rows.jsonl.gz --model-dir var/gpu/model \\
        --configs frozen top2 all --out var/gpu/probe.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.training.tuned_layers import (  # noqa: E402
    ProblemRow,
    SentimentRow,
    TaskRows,
    TuningConfig,
    run_probe,
)

CONFIGS = {
    "frozen": TuningConfig(6, 1e-3, epochs=4),
    "top1": TuningConfig(5, 1e-4),
    "top2": TuningConfig(4, 1e-4),
    "top3": TuningConfig(3, 1e-4),
    "all": TuningConfig(0, 5e-5),
    "all-distill2": TuningConfig(0, 5e-5, distill_weight=2.0),
    "all-distill10": TuningConfig(0, 5e-5, distill_weight=10.0),
}
COLUMNS = (
    ("nlbse24", "nlbse24_issue_reports", ">= 0.85"),
    ("maalej", "maalej2016_app_reviews", ">= 0.70"),
    ("banking77", "banking77", ">= 0.90"),
    ("airline", "airline_sentiment_2015", "–"),
    ("tizard", "tizard2019_forum_sentences", "–"),
)


def build_rows(seed: int = 13, noise_sample: int = 6000) -> TaskRows:
    """Both tasks' rows from ../shared, with the artifact's label mapping, splits and text preparation."""
    from classifier.datasets import load_semeval_pool, load_tweeteval
    from classifier.labels import problem_label
    from classifier.text import prepare_text
    from classifier.training.data import problem_records

    pool = load_semeval_pool()
    rows = TaskRows()
    rows.sentiment["train"] = [SentimentRow(prepare_text(r.text), r.label) for r in pool]
    for split in ("validation", "test"):
        rows.sentiment[split] = [SentimentRow(prepare_text(r.text), r.label) for r in load_tweeteval(split)]
    for split in ("train", "validation", "test"):
        rows.problem[split] = []
    for dataset, records in problem_records(noise_sample, seed, semeval_pool=pool):
        for record in records:
            label = problem_label(dataset, record.label)
            if label is not None:
                rows.problem[record.split].append(ProblemRow(prepare_text(record.text), bool(label), dataset))
    return rows


def sample_rows(rows: TaskRows, cap: int, seed: int) -> TaskRows:
    """At most ``cap`` rows per task and split (seeded), for quick runs; figures then are not comparable."""
    rng = random.Random(seed)
    return TaskRows(
        {split: rng.sample(items, min(cap, len(items))) for split, items in rows.sentiment.items()},
        {split: rng.sample(items, min(cap, len(items))) for split, items in rows.problem.items()},
    )


def save_rows(rows: TaskRows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for task, splits in (("sentiment", rows.sentiment), ("problem", rows.problem)):
            for split, items in splits.items():
                for item in items:
                    handle.write(json.dumps({"task": task, "split": split, **asdict(item)}) + "\n")


def load_rows(path: Path) -> TaskRows:
    rows = TaskRows()
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                item = json.loads(line)
                task, split = item.pop("task"), item.pop("split")
                if task == "sentiment":
                    rows.sentiment.setdefault(split, []).append(SentimentRow(**item))
                else:
                    rows.problem.setdefault(split, []).append(ProblemRow(**item))
            except (ValueError, TypeError, KeyError) as error:
                raise SystemExit(f"{path}:{number}: not a probe row ({error})") from None
    return rows


def export_half_precision_model(target: Path) -> None:
    """The packaged encoder with its weights in fp16, small enough to travel to the device machine."""
    import shutil

    from safetensors.torch import load_file, save_file

    from classifier.encoder import encoder_path

    source = encoder_path()
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"), dirs_exist_ok=True)
    weights = load_file(source / "model.safetensors")
    save_file({k: v.half() for k, v in weights.items()}, target / "model.safetensors", {"format": "pt"})


def table(results: list[dict[str, Any]]) -> str:
    header = ["config", "tuned layers", "TweetEval", *(name for name, _, _ in COLUMNS), "general flagged"]
    header += ["cos to frozen (mean/p05)", "train s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        problem = result["problem_test"]
        cosine = result.get("embedding_cosine_to_frozen")
        cells = [
            result["config"],
            str(6 - result["first_tuned_layer"]),
            f"{100 * result['tweeteval_test_macro_recall']:.1f}",
            *(f"{problem[key]['f1']:.3f}" if "f1" in problem.get(key, {}) else "–" for _, key, _ in COLUMNS),
            f"{100 * problem.get('semeval2017_task4a_devdata', {}).get('flagged', 0.0):.1f} %",
            f"{cosine['mean']:.3f}/{cosine['p05']:.3f}" if cosine else "1 (frozen)",
            f"{result['train_seconds']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    targets = ["target", "", ">= 70.0", *(target for _, _, target in COLUMNS), "", "", ""]
    lines.append("| " + " | ".join(targets) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=["frozen", "top2", "all"], choices=sorted(CONFIGS))
    parser.add_argument("--rows", type=Path, help="rows written by --export-rows (instead of ../shared)")
    parser.add_argument("--export-rows", type=Path, help="write the rows from ../shared here and stop")
    parser.add_argument("--export-model", type=Path, help="write an fp16 copy of the encoder here and stop")
    parser.add_argument("--model-dir", type=Path, help="MiniLM folder (default: the packaged one)")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when available)")
    parser.add_argument(
        "--sample", type=int, default=0, help="at most N rows per task and split (quick runs)"
    )
    parser.add_argument("--epochs", type=int, help="override every configuration's epochs")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    if args.export_rows or args.export_model:
        if args.export_rows:
            save_rows(build_rows(), args.export_rows)
            print(f"rows written to {args.export_rows}")
        if args.export_model:
            export_half_precision_model(args.export_model)
            print(f"fp16 encoder copy written to {args.export_model}")
        return
    rows = load_rows(args.rows) if args.rows else build_rows()
    if args.sample:
        rows = sample_rows(rows, args.sample, seed=13)
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if args.model_dir is None:
        from classifier.encoder import encoder_path

        args.model_dir = encoder_path()
    configs = [CONFIGS[name] for name in args.configs]
    if args.epochs:
        configs = [TuningConfig(**{**asdict(c), "epochs": args.epochs}) for c in configs]
    results: list[dict[str, Any]] = []
    for config in configs:  # one at a time, so a run stopped early keeps what it finished
        results += run_probe(args.model_dir, rows, [config], device, log=lambda line: print(line, flush=True))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"\ndevice: {device}; rows: sentiment train {len(rows.sentiment['train'])}, "
        f"problem train {len(rows.problem['train'])}\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
