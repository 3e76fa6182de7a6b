"""When a cluster is an incident signal: distinct authors against a baseline.

The test is a count tail: given how large a share of all complaints this kind
of complaint normally is (``ComplaintHistory``), how surprising is the number
of *distinct authors* saying it in the trailing window? Counting authors, not
posts, keeps one angry person or a bot from paging anybody; a hard floor of
``min_distinct_authors`` keeps tiny samples from looking surprising. The usual
count is itself an estimate, so the tail is a negative binomial that is only
as sharp as the history behind it; and the window is tested at the join level
and at closer ones, because an outage's reports say one specific thing while a
chance pile-up of everyday complaints does not (the levels tested are paid for
in the chance, so looking more ways does not page more often).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.clustering import Cluster, match_vector
from triage.events import TriagePost
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
    #: the similarity level whose count was the most surprising (None: the join level)
    closer_level: float | None = None
    level_authors: int = 0
    level_expected: float = float("nan")
    levels_tested: int = 1
    #: the deciding level holds at least ``min_rate_ratio`` times its usual authors
    exceeds_usual_rate: bool = False
    #: why a laxer false-alarm budget applied (a recent change on the cluster's service), if one did
    after_change: str | None = None

    def passes(self, max_false_alarm_probability: float) -> bool:
        """Whether this count pages under a given false-alarm budget."""
        return self.exceeds_usual_rate and self.false_alarm_probability <= max_false_alarm_probability

    def explain(self) -> str:
        text = f"{self.window_authors} distinct authors in the window where "
        text += f"{self.expected_authors:.2f} are usual"
        if self.closer_level is not None:
            text += (
                f"; {self.level_authors} of them say closely the same thing "
                f"(cosine >= {self.closer_level:.2f}) where {self.level_expected:.2f} are usual"
            )
        tested = f" over {self.levels_tested} similarity levels" if self.levels_tested > 1 else ""
        text = f"{text} (chance {self.false_alarm_probability:.1e}{tested})"
        return f"{text}; {self.after_change}" if self.after_change else text


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
    return usual_counts(direction, (similarity,), window_start, now, history, policy)[0].expected


@dataclass(frozen=True)
class UsualCount:
    """How many matching complaints an ordinary window holds, and how much history says so."""

    expected: float
    #: matching complaints the estimate rests on (history plus the prior's pseudo-count)
    evidence: float


def usual_counts(
    direction: np.ndarray,
    similarities: Sequence[float],
    window_start: float,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    centred: bool = True,
) -> list[UsualCount]:
    """:func:`expected_count` at several similarity levels (one pass over the history), each with the
    evidence behind it (``centred=False``: plain cosine to ``direction``)."""
    if history.first_time is None or now - history.first_time < policy.learning_hours * 3600:
        return [UsualCount(math.inf, 0.0) for _ in similarities]
    baseline_until = window_start - _BASELINE_GUARD_SECONDS
    baseline_since = now - policy.baseline_hours * 3600
    similar = history.count_matching_levels(
        direction, similarities, baseline_since, baseline_until, centred=centred
    )
    total = history.count(baseline_since, baseline_until)
    in_window = history.count(window_start, now + 1)
    prior_matching = policy.prior_share * policy.prior_weight_posts
    return [
        UsualCount(
            (matching + prior_matching) / (total + policy.prior_weight_posts) * in_window,
            matching + prior_matching,
        )
        for matching in similar
    ]


def count_tail(observed: int, usual: UsualCount) -> float:
    """P(X >= observed) when the usual count is itself only estimated: a negative binomial (the Poisson
    law with its rate drawn from the Gamma posterior of the baseline share), whose tail is heavier the
    fewer matching complaints the baseline rests on. A closely worded kind of complaint seen only a
    handful of times in a day has an uncertain usual count, and a few reports of it must not look like
    1e-5 chances; with plenty of history this is the Poisson tail."""
    if observed <= 0 or math.isinf(usual.expected) or math.isnan(usual.expected):
        return 1.0
    shape = max(usual.evidence, 1e-9)
    mean = max(usual.expected, 1e-12)
    success = shape / (shape + mean)
    term = math.exp(shape * math.log(success))
    below = term
    for count in range(1, observed):
        term *= (count - 1 + shape) / count * (1.0 - success)
        below += term
    return max(0.0, 1.0 - below)


def evaluate_cluster(
    cluster: Cluster,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
    closer_levels: Sequence[float] = (),
) -> DetectionVerdict:
    """How surprising the distinct authors of a cluster's trailing window are.

    With ``closer_levels`` the authors whose reports resemble the cluster's current wording more closely
    than the join test asks are counted too, against how many complaints that close are usual: an outage's
    reports say one specific thing, while a chance pile-up of everyday complaints of a broad kind does not
    stay surprising when only the close ones count. The most surprising level decides, its chance multiplied
    by the number of levels tested (Bonferroni), so looking more ways does not page more often by chance.
    """
    window_start = now - policy.window_minutes * 60
    window_members = cluster.counted_since(window_start)
    window_authors = len({member.author for member in window_members})
    if window_authors < policy.min_distinct_authors:
        return DetectionVerdict(window_authors, float("nan"), 1.0, False)
    direction = cluster.recent_mean
    levels = [clustering.join_similarity] + sorted(
        level for level in closer_levels if level > clustering.join_similarity
    )
    usual = usual_counts(direction, levels, window_start, now, history, policy)
    expected = [baseline.expected for baseline in usual]
    authors = [window_authors] + _authors_at_levels(
        cluster, window_members, levels[1:], clustering.recent_centroid_minutes * 60
    )
    chances = [
        count_tail(count, baseline) if count >= policy.min_distinct_authors else 1.0
        for count, baseline in zip(authors, usual, strict=True)
    ]
    best = min(range(len(levels)), key=lambda index: (chances[index], index))
    probability = min(1.0, chances[best] * len(levels))
    exceeds_usual_rate = authors[best] >= policy.min_rate_ratio * expected[best]
    return DetectionVerdict(
        window_authors,
        expected[0],
        probability,
        exceeds_usual_rate and probability <= policy.max_false_alarm_probability,
        closer_level=levels[best] if best else None,
        level_authors=authors[best],
        level_expected=expected[best],
        levels_tested=len(levels),
        exceeds_usual_rate=exceeds_usual_rate,
    )


def _authors_at_levels(
    cluster: Cluster, members: list[TriagePost], levels: Sequence[float], decay_seconds: float
) -> list[int]:
    """Distinct authors whose reports resemble the rest of the cluster's recent wording at least as closely
    as each level. Each report is compared with the recent mean *without itself*: in a small cluster a report
    is a large part of the mean, and comparing it with itself would make any handful of posts look close."""
    if not levels:
        return []
    vectors = np.stack([match_vector(member) for member in members]).astype(np.float64)
    weights = np.exp(-(cluster.recent_at - np.array([member.time for member in members])) / decay_seconds)
    rest_weight = np.maximum(cluster.recent_weight - weights, 1e-9)
    rest_sums = cluster.recent_sum[None, :] - weights[:, None] * vectors
    similarities = np.einsum("ij,ij->i", vectors, rest_sums) / rest_weight
    close_at = similarities[None, :] >= np.asarray(levels)[:, None]
    authors = [member.author for member in members]
    return [len({author for author, close in zip(authors, row, strict=True) if close}) for row in close_at]


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
    levels = [level for level in clustering.surge_join_levels if level < clustering.hot_join_similarity]
    level = _loosest_level_mostly_the_surge(cluster.recent_mean, levels, now, history, policy, centred=True)
    return clustering.hot_join_similarity if level is None else level


def surge_attach_similarity(
    cluster: Cluster,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
) -> float | None:
    """How close, in plain cosine to its centre, a report must be for a surging incident to take it in
    when the centred comparison found it no home (None: not at all).

    Centring removes what a stream's complaints share, which is what tells one everyday complaint from
    another; but it also strips a generic report of an outage ("stuck in Denver, worst airline") down to
    almost nothing, so many of an incident's own customers match it at cosine 0 there while their plain
    embeddings are close to it. Whether plain closeness is safe is tested like a surge join level: the
    window's complaints that close must be at least ``min_rate_ratio`` times what an ordinary day holds
    there. Such reports are only attached: they are reported with the incident but do not count."""
    return _loosest_level_mostly_the_surge(
        cluster.centroid, clustering.surge_attach_levels, now, history, policy, centred=False
    )


def _loosest_level_mostly_the_surge(
    direction: np.ndarray,
    levels: Sequence[float],
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    centred: bool,
) -> float | None:
    """The loosest of ``levels`` at which the trailing window's complaints that close to ``direction``
    are at least ``min_rate_ratio`` times (and ``min_distinct_authors``) what an ordinary day holds
    there, i.e. mostly the surge itself; None where none is."""
    ordered = sorted(levels)
    if not ordered:
        return None
    window_start = now - policy.window_minutes * 60
    observed = history.count_matching_levels(direction, ordered, window_start, now + 1, centred=centred)
    usual = usual_counts(direction, ordered, window_start, now, history, policy, centred=centred)
    for level, seen, baseline in zip(ordered, observed, usual, strict=True):
        if seen >= policy.min_distinct_authors and seen >= policy.min_rate_ratio * baseline.expected:
            return level
    return None


def is_emerging_burst(
    seed_direction: np.ndarray,
    authors: int,
    similarity: float,
    now: float,
    history: ComplaintHistory,
    policy: PolicySettings,
    clustering: ClusteringSettings,
) -> bool:
    """Whether pending posts that say the same thing (at cosine ``similarity``) are more than everyday
    chatter: the (lenient) test a group passes to become a cluster at all, so everyday complaints never
    pile up into broad clusters that would later swallow a real incident. The chance is shared between
    the birth levels tried; below ``birth_similarity`` the group must also be ``min_rate_ratio`` times its
    usual number, since at a loose level everyday complaints are many and a chance flurry of them must
    not become a broad cluster."""
    window_start = now - clustering.birth_window_minutes * 60
    expected = expected_count(seed_direction, similarity, window_start, now, history, policy)
    if poisson_tail(authors, expected) * len(clustering.birth_levels) > clustering.birth_max_probability:
        return False
    return similarity >= clustering.birth_similarity or authors >= policy.min_rate_ratio * expected


def severity_for(distinct_authors: int, policy: PolicySettings) -> str:
    if distinct_authors >= policy.severity_critical_authors:
        return "critical"
    if distinct_authors >= policy.severity_error_authors:
        return "error"
    return "warning"
