"""Live triage pass cost as posts pile up: continuing from the last pass against rebuilding.

The live runners (embedded and Celery) run a triage pass every few seconds.
This benchmark streams a scenario's stored, analysed posts into two fresh
databases slice by slice (default: the first 24 hours of ``throughput_large``
in 24 hourly slices) and, after each slice, times one pass on each:

- *continued*: ``run_and_store`` with a ``ContinuedTriage`` kept between
  passes, as the runners now do;
- *rebuild*: a replay of every stored post through a fresh engine, then a full
  rewrite of the state (what every pass did before), every ``--rebuild-every``
  slices and on the last.

Both passes' reports are compared wherever both ran (they must be identical).
The figure is the ratio of the rebuild's time to the continued pass's at the
last slice, measured in the same process, and the continued pass's cost per
new post at the first and last slice (flat means it does not grow with the
posts already stored).

    python -m benchmarks.live_pass_cost --db-dir var/bench           # reuses the detection benchmark's DB
    python -m benchmarks.live_pass_cost --hours 48 --slices 48 --rebuild-every 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._shared import require_shared  # noqa: E402

WIDTHS = (5, 7, 6, 11, 11, 9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="throughput_large")
    parser.add_argument("--db-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--hours", type=float, default=24.0, help="event-time hours to stream")
    parser.add_argument("--slices", type=int, default=24, help="passes over those hours")
    parser.add_argument("--rebuild-every", type=int, default=4, help="time a rebuild every N slices")
    args = parser.parse_args(argv)

    from classifier.analysis import load_analyzer
    from triage.replay.flow import replay_file
    from triage.settings import Settings

    scenario = require_shared() / "scenarios" / f"{args.scenario}.jsonl"
    args.db_dir.mkdir(parents=True, exist_ok=True)
    source = args.db_dir / f"{args.scenario}.db"
    analyzer = load_analyzer()
    if not source.exists():
        print(f"storing and analysing {scenario.name} (once; reused afterwards) ...", file=sys.stderr)
        replay_file(scenario, Settings(data_dir=args.db_dir, database_url=f"sqlite:///{source}"), analyzer)
    with tempfile.TemporaryDirectory(prefix="live-pass-") as folder:
        run(Path(folder), source, args, analyzer)


def run(folder: Path, source: Path, args: argparse.Namespace, analyzer: Any) -> None:
    from sqlalchemy import func, select

    from triage.escalation.outbox import enqueue_signal_messages
    from triage.replay.flow import SilentProgress, run_triage
    from triage.replay.report import build_report
    from triage.runners.continued_triage import ContinuedTriage, run_and_store
    from triage.settings import Settings
    from triage.storage.database import create_db_engine, migrate, session_factory, transaction
    from triage.storage.models import PostRow
    from triage.storage.outcomes import replace_triage_state

    source_engine = create_db_engine(f"sqlite:///{source}")
    with source_engine.connect() as connection:
        start = connection.scalar(select(func.min(PostRow.created_at)).where(PostRow.tenant == args.scenario))
    if start is None:
        raise SystemExit(f"no posts of tenant {args.scenario!r} in {source}")
    targets = {}
    for name in ("continued", "rebuild"):
        settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / (name + '.db')}")
        engine = create_db_engine(settings.resolved_database_url)
        migrate(engine)
        targets[name] = (settings, engine, session_factory(engine))
    memory = ContinuedTriage(targets["continued"][0])
    step = timedelta(hours=args.hours / args.slices)

    header = ("slice", "stored", "new", "continued s", "ms/new post", "rebuild s")
    print("  ".join(f"{name:>{width}}" for name, width in zip(header, WIDTHS, strict=True)) + "  same")
    rows: list[tuple[int, int, float, float | None]] = []
    stored = 0
    for number in range(1, args.slices + 1):
        begin, end = start + step * (number - 1), start + step * number
        new = 0
        for _, engine, _ in targets.values():
            new = copy_slice(source_engine, engine, args.scenario, begin, end, first=number == 1)
        stored += new

        settings, _, sessions = targets["continued"]
        began = time.perf_counter()
        result, _ = run_and_store(sessions, args.scenario, analyzer, memory)
        continued = time.perf_counter() - began

        rebuilt: float | None = None
        same = ""
        if number % args.rebuild_every == 0 or number == args.slices:
            settings, _, sessions = targets["rebuild"]
            began = time.perf_counter()
            engine = run_triage(sessions, args.scenario, analyzer, settings, SilentProgress())
            with transaction(sessions) as session:
                replace_triage_state(session, args.scenario, engine)
                enqueue_signal_messages(session, args.scenario, engine, settings.escalation)
            rebuilt = time.perf_counter() - began
            same = "yes" if _report(build_report, engine) == _report(build_report, result.engine) else "NO"
        rows.append((stored, new, continued, rebuilt))
        cells = (number, stored, new, f"{continued:.2f}", f"{1000 * continued / max(new, 1):.2f}")
        cells += ("" if rebuilt is None else f"{rebuilt:.2f}",)
        print("  ".join(f"{cell:>{width}}" for cell, width in zip(cells, WIDTHS, strict=True)) + f"  {same}")
    last_stored, _, last_continued, last_rebuild = rows[-1]
    assert last_rebuild is not None  # the last slice always rebuilds
    print(
        f"\nat {last_stored} stored posts: rebuild {last_rebuild:.2f} s, continued {last_continued:.2f} s "
        f"→ {last_rebuild / max(last_continued, 1e-9):.1f}x faster (same process, same run)"
    )
    # busy slices (new posts within 20 % of the most) compare like with like: a pass also has a small
    # fixed cost (queries, the copy it closes, rewriting signals) that dominates nearly empty slices
    busiest = max(new for _, new, _, _ in rows)
    busy = [(index, row) for index, row in enumerate(rows, start=1) if row[1] >= 0.8 * busiest]
    (first_index, first), (last_index, last) = busy[0], busy[-1]
    print(
        f"continued cost per new post on busy slices: {1000 * first[2] / first[1]:.3f} ms at slice "
        f"{first_index} ({first[0]} stored), {1000 * last[2] / last[1]:.3f} ms at slice {last_index} "
        f"({last[0]} stored): {last[2] / last[1] / (first[2] / first[1]):.2f}x (flat is 1.0)"
    )


def copy_slice(source: Any, target: Any, tenant: str, begin: Any, end: Any, *, first: bool) -> int:
    """Copy the tenant's posts (with analyses) and changes stamped in [begin, end) — and its services on
    the first slice — from the analysed database into a target; returns the posts copied."""
    from sqlalchemy import insert, select

    from triage.storage.models import AnalysisRow, ChangeEventRow, PostRow, ServiceRow

    with source.connect() as reader, target.begin() as writer:
        if first:
            services = reader.execute(select(ServiceRow.__table__).where(ServiceRow.tenant == tenant))
            writer.execute(insert(ServiceRow.__table__), [dict(row) for row in services.mappings()])
        posts = [
            dict(row)
            for row in reader.execute(
                select(PostRow.__table__).where(
                    PostRow.tenant == tenant, PostRow.created_at >= begin, PostRow.created_at < end
                )
            ).mappings()
        ]
        if posts:
            writer.execute(insert(PostRow.__table__), posts)
            ids = [post["id"] for post in posts]
            for chunk in range(0, len(ids), 500):
                analyses = reader.execute(
                    select(AnalysisRow.__table__).where(AnalysisRow.post_id.in_(ids[chunk : chunk + 500]))
                ).mappings()
                writer.execute(insert(AnalysisRow.__table__), [dict(row) for row in analyses])
        changes = [
            dict(row)
            for row in reader.execute(
                select(ChangeEventRow.__table__).where(
                    ChangeEventRow.tenant == tenant,
                    ChangeEventRow.started_at >= begin,
                    ChangeEventRow.started_at < end,
                )
            ).mappings()
        ]
        if changes:
            writer.execute(insert(ChangeEventRow.__table__), changes)
    return len(posts)


def _report(build_report: Any, engine: Any) -> str:
    return json.dumps(build_report(engine, engine.posts_seen, 0.0), sort_keys=True)


if __name__ == "__main__":
    main()
