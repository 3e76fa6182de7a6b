"""The beat schedule: what ``triage run`` does on its intervals, as messages to the workers' queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from triage.runners.tasks import DEFAULT_ANALYSIS_BATCH


@dataclass(frozen=True)
class Intervals:
    """Seconds between runs of each job; the defaults are ``triage run``'s."""

    pull: float = 60.0
    analysis: float = 30.0
    triage: float = 60.0
    delivery: float = 10.0


def beat_schedule(
    tenant: str,
    sources: list[str],
    intervals: Intervals,
    *,
    delivery: bool,
    analysis_batch: int = DEFAULT_ANALYSIS_BATCH,
) -> dict[str, dict[str, Any]]:
    """One entry per source pull, the analysis dispatch, the tenant's tick and (with targets) delivery.

    Each entry expires after its own interval: a message nobody took before
    the next one was sent is dropped rather than piling up behind a stopped
    worker, since the next one does the same work.
    """

    def every(seconds: float) -> dict[str, Any]:
        return {"schedule": timedelta(seconds=seconds), "options": {"expires": seconds}}

    schedule = {
        f"pull {name}": {"task": "triage.ingest.pull", "kwargs": {"tenant": tenant, "source": name}}
        | every(intervals.pull)
        for name in sources
    }
    schedule["analysis dispatch"] = {
        "task": "triage.analysis.dispatch",
        "kwargs": {"tenant": tenant, "batch_size": analysis_batch},
    } | every(intervals.analysis)
    schedule[f"tick {tenant}"] = {"task": "triage.tick", "kwargs": {"tenant": tenant}} | every(
        intervals.triage
    )
    if delivery:
        schedule["delivery"] = {"task": "triage.delivery.deliver", "kwargs": {}} | every(intervals.delivery)
    return schedule
