"""One clustering/detection tick of a tenant, as the single writer of its triage state.

The same three stage calls the embedded runner's triage job makes —
``run_triage``, then ``replace_triage_state`` with ``enqueue_signal_messages``
in one transaction — inside the tenant's tick lock. A tick that finds the
lock taken returns ``skipped`` at once instead of queueing behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from triage.escalation.outbox import enqueue_signal_messages
from triage.replay.flow import SilentProgress, run_triage
from triage.replay.report import build_report
from triage.runners.tick_lock import tenant_tick_lock
from triage.settings import Settings
from triage.storage.database import transaction
from triage.storage.outcomes import replace_triage_state

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
    settings: Settings,
    *,
    with_report: bool = False,
    timer: Callable[[], float] = time.perf_counter,
) -> TickOutcome:
    """Rebuild and store ``tenant``'s clusters and signals from everything analysed, unless a tick runs."""
    with tenant_tick_lock(db_engine, tenant) as held:
        if not held:
            log.info("tick_skipped tenant=%s reason=another_tick_running", tenant)
            return TickOutcome(SKIPPED, tenant)
        started = timer()
        log.info("tick_started tenant=%s", tenant)
        engine = run_triage(sessions, tenant, analyzer, settings, SilentProgress())
        with transaction(sessions) as session:
            # the decisions' outgoing messages commit with the state that decided them, or not at all
            replace_triage_state(session, tenant, engine)
            queued = enqueue_signal_messages(session, tenant, engine, settings.escalation)
        seconds = timer() - started
    log.info(
        "tick_done tenant=%s posts=%d signals=%d queued=%d seconds=%.3f",
        tenant,
        engine.posts_seen,
        len(engine.signals),
        queued,
        seconds,
    )
    report = build_report(engine, engine.posts_seen, 0.0) if with_report else None
    return TickOutcome(RAN, tenant, engine.posts_seen, len(engine.signals), queued, round(seconds, 3), report)
