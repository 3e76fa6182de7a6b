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
from dataclasses import dataclass

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
            f"{self.window_authors} distinct authors in the window where {self.expected_authors:.2f} are usual "
            f"(chance {self.false_alarm_probability:.1e})"
        )


def poisson_tail(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), computed without scipy."""
    if observed <= 0:
        return 1.0
    expected = max(expected, 1e-12)
    term = math.exp(-expected)
    below = term
    for count in range(1, observed):
        term *= expected / count
        below += term
    return max(0.0, 1.0 - below)


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
    baseline_until = window_start - _BASELINE_GUARD_SECONDS
    baseline_since = now - policy.baseline_hours * 3600
    similar = history.count_similar(cluster.centroid, clustering.join_similarity, baseline_since, baseline_until)
    total = history.count(baseline_since, baseline_until)
    share = (similar + policy.prior_share * policy.prior_weight_posts) / (total + policy.prior_weight_posts)
    complaints_in_window = history.count(window_start, now + 1)
    expected = share * complaints_in_window
    probability = poisson_tail(window_authors, expected)
    return DetectionVerdict(
        window_authors, expected, probability, probability <= policy.max_false_alarm_probability
    )


def severity_for(distinct_authors: int, policy: PolicySettings) -> str:
    if distinct_authors >= policy.severity_critical_authors:
        return "critical"
    if distinct_authors >= policy.severity_error_authors:
        return "error"
    return "warning"
