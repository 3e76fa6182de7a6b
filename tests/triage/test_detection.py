from __future__ import annotations

import math

import numpy as np

from tests.factories import START, near, triage_post, unit_vector, warm_up
from triage.catalog import ServiceCatalog
from triage.detection import poisson_tail, severity_for
from triage.engine import TriageEngine
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
