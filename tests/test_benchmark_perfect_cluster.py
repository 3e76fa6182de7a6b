"""The detection benchmark's reference: when a perfect cluster of an incident would page."""

from __future__ import annotations

import numpy as np

from benchmarks._perfect_cluster import perfect_cluster_triggers
from tests.factories import near, stamp, triage_change, triage_post, unit_vector
from triage.events import TriageChange
from triage.settings import Settings

BACKGROUND_MINUTES = 240


def _stream(incident_vectors: list[np.ndarray], unflagged_first: int = 0):  # type: ignore[no-untyped-def]
    """Four hours of everyday complaints (each its own wording), then one new report a minute."""
    posts = [
        triage_post(number, number / 2, f"u{number}", unit_vector(1000 + number))
        for number in range(2 * BACKGROUND_MINUTES)
    ]
    timeline = []
    for index, vector in enumerate(incident_vectors):
        minute = BACKGROUND_MINUTES + index
        problem = 0.1 if index < unflagged_first else 0.95
        post = triage_post(5000 + index, minute, f"i{index}", vector, problem=problem)
        posts.append(post)
        timeline.append([post.external_id, post.author, stamp(minute)])
    incident = {
        "id": "i1",
        "onset": stamp(BACKGROUND_MINUTES),
        "posts": [row[0] for row in timeline],
        "timeline": timeline,
    }
    return sorted(posts, key=lambda post: post.time), incident


def test_an_incident_saying_one_thing_pages_once_enough_authors_have_said_it() -> None:
    theme = unit_vector(7)
    posts, incident = _stream([near(theme, seed, 0.4) for seed in range(20)])
    [trigger] = perfect_cluster_triggers(posts, [incident], Settings())
    assert trigger.incident == "i1"
    assert trigger.authors_by_trigger is not None
    assert Settings().policy.min_distinct_authors <= trigger.authors_by_trigger <= 8
    assert trigger.minutes_after_onset == trigger.authors_by_trigger - 1


def test_authors_the_classifier_missed_still_count_as_the_scorer_counts_them() -> None:
    theme = unit_vector(7)
    vectors = [near(theme, seed, 0.4) for seed in range(20)]
    flagged_only = perfect_cluster_triggers(*_single(_stream(vectors)), Settings())[0]
    two_missed = perfect_cluster_triggers(*_single(_stream(vectors, unflagged_first=2)), Settings())[0]
    assert two_missed.authors_by_trigger == flagged_only.authors_by_trigger + 2  # type: ignore[operator]


def test_reports_with_nothing_in_common_never_page() -> None:
    posts, incident = _stream([unit_vector(9000 + seed) for seed in range(20)])
    [trigger] = perfect_cluster_triggers(posts, [incident], Settings())
    assert trigger.authors_by_trigger is None and trigger.minutes_after_onset is None


def _single(stream):  # type: ignore[no-untyped-def]
    posts, incident = stream
    return posts, [incident]


def test_a_change_on_the_incident_service_shortly_before_lets_the_perfect_cluster_page_sooner() -> None:
    """Held to the budget the product allows a cluster after a change on its service; a change longer
    ago than ``after_change_minutes``, or on another service, does not count."""
    theme = unit_vector(7)
    posts, incident = _stream([near(theme, seed, 0.8) for seed in range(30)])
    incident = {**incident, "service": "cards"}

    def trigger(*changes: TriageChange) -> int | None:
        return perfect_cluster_triggers(posts, [incident], Settings(), changes)[0].authors_by_trigger

    plain = trigger()
    assert plain is not None
    after_deploy = trigger(triage_change("c1", BACKGROUND_MINUTES - 20, "cards"))
    assert after_deploy is not None and after_deploy < plain
    assert trigger(triage_change("c1", BACKGROUND_MINUTES - 200, "cards")) == plain
    assert trigger(triage_change("c1", BACKGROUND_MINUTES - 20, "loans")) == plain
