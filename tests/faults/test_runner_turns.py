"""Under an analysis backlog the embedded runner still triages and delivers.

Found by the soak: ``triage run``'s analysis job analysed everything pending in one go, and the jobs
take turns in one thread, so with posts arriving faster than the model reads them no triage pass and
no delivery ran until the backlog was gone (under steady load: never; the first soak delivered its
first message only after four minutes). The job now ends after a turn of committed chunks and asks to
run again at once, and the schedule runs the other due jobs in between.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from triage.cli.run import ANALYSIS_TURN_POSTS, Job, _StoppableProgress, _TurnOver, run_schedule


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_the_analysis_turn_ends_between_committed_chunks_only_while_posts_wait() -> None:
    progress = _StoppableProgress(threading.Event(), turn_posts=ANALYSIS_TURN_POSTS)
    progress.stage("analysing", 5000)
    with pytest.raises(_TurnOver):
        progress.advance(2048)
    assert progress.done == 2048

    last_chunk = _StoppableProgress(threading.Event(), turn_posts=ANALYSIS_TURN_POSTS)
    last_chunk.stage("analysing", 2048)
    last_chunk.advance(2048)  # nothing left: the turn simply ends

    once = _StoppableProgress(threading.Event(), turn_posts=None)
    once.stage("analysing", 10_000)
    for _ in range(4):
        once.advance(2048)  # --once analyses everything in one go


def test_triage_and_delivery_run_between_analysis_turns() -> None:
    clock = Clock()
    ran: list[str] = []
    backlog = [3]  # three turns of analysis to go
    stop = threading.Event()

    def analysis() -> datetime | None:
        ran.append("analysis")
        backlog[0] -= 1
        return clock() if backlog[0] > 0 else None  # what analysis_job returns after a turn

    def other(name: str) -> Job:
        def work() -> None:
            ran.append(name)
            if ran.count("delivery") >= 4:
                stop.set()

        return Job(name, timedelta(seconds=10), work)

    jobs = [Job("analysis", timedelta(seconds=30), analysis), other("triage"), other("delivery")]
    run_schedule(jobs, clock=clock, wait=clock.wait, should_stop=stop.is_set, on_error=lambda *a: None)

    first_turns = ran[: ran.index("analysis", ran.index("analysis") + 1) + 1]
    assert first_turns == ["analysis", "triage", "delivery", "analysis"], ran
    assert ran.count("analysis") >= 3
