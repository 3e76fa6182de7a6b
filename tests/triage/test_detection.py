from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.factories import START, near, triage_post, unit_vector, warm_up
from triage import detection
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.detection import UsualCount, count_tail, evaluate_cluster, poisson_tail, severity_for
from triage.engine import TriageEngine
from triage.history import ComplaintHistory
from triage.settings import PolicySettings, Settings


def engine(warm: bool = True) -> TriageEngine:
    """An engine past its learning period (hours of ordinary complaints) unless ``warm`` is False."""
    triage = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    if warm:
        warm_up(triage)
    return triage


def _usual_counts(by_level: dict[float, float], evidence: float = 1e9):  # type: ignore[no-untyped-def]
    """A stand-in baseline: how many window complaints are usual at each similarity level (by default
    resting on so much history that the count tail is the Poisson tail)."""
    return lambda _direction, levels, *_: [
        UsualCount(by_level[round(level, 2)], evidence) for level in levels
    ]


def test_poisson_tail_matches_the_closed_form() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert math.isclose(poisson_tail(1, 2.0), 1 - math.exp(-2.0))
    assert math.isclose(poisson_tail(2, 2.0), 1 - math.exp(-2.0) * 3.0)
    assert poisson_tail(10, 0.5) < 1e-8


def test_many_distinct_authors_saying_one_new_thing_trigger() -> None:
    triage = engine()
    theme = unit_vector(1)
    for number in range(12):
        triage.add_post(triage_post(number, 600 + number, f"author{number}", near(theme, number, 0.2)))
    assert len(triage.signals) == 1
    signal = next(iter(triage.signals.values()))
    assert signal.verdict.window_authors >= Settings().policy.min_distinct_authors


def test_one_author_posting_forty_times_never_triggers() -> None:
    triage = engine()
    theme = unit_vector(2)
    for number in range(40):
        triage.add_post(triage_post(number, 600 + number, "the-same-angry-person", near(theme, number, 0.2)))
    assert triage.signals == {}


def test_posts_the_classifier_calls_noise_never_trigger() -> None:
    triage = engine()
    complaints_before = triage.problem_posts
    theme = unit_vector(3)
    for number in range(30):
        triage.add_post(
            triage_post(number, 600 + number, f"fan{number}", near(theme, number, 0.2), problem=0.05)
        )
    assert triage.signals == {} and triage.problem_posts == complaints_before


def test_a_complaint_that_is_always_there_does_not_trigger() -> None:
    """An everyday complaint at a steady rate is its own baseline."""
    triage = engine(warm=False)
    everyday = unit_vector(4)
    other = [unit_vector(100 + topic) for topic in range(6)]
    number = 0
    for minute in range(0, 24 * 60, 3):
        triage.tick(START.timestamp() + minute * 60)
        for topic in other:
            number += 1
            triage.add_post(triage_post(number, minute + 0.5, f"a{number}", near(topic, number, 0.2)))
        number += 1
        triage.add_post(triage_post(number, minute + 1, f"b{number}", near(everyday, number, 0.2)))
    late_signals = [s for s in triage.signals.values() if s.first_triggered_at > START.timestamp() + 6 * 3600]
    assert late_signals == []


def test_severity_rises_with_distinct_authors() -> None:
    policy = PolicySettings()
    assert severity_for(5, policy) == "warning"
    assert severity_for(policy.severity_error_authors, policy) == "error"
    assert severity_for(policy.severity_critical_authors, policy) == "critical"


def test_nothing_pages_during_the_learning_period() -> None:
    """With no history there is no baseline: a burst in the first hours is not yet surprising."""
    triage = engine(warm=False)
    theme = unit_vector(5)
    for number in range(30):
        triage.add_post(triage_post(number, 10 + number, f"early{number}", near(theme, number, 0.2)))
    assert triage.signals == {}


def _cluster_with_window_authors(count: int, now: float) -> Cluster:
    cluster = Cluster("cl-test", born_at=now - 600)
    theme = unit_vector(4)
    for number in range(count):
        cluster.add(
            triage_post(number, (now - 600) / 60 + number / 10, f"author{number}", near(theme, number, 0.2))
        )
    return cluster


def test_an_improbable_count_that_is_not_several_times_the_usual_does_not_trigger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real complaint counts are overdispersed: 25 authors where 10 are usual is a Poisson tail of
    about 1e-5, yet a busy everyday complaint reaches that without anything being broken."""
    now = START.timestamp() + 10 * 3600
    monkeypatch.setattr(detection, "usual_counts", _usual_counts({0.22: 10.0}))
    cluster = _cluster_with_window_authors(25, now)
    history = ComplaintHistory(24 * 3600)
    lenient = Settings(policy=PolicySettings(min_rate_ratio=1.0))
    strict = Settings()
    assert strict.policy.min_rate_ratio == 3.0
    verdict = evaluate_cluster(cluster, now, history, lenient.policy, lenient.clustering)
    assert verdict.false_alarm_probability < lenient.policy.max_false_alarm_probability and verdict.triggered
    assert not evaluate_cluster(cluster, now, history, strict.policy, strict.clustering).triggered
    three_times = _cluster_with_window_authors(30, now)
    assert evaluate_cluster(three_times, now, history, strict.policy, strict.clustering).triggered


def _cluster_of(vectors: list[np.ndarray], now: float) -> Cluster:
    cluster = Cluster("cl-test", born_at=now - 600)
    for number, vector in enumerate(vectors):
        cluster.add(triage_post(number, (now - 600) / 60 + number / 10, f"author{number}", vector))
    return cluster


def test_a_chance_pile_up_of_a_broad_kind_does_not_page_when_its_reports_are_not_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nine authors where 1.7 are usual is a chance of about 5e-5 at the join level: enough for the bar
    alone, but a week of ~100 clusters tested every minute meets such chances by luck. Reports of a broad
    everyday kind are not close to each other, so at the closer levels nothing is surprising, and the join
    level's chance, multiplied by the three levels tested, stays above the bar."""
    now = START.timestamp() + 10 * 3600
    monkeypatch.setattr(detection, "usual_counts", _usual_counts({0.22: 1.7, 0.3: 1.2, 0.4: 0.9}))
    broad = _cluster_of([near(unit_vector(7), number, 2.5) for number in range(9)], now)
    settings = Settings()
    verdict = evaluate_cluster(
        broad, now, ComplaintHistory(86400), settings.policy, settings.clustering, (0.3, 0.4)
    )
    assert poisson_tail(9, 1.7) < settings.policy.max_false_alarm_probability
    assert verdict.closer_level is None and verdict.levels_tested == 3
    assert math.isclose(verdict.false_alarm_probability, 3 * poisson_tail(9, 1.7), rel_tol=1e-6)
    assert not verdict.triggered
    alone = evaluate_cluster(broad, now, ComplaintHistory(86400), settings.policy, settings.clustering)
    assert alone.triggered and alone.levels_tested == 1


def test_reports_that_say_one_specific_thing_page_at_a_closer_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven authors where 1.7 are usual is not enough at the join level, but seven reports that closely
    resemble each other where 0.3 such are usual is an outage, not chance."""
    now = START.timestamp() + 10 * 3600
    monkeypatch.setattr(detection, "usual_counts", _usual_counts({0.22: 1.7, 0.3: 0.5, 0.4: 0.3}))
    tight = _cluster_of([near(unit_vector(8), number, 0.3) for number in range(7)], now)
    settings = Settings()
    history = ComplaintHistory(86400)
    assert not evaluate_cluster(tight, now, history, settings.policy, settings.clustering).triggered
    verdict = evaluate_cluster(tight, now, history, settings.policy, settings.clustering, (0.3, 0.4))
    assert verdict.triggered and verdict.closer_level == 0.4 and verdict.level_authors == 7
    assert "closely the same thing" in verdict.explain() and "3 similarity levels" in verdict.explain()


def test_a_report_is_not_close_to_its_cluster_merely_because_it_is_part_of_its_mean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five loosely related reports (cosine about 0.2 to each other) each make up a fifth of their
    cluster's mean, so each resembles that mean at about 0.36, past the 0.3 level, though none resembles
    the others that closely: compared with the mean of the *other* reports, none is close and the closer
    levels count nobody."""
    now = START.timestamp() + 10 * 3600
    monkeypatch.setattr(detection, "usual_counts", _usual_counts({0.22: 0.01, 0.3: 0.01, 0.4: 0.01}))
    unrelated = _cluster_of([near(unit_vector(9), 200 + number, 2.0) for number in range(5)], now)
    assert all(float(member.embedding @ unrelated.recent_mean) > 0.3 for member in unrelated.members)
    settings = Settings()
    verdict = evaluate_cluster(
        unrelated, now, ComplaintHistory(86400), settings.policy, settings.clustering, (0.3, 0.4)
    )
    assert verdict.closer_level is None


def test_the_count_tail_is_the_poisson_tail_with_plenty_of_history_and_heavier_without() -> None:
    """Five reports where 0.3 are usual: with a baseline resting on thousands of matching complaints
    that is the Poisson chance; resting on five (a closely worded kind barely seen in a day) the usual
    count is itself uncertain and the same five reports are several times less surprising."""
    assert math.isclose(count_tail(5, UsualCount(0.3, 1e7)), poisson_tail(5, 0.3), rel_tol=1e-3)
    assert count_tail(5, UsualCount(0.3, 5.0)) > 3 * poisson_tail(5, 0.3)
    assert count_tail(0, UsualCount(0.3, 5.0)) == 1.0
    assert count_tail(5, UsualCount(math.inf, 0.0)) == 1.0
    tails = [count_tail(observed, UsualCount(2.0, 10.0)) for observed in range(1, 12)]
    assert all(later < earlier for earlier, later in zip(tails, tails[1:], strict=False))


def test_a_few_close_reports_of_a_kind_the_baseline_has_barely_seen_do_not_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five authors saying nearly the same thing where 0.3 are usual pass the bar if the usual count were
    certain, but it rests on five matching complaints (mostly the prior): not enough to page on."""
    now = START.timestamp() + 10 * 3600
    tight = _cluster_of([near(unit_vector(10), number, 0.3) for number in range(5)], now)
    settings = Settings()
    history = ComplaintHistory(86400)
    levels = {0.22: 0.5, 0.3: 0.3, 0.4: 0.3}
    monkeypatch.setattr(detection, "usual_counts", _usual_counts(levels))
    certain = evaluate_cluster(tight, now, history, settings.policy, settings.clustering, (0.3, 0.4))
    monkeypatch.setattr(detection, "usual_counts", _usual_counts(levels, evidence=5.0))
    uncertain = evaluate_cluster(tight, now, history, settings.policy, settings.clustering, (0.3, 0.4))
    assert certain.triggered and not uncertain.triggered


def test_a_group_formed_at_the_loose_birth_level_must_also_stand_out_by_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 authors where 4.5 are usual is a rare count (chance 0.008 over two birth levels), but at a loose
    similarity everyday complaints are many: a flurry under three times their usual number is not an
    emerging problem there, while at the strict level the same count forms a cluster."""
    settings = Settings()
    monkeypatch.setattr(detection, "expected_count", lambda *_: 4.5)
    clustering, policy = settings.clustering, settings.policy
    assert clustering.loose_birth_similarity < clustering.birth_similarity
    history = ComplaintHistory(86400)
    direction = unit_vector(3)

    def forms(authors: int, similarity: float) -> bool:
        return detection.is_emerging_burst(direction, authors, similarity, 0.0, history, policy, clustering)

    assert forms(12, clustering.birth_similarity)
    assert not forms(12, clustering.loose_birth_similarity)
    assert forms(14, clustering.loose_birth_similarity)
    assert not forms(9, clustering.birth_similarity)


def test_two_halves_of_one_problem_page_once_they_merge() -> None:
    """Reports of one outage worded two ways can form two clusters, neither with enough authors to
    page; when a pass merges them, their authors count together at once, not only at the next report."""
    triage = engine()
    theme = unit_vector(1)
    halves = [triage.book._new_cluster(START.timestamp() + 600 * 60) for _ in range(2)]
    for number in range(6):
        post = triage_post(number, 600 + number, f"author{number}", near(theme, number, 0.2))
        triage.history.add(post.time, post.embedding)
        centred = post.embedding - triage.history.mean_vector()
        halves[number % 2].add(replace(post, match_vector=centred / np.linalg.norm(centred)))
    for half in halves:
        triage._consider_trigger(half, half.last_post_at)
    assert triage.signals == {}
    triage.tick(START.timestamp() + 606 * 60)
    assert len(triage.signals) == 1
    signal = next(iter(triage.signals.values()))
    assert signal.verdict.window_authors == 6
