"""Triage cost over time: does clustering and detection get slower as posts pile up?

Replays a scenario's stored, analysed posts (default ``throughput_large``: a week,
~198k posts) through a fresh triage engine and times every ``add_post`` and every
``tick`` by event-time day. Cost per post and per tick must stay flat over the
week: the engine keeps bounded state (a 24-hour complaint history, live clusters
only), so day 7 should cost what day 1 costs. The figure printed is the ratio of
the last day's cost per post to the first full day's, measured in the same run.

    python -m benchmarks.tick_cost                                # stores + analyses first if needed
    python -m benchmarks.tick_cost --db-dir var/bench --plot var/bench/tick_cost.png

With ``--db-dir`` the database the detection benchmark keeps is reused (analysis
of 198k posts takes a long while on a CPU); otherwise one is built there.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._shared import require_shared  # noqa: E402

_DAY = 86_400.0


class DayTimer:
    """Seconds and calls per event-time day, for one kind of engine call."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = defaultdict(float)
        self.calls: dict[int, int] = defaultdict(int)

    def record(self, day: int, seconds: float) -> None:
        self.seconds[day] += seconds
        self.calls[day] += 1

    def per_call_ms(self, day: int) -> float:
        return 1000 * self.seconds[day] / max(self.calls[day], 1)


def timed_engine_class(start: list[float], posts: DayTimer, ticks: DayTimer) -> type[Any]:
    """A TriageEngine whose add_post and tick are timed by event-time day (the benchmark's only hook)."""
    from triage.engine import TriageEngine

    class TimedEngine(TriageEngine):
        def add_post(self, post: Any) -> None:
            if not start:
                start.append(post.time)
            began = time.perf_counter()
            super().add_post(post)
            posts.record(int((post.time - start[0]) // _DAY), time.perf_counter() - began)

        def tick(self, now: float) -> None:
            began = time.perf_counter()
            super().tick(now)
            if start:
                ticks.record(int((now - start[0]) // _DAY), time.perf_counter() - began)

    return TimedEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="throughput_large", help="scenario name in ../shared/scenarios")
    parser.add_argument(
        "--db-dir", type=Path, default=Path("var/bench"), help="where the scenario's DB lives"
    )
    parser.add_argument("--plot", type=Path, help="also draw cost per post and per tick by day to this PNG")
    args = parser.parse_args()

    import triage.feed as feed
    from classifier.analysis import load_analyzer
    from triage.replay.flow import SilentProgress, replay_file, run_triage
    from triage.settings import Settings
    from triage.storage.database import create_db_engine, session_factory

    scenario = require_shared() / "scenarios" / f"{args.scenario}.jsonl"
    args.db_dir.mkdir(parents=True, exist_ok=True)
    database = args.db_dir / f"{args.scenario}.db"
    settings = Settings(data_dir=args.db_dir, database_url=f"sqlite:///{database}")
    analyzer = load_analyzer()
    if not database.exists():
        print(f"storing and analysing {scenario.name} (once; reused afterwards) ...", file=sys.stderr)
        replay_file(scenario, settings, analyzer)

    start: list[float] = []
    posts, ticks = DayTimer(), DayTimer()
    # the feed builds the engine run_triage drives: time that one
    original = feed.TriageEngine
    feed.TriageEngine = timed_engine_class(start, posts, ticks)  # type: ignore[misc]
    try:
        began = time.perf_counter()
        engine = run_triage(
            session_factory(create_db_engine(settings.resolved_database_url)),
            args.scenario,
            analyzer,
            settings,
            SilentProgress(),
        )
        total = time.perf_counter() - began
    finally:
        feed.TriageEngine = original  # type: ignore[misc]

    days = sorted(set(posts.calls) | set(ticks.calls))
    print(f"\n{args.scenario}: {engine.posts_seen} posts triaged in {total:.1f} s (analysis excluded)")
    print(f"{'day':>3}  {'posts':>7}  {'ms/post':>8}  {'ticks':>5}  {'ms/tick':>8}")
    for day in days:
        print(
            f"{day + 1:>3}  {posts.calls[day]:>7}  {posts.per_call_ms(day):>8.3f}  "
            f"{ticks.calls[day]:>5}  {ticks.per_call_ms(day):>8.3f}"
        )
    full_days = [day for day in days if posts.calls[day] >= 0.5 * max(posts.calls.values())]
    if len(full_days) >= 2:
        first, last = full_days[0], full_days[-1]
        print(
            f"\ncost per post, day {last + 1} / day {first + 1}: "
            f"{posts.per_call_ms(last) / posts.per_call_ms(first):.2f}x; "
            f"per tick: {ticks.per_call_ms(last) / max(ticks.per_call_ms(first), 1e-9):.2f}x "
            "(flat is 1.0; same process, same run)"
        )
    if not days:
        raise SystemExit("no engine call was timed: the hook no longer reaches the engine run_triage uses")
    print(f"live clusters at the end: {len(engine.book.live)}; complaint history held: {len(engine.history)}")
    if args.plot:
        _plot(args.plot, days, posts, ticks)
        print(f"plot: {args.plot}")


def _plot(path: Path, days: list[int], posts: DayTimer, ticks: DayTimer) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    labels = [day + 1 for day in days]
    left.bar(labels, [posts.per_call_ms(day) for day in days])
    left.set(title="triage cost per post", xlabel="day of the replay", ylabel="ms")
    right.bar(labels, [ticks.per_call_ms(day) for day in days], color="tab:orange")
    right.set(title="cost per tick (each event-time minute)", xlabel="day of the replay", ylabel="ms")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
