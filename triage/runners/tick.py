"""One clustering/detection tick of a tenant, as the single writer of its triage state.

The same pass the embedded runner's triage job makes
(``continued_triage.run_and_store``: continue the tenant's triage from this
worker's last tick, or rebuild it, then store the state with the decisions'
messages in one transaction) inside the tenant's tick lock. A tick that finds
the lock taken returns ``skipped`` at once instead of queueing behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from triage.replay.report import build_report
from triage.runners.continued_triage import ContinuedTriage, run_and_store
from triage.runners.tick_lock import tenant_tick_lock

if TYPE_CHECKING:
    from classifier.analysis import Analyzer

log = logging.getLogger(__name__)

RAN, SKIPPED = "ran", "skipped"


@dataclass(frozen=True)
class TickOutcome:
    """What a tick did; ``report`` (the replay report, stats.seconds 0) only when it was asked for."""

    status: str
    tenant: str
    posts: int = 0
    signals: int = 0
    queued: int = 0
    seconds: float = 0.0
    report: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "tenant": self.tenant,
            "posts": self.posts,
            "signals": self.signals,
            "queued": self.queued,
            "seconds": self.seconds,
            "report": self.report,
        }


def triage_tick(
    db_engine: Engine,
    sessions: sessionmaker[Session],
    tenant: str,
    analyzer: Analyzer,
    memory: ContinuedTriage,
    *,
    with_report: bool = False,
    timer: Callable[[], float] = time.perf_counter,
) -> TickOutcome:
    """Bring ``tenant``'s stored clusters and signals up to date with everything analysed (continuing
    from ``memory`` where it can), unless another tick is running."""
    with tenant_tick_lock(db_engine, tenant) as held:
        if not held:
            log.info("tick_skipped tenant=%s reason=another_tick_running", tenant)
            return TickOutcome(SKIPPED, tenant)
        started = timer()
        log.info("tick_started tenant=%s", tenant)
        result, queued = run_and_store(sessions, tenant, analyzer, memory)
        engine = result.engine
        seconds = timer() - started
    log.info(
        "tick_done tenant=%s posts=%d signals=%d queued=%d seconds=%.3f continued=%s",
        tenant,
        engine.posts_seen,
        len(engine.signals),
        queued,
        seconds,
        result.continued,
    )
    report = build_report(engine, engine.posts_seen, 0.0) if with_report else None
    return TickOutcome(RAN, tenant, engine.posts_seen, len(engine.signals), queued, round(seconds, 3), report)
