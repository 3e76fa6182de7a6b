"""Throughput benchmark: the whole pipeline against the analysis stage alone, and against bare encoding.

Replays a scenario (default ``../shared/scenarios/fintech_day.jsonl``) into a
fresh SQLite database through every stage (read, store, analyse, triage,
persist, report) and, in the same process on the same texts, times the
analysis stage alone (a fresh analyser of the same backend and batch size on
every post text) and a bare ``SentenceTransformer.encode`` (fp32, batch 32).
The first ratio says what the pipeline costs beyond analysing (goal >= 0.8x),
the second what it costs beyond the bare encoder; machines here are noisy, so
only ratios are comparable between runs.

    python benchmarks/replay_throughput.py
    python benchmarks/replay_throughput.py --scenario ../shared/scenarios/throughput_large.jsonl
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._shared import require_shared  # noqa: E402


def post_texts(scenario: Path) -> list[str]:
    texts = []
    with scenario.open(encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            if obj.get("type") == "post":
                texts.append(obj["text"])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N lines")
    parser.add_argument("--backend", default="torch", help="encoder backend of the analysis stage")
    parser.add_argument("--batch-size", type=int, default=None, help="analysis batch (default: setting)")
    args = parser.parse_args()
    scenario = args.scenario or require_shared() / "scenarios" / "fintech_day.jsonl"
    work = Path(tempfile.mkdtemp(prefix="throughput-bench-"))
    if args.limit:
        cut = work / scenario.name
        with scenario.open(encoding="utf-8") as source, cut.open("w", encoding="utf-8") as target:
            for number, line in enumerate(source):
                if number >= args.limit:
                    break
                target.write(line)
        scenario = cut

    from sentence_transformers import SentenceTransformer

    from classifier.analysis import load_analyzer
    from classifier.encoder import encoder_path
    from triage.replay.flow import replay_file
    from triage.settings import Settings

    analyzer = load_analyzer(backend=args.backend)
    analyzer.analyze(["warm up the encoder"] * 64)
    texts = post_texts(scenario)

    settings = Settings(data_dir=work, database_url=f"sqlite:///{work / 'bench.db'}")
    if args.batch_size:
        settings.analysis_batch_size = args.batch_size
    started = time.perf_counter()
    result = replay_file(scenario, settings, analyzer)
    pipeline_seconds = time.perf_counter() - started

    alone = load_analyzer(backend=args.backend)  # fresh: nothing remembered from the replay
    started = time.perf_counter()
    alone.analyze(texts, batch_size=settings.analysis_batch_size)
    analysis_seconds = time.perf_counter() - started

    encoder = SentenceTransformer(str(encoder_path()), device="cpu")
    encoder.encode(["warm up"] * 64, batch_size=32)
    started = time.perf_counter()
    encoder.encode(texts, batch_size=32, normalize_embeddings=True)
    encode_seconds = time.perf_counter() - started

    posts = len(texts)
    pipeline_rate, encode_rate = posts / pipeline_seconds, posts / encode_seconds
    analysis_rate = posts / analysis_seconds
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario            {scenario.name} ({posts} posts)")
    print(f"pipeline            {pipeline_rate:8.1f} posts/s  ({pipeline_seconds:.1f} s end to end)")
    print(
        f"analysis alone      {analysis_rate:8.1f} posts/s  ({analysis_seconds:.1f} s, {args.backend}, "
        f"batch {settings.analysis_batch_size or analyzer.batch_size})"
    )
    print(f"bare encode (fp32)  {encode_rate:8.1f} posts/s  ({encode_seconds:.1f} s)")
    print(f"ratio to analysis   {pipeline_rate / analysis_rate:8.2f}x  (goal >= 0.8x)")
    print(f"ratio to encode     {pipeline_rate / encode_rate:8.2f}x")
    print(f"peak memory         {peak_mib:8.0f} MiB")
    for stage, seconds in result.stage_seconds.items():
        print(f"  {stage:<17} {seconds:8.1f} s  ({posts / max(seconds, 1e-9):9.0f} posts/s)")


if __name__ == "__main__":
    main()
