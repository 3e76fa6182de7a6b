from __future__ import annotations

import math

import numpy as np
import pytest

from tests.factories import START, near, triage_post, unit_vector, warm_up
from triage import detection
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.detection import evaluate_cluster, poisson_tail, severity_for
from triage.engine import TriageEngine
from triage.history import ComplaintHistory
from triage.settings import PolicySettings, Settings


def engine(warm: bool = True) -> TriageEngine:
    """An engine past its learning period (hours of ordinary complaints) unless ``warm`` is False."""
    triage = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    if warm:
        warm_up(triage)
    return triage


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
    monkeypatch.setattr(detection, "expected_count", lambda *_: 10.0)
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
