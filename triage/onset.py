"""Where a burst of reports began: the change point of their rate against the baseline.

The onset decides which changes can be a cause (nothing after it, bar clock skew) and how close in time
each one is, so it must be the start of the *burst*, not of the cluster: a cluster of everyday complaints
that an outage lands in has reports from before the outage, and taking its first one as the onset lets
the real cause (made after it) fall out of the ranking.

The estimate is the change point of a Poisson process: before it, reports arrive at the everyday rate
the baseline expects; after it, at whatever rate fits the rest. Of the change points nearly as likely as
the best, the earliest is taken, since an outage's first reports are often sparse. A cluster born from
the burst itself has no everyday reports to skip, and its onset stays at its first report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: how much likelier (in nats; 3 is about 20 times) a later onset must make the reports than the first
#: report as onset: reports before it are only called everyday when the evidence is clear
_EVIDENCE_NATS = 3.0

#: a burst's rate is never estimated over less than this, so a lone last report cannot look like a burst
_SHORTEST_BURST_SECONDS = 60.0


@dataclass(frozen=True)
class OnsetRange:
    """When a burst began, as far as its reports tell: ``earliest`` is the first change point about as
    likely as the best (the onset reported), ``likeliest`` the best one. A change made between them may
    have started the burst as well as one made just before ``earliest``."""

    earliest: float
    likeliest: float


def burst_onset_range(
    report_times: Sequence[float], window_start: float, now: float, everyday_per_second: float
) -> OnsetRange:
    """The burst's onset range (``report_times`` sorted, all in the window).

    ``everyday_per_second`` is the rate reports of this kind arrive at on an ordinary day; when it is
    unknown (no baseline yet) or not positive, every report in the window belongs to the burst.
    """
    if not report_times:
        raise ValueError("a burst needs at least one report")
    if not (everyday_per_second > 0.0 and math.isfinite(everyday_per_second)):
        return OnsetRange(report_times[0], report_times[0])
    log_everyday = math.log(everyday_per_second)
    total = len(report_times)
    likelihoods = []
    for before, start in enumerate(report_times):
        in_burst = total - before
        burst_seconds = max(now - start, _SHORTEST_BURST_SECONDS)
        likelihoods.append(
            in_burst * math.log(in_burst / burst_seconds)
            - in_burst
            + before * log_everyday
            - everyday_per_second * max(start - window_start, 0.0)
        )
    best = max(likelihoods)
    # the earliest onset about as likely as the best one: a burst's first reports are rarely dense
    earliest = next(
        start
        for start, likelihood in zip(report_times, likelihoods, strict=True)
        if likelihood >= best - _EVIDENCE_NATS
    )
    return OnsetRange(earliest, report_times[likelihoods.index(best)])
