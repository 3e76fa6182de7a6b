"""Which change most likely caused a cluster, with the reasons as data.

A change is scored on three things people check by hand: did it happen
shortly before the complaints started, is it on the service the complaints
are about, and does its summary talk about what customers describe. Alerts
are monitoring noticing late; they are evidence, never a cause, and are only
used to measure how much earlier the customers were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.events import TriageChange
from triage.settings import CorrelationSettings, PolicySettings


@dataclass(frozen=True)
class RankedChange:
    change_id: str
    score: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"change": self.change_id, "score": round(self.score, 4), "reasons": list(self.reasons)}


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes >= 1 else f"{seconds:.0f} s"


def _closeness_in_time(lead: float, settings: CorrelationSettings) -> float:
    """1 for a change made as the complaints began, halving every ``time_decay_minutes`` before.

    A change made after the burst began is a candidate only because clocks disagree by a few minutes;
    its weight falls to 0 across that allowance, so a routine change on the same service moments after
    the first reports does not outrank the one made before them (at full weight it did: on a held-out
    day a repeated ATM config change 4 min after onset beat the same change 10 min before it)."""
    if lead < 0:
        return max(0.0, 1.0 + lead / (settings.lookahead_minutes * 60))
    return 0.5 ** (lead / (settings.time_decay_minutes * 60))


def rank_likely_causes(
    onset: float,
    service: str | None,
    centroid: np.ndarray,
    changes: Sequence[TriageChange],
    settings: CorrelationSettings,
    likeliest_onset: float | None = None,
) -> list[RankedChange]:
    """Changes that could have caused complaints starting at ``onset``, best first.

    ``likeliest_onset`` (at or after ``onset``) is where the burst most likely began: the onset is an
    estimate, and a change made between the first reports and that point is as close in time as a change
    can be, not a change made after the problem began."""
    latest = max(onset, likeliest_onset) if likeliest_onset is not None else onset
    ranked: list[RankedChange] = []
    for change in changes:
        if not change.can_be_cause:
            continue
        lead = onset - change.time if change.time <= onset else min(latest - change.time, 0.0)
        if lead > settings.lookback_minutes * 60 or lead < -settings.lookahead_minutes * 60:
            continue
        closeness_in_time = _closeness_in_time(lead, settings)
        same_service = service is not None and change.service == service
        semantic = max(0.0, float(change.embedding @ centroid))
        score = (
            settings.weight_time * closeness_in_time
            + settings.weight_service * (1.0 if same_service else 0.0)
            + settings.weight_semantic * semantic
        )
        if onset < change.time <= latest:
            timing = f"{_minutes(change.time - onset)} after the first reports, as the burst began"
        else:
            timing = f"{_minutes(abs(lead))} {'before' if lead >= 0 else 'after'} onset"
        reasons = [f"{change.kind} on {change.service or 'an unknown service'} {timing}"]
        reasons.append(f"service matches ({service})" if same_service else f"other service than {service}")
        reasons.append(f"summary resembles the complaints (cosine {semantic:.2f})")
        ranked.append(RankedChange(change.external_id, score, tuple(reasons)))
    ranked.sort(key=lambda item: (-item.score, item.change_id))
    return ranked[: settings.max_ranked]


def lead_over_alert_minutes(
    triggered_at: float, service: str | None, changes: Sequence[TriageChange], horizon_minutes: float = 180.0
) -> float | None:
    """Minutes between our trigger and the first later monitoring alert on the same service."""
    later_alerts = [
        change.time
        for change in changes
        if change.kind == "alert"
        and change.service == service
        and triggered_at <= change.time <= triggered_at + horizon_minutes * 60
    ]
    if not later_alerts:
        return None
    return round((min(later_alerts) - triggered_at) / 60, 1)


def latest_change_on(
    service: str | None, changes: Sequence[TriageChange], now: float, within_minutes: float
) -> TriageChange | None:
    """The most recent change (not an alert) on ``service`` made within ``within_minutes`` before ``now``."""
    if service is None or within_minutes <= 0:
        return None
    since = now - within_minutes * 60
    candidates = [
        change
        for change in changes
        if change.can_be_cause and change.service == service and since <= change.time <= now
    ]
    return max(candidates, key=lambda change: change.time, default=None)


def share_after_changes(
    service: str | None, changes: Sequence[TriageChange], now: float, within_minutes: float, over_hours: float
) -> float:
    """Share of the last ``over_hours`` that ``service`` spent within ``within_minutes`` after a change
    (not an alert): how often "it just changed" is true of it anyway, which is what a laxer budget after a
    change costs in false alarms."""
    if service is None or over_hours <= 0:
        return 0.0
    since, reach = now - over_hours * 3600, within_minutes * 60
    spans = sorted(
        (max(change.time, since), min(change.time + reach, now))
        for change in changes
        if change.can_be_cause
        and change.service == service
        and change.time <= now
        and change.time + reach > since
    )
    covered, reached = 0.0, since
    for start, stop in spans:
        start = max(start, reached)
        if stop > start:
            covered += stop - start
        reached = max(reached, stop)
    return covered / (over_hours * 3600)


@dataclass(frozen=True)
class ChangeAllowance:
    """How much laxer a test of a cluster may be because its service has just changed."""

    change: TriageChange
    service: str
    #: share of the last ``baseline_hours`` the service spent that soon after a change
    share: float
    factor: float

    def describe(self, now: float, budget: float, over_hours: float) -> str:
        minutes = (now - self.change.time) / 60
        return (
            f"{self.change.kind} {self.change.external_id} on {self.service} {minutes:.0f} min before "
            f"(that soon after a change {self.share:.0%} of the last {over_hours:.0f} h: "
            f"chance allowed {budget * self.factor:.1e})"
        )


def change_allowance(
    service: str | None, changes: Sequence[TriageChange], now: float, policy: PolicySettings
) -> ChangeAllowance | None:
    """Most outages follow a change to the service they hit, and a service has rarely just changed: a test
    of a cluster on a service changed within ``after_change_minutes`` may be laxer by the inverse of how
    often that is true of the service anyway (at most ``after_change_max_budget_factor``). A service that is
    always just deployed gains nothing, and whatever the deploy rate, the chance spent after changes adds
    at most the strict chance again to the false alarms. None: no recent change, nothing laxer."""
    change = latest_change_on(service, changes, now, policy.after_change_minutes)
    if change is None or service is None:
        return None
    share = share_after_changes(service, changes, now, policy.after_change_minutes, policy.baseline_hours)
    factor = min(policy.after_change_max_budget_factor, 1.0 / max(share, 1e-9))
    return ChangeAllowance(change, service, share, factor) if factor > 1.0 else None
