"""When a cluster is an incident signal: distinct authors against a baseline.

The test is a Poisson tail: given how large a share of all complaints this
kind of complaint normally is (``ComplaintHistory``), how surprising is the
number of *distinct authors* saying it in the trailing window? Counting
authors, not posts, keeps one angry person or a bot from paging anybody; a
hard floor of ``min_distinct_authors`` keeps tiny samples from looking
surprising.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.clustering import Cluster
from triage.history import ComplaintHistory
from triage.settings import ClusteringSettings, PolicySettings

#: recent history is left out of the baseline so an incident's own ramp-up does not become its baseline
_BASELINE_GUARD_SECONDS = 3600.0


@dataclass(frozen=True)
class DetectionVerdict:
    window_authors: int
    expected_authors: float
    false_alarm_probability: float
    triggered: bool

    def explain(self) -> str:
        return (
            f"{self.window_authors} distinct authors in the window where "
            f"{self.expected_authors:.2f} are usual "
            f"(chance {self.false_alarm_probability:.1e})"
        )


def poisson_tail(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), computed without scipy."""
    if observed <= 0 or math.isinf(expected) or math.isnan(expected):
        return 1.0
    expected = max(expected, 1e-12)
    term = math.exp(-expected)
    below = term
    for count in range(1, observed):
        term *= expected / count
        below += term
    return max(0.0, 1.0 - below)


def expected_count(
    direction: np.ndarray,
    similarity: float,
    window_start: float,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
) -> float:
    """How many complaints matching ``direction`` (in centred space) the window would hold on an
    ordinary day.

    The share of all complaints that match is learned from history up to an hour before the window
    (an incident's own ramp-up must not become its baseline), shrunk towards a prior share while
    history is thin, and applied to the complaints actually seen in the window, which carries the
    time of day. No baseline at all before ``learning_hours`` of history: nothing is surprising yet.
    """
    return expected_counts(direction, (similarity,), window_start, now, history, policy)[0]


def expected_counts(
    direction: np.ndarray,
    similarities: Sequence[float],
    window_start: float,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
) -> list[float]:
    """:func:`expected_count` at several similarity levels, from one pass over the history."""
    if history.first_time is None or now - history.first_time < policy.learning_hours * 3600:
        return [math.inf for _ in similarities]
    baseline_until = window_start - _BASELINE_GUARD_SECONDS
    baseline_since = now - policy.baseline_hours * 3600
    similar = history.count_matching_levels(direction, similarities, baseline_since, baseline_until)
    total = history.count(baseline_since, baseline_until)
    in_window = history.count(window_start, now + 1)
    return [
        (matching + policy.prior_share * policy.prior_weight_posts)
        / (total + policy.prior_weight_posts)
        * in_window
        for matching in similar
    ]


def evaluate_cluster(
    cluster: Cluster,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
) -> DetectionVerdict:
    window_start = now - policy.window_minutes * 60
    window_authors = len(cluster.authors_since(window_start))
    if window_authors < policy.min_distinct_authors:
        return DetectionVerdict(window_authors, float("nan"), 1.0, False)
    expected = expected_count(
        cluster.recent_mean, clustering.join_similarity, window_start, now, history, policy
    )
    probability = poisson_tail(window_authors, expected)
    triggered = (
        probability <= policy.max_false_alarm_probability
        and window_authors >= policy.min_rate_ratio * expected
    )
    return DetectionVerdict(window_authors, expected, probability, triggered)


def surge_join_similarity(
    cluster: Cluster,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
) -> float:
    """How loosely a surging incident may take posts now.

    An outage is described in more ways than its first reports suggest, and the posts that fit it only
    loosely are most of its later reports; whether taking them is safe depends on how much everyday
    complaining lies at that distance. So each level of ``surge_join_levels`` (looser than
    ``hot_join_similarity``) is tested like a page: the complaints of the trailing window that resemble
    the incident that loosely must be at least ``min_rate_ratio`` times what an ordinary day holds
    there, i.e. mostly the incident itself. The loosest level that passes is used; where everyday
    complaints of the same kind are dense, none passes and the incident keeps the hot threshold.
    """
    levels = sorted(level for level in clustering.surge_join_levels if level < clustering.hot_join_similarity)
    if not levels:
        return clustering.hot_join_similarity
    window_start = now - policy.window_minutes * 60
    direction = cluster.recent_mean
    observed = history.count_matching_levels(direction, levels, window_start, now + 1)
    expected = expected_counts(direction, levels, window_start, now, history, policy)
    for level, seen, usual in zip(levels, observed, expected, strict=True):
        if seen >= policy.min_distinct_authors and seen >= policy.min_rate_ratio * usual:
            return level
    return clustering.hot_join_similarity


def is_emerging_burst(
    seed_direction: np.ndarray,
    authors: int,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
) -> bool:
    """Whether pending posts that say the same thing are more than everyday chatter: the (lenient)
    test a group passes to become a cluster at all, so everyday complaints never pile up into broad
    clusters that would later swallow a real incident."""
    window_start = now - clustering.birth_window_minutes * 60
    expected = expected_count(seed_direction, clustering.birth_similarity, window_start, now, history, policy)
    return poisson_tail(authors, expected) <= clustering.birth_max_probability


def severity_for(distinct_authors: int, policy: PolicySettings) -> str:
    if distinct_authors >= policy.severity_critical_authors:
        return "critical"
    if distinct_authors >= policy.severity_error_authors:
        return "error"
    return "warning"
