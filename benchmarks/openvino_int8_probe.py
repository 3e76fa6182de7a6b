"""What static int8 would add on top of the openvino-bf16 backend, and why it is not offered.

Quantises the converted MiniLM graph with NNCF (post-training, transformer preset, mixed symmetric/
asymmetric ranges), calibrated on the demo day's posts (``data/demo``, text this repository wrote; never the
measured tweets), and measures each recipe exactly as ``benchmarks/analysis_speed.py`` measures the
backends: speed against bare fp32 encode and agreement with the fp32 analysis on the same 2,000 real
tweets. A recipe could be offered only if it kept mean cosine >= 0.99 and >= 99 % identical problem and
sentiment decisions.

    pip install nncf   # not a dependency of the product
    python benchmarks/openvino_int8_probe.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.analysis_speed import compare_backends, measured_tweets  # noqa: E402
from classifier.analysis import Analyzer, load_encoder_backend  # noqa: E402
from classifier.artifact import default_artifact_dir, load_artifact  # noqa: E402
from classifier.encoder import MAX_SEQ_LENGTH, encoder_path  # noqa: E402
from classifier.openvino_backend import INPUT_NAMES, compile_encoder, openvino_model_path  # noqa: E402
from classifier.text import prepare_text  # noqa: E402

DEMO_DAY = Path(__file__).resolve().parents[1] / "data" / "demo" / "demo_day.jsonl"
CALIBRATION_BATCH = 16
# The feed-forward output projections (1536 -> 384) read post-GELU activations with a long tail, the
# usual int8 trouble spot in BERT-style encoders; the second recipe leaves them in bf16.
FFN_OUTPUT = r".*layer\.\d+\.output\.dense.*"
RECIPES: dict[str, list[str]] = {"openvino-int8": [], "openvino-int8-ffn-bf16": [FFN_OUTPUT]}


def calibration_batches() -> list[dict[str, Any]]:
    """Tokenised batches of the demo day's post texts, as the backend feeds them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_path()))
    records = (json.loads(line) for line in DEMO_DAY.read_text(encoding="utf-8").splitlines() if line)
    texts = [prepare_text(record["text"]) for record in records if record.get("text")]
    batches = []
    for start in range(0, len(texts), CALIBRATION_BATCH):
        tokens = tokenizer(
            texts[start : start + CALIBRATION_BATCH],
            padding=True,
            truncation=True,
            max_length=MAX_SEQ_LENGTH,
            return_tensors="np",
        )
        batches.append({name: tokens[name] for name in INPUT_NAMES})
    return batches


def quantised(ignored_patterns: list[str], batches: list[dict[str, Any]]) -> Any:
    import nncf
    import openvino

    graph = openvino.Core().read_model(str(openvino_model_path()))
    return nncf.quantize(
        graph,
        nncf.Dataset(batches),
        model_type=nncf.ModelType.TRANSFORMER,
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(batches),
        ignored_scope=nncf.IgnoredScope(patterns=ignored_patterns) if ignored_patterns else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        import nncf  # noqa: F401
    except ImportError:
        print("cannot run: this probe needs nncf (pip install nncf)", file=sys.stderr)
        return 2
    texts = measured_tweets(args.seed)
    if texts is None:
        return 2
    artifact = load_artifact(default_artifact_dir())
    batches = calibration_batches()
    analyzers = {
        "torch": Analyzer(load_encoder_backend("torch"), artifact, cache_entries=0),
        "openvino-bf16": Analyzer(load_encoder_backend("openvino-bf16"), artifact, cache_entries=0),
    }
    for name, ignored in RECIPES.items():
        analyzers[name] = Analyzer(
            compile_encoder(quantised(ignored, batches), name), artifact, cache_entries=0
        )
    label = f"real tweets (twcs_spotifycares_inbound, seed {args.seed}); int8 calibrated on {len(batches)} "
    label += "batches of the demo day's posts"
    compare_backends(texts, analyzers, args.repeats, None, label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
