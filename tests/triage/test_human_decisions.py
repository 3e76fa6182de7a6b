"""Support leads' decisions are constraints that later triage passes keep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import START, near, triage_post, unit_vector, warm_up
from triage.catalog import ServiceCatalog
from triage.engine import RESOLVE, TriageEngine
from triage.settings import Settings

T0 = START.timestamp()


def engine() -> TriageEngine:
    """An engine past its learning period, with hours of ordinary complaints as its baseline."""
    triage = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    warm_up(triage)
    return triage


def burst(triage: TriageEngine, theme: np.ndarray, first_number: int, minute: float, authors: int) -> None:
    for offset in range(authors):
        number = first_number + offset
        triage.add_post(
            triage_post(number, minute + offset * 0.5, f"person{number}", near(theme, number, 0.2))
        )


def test_a_muted_cluster_resolves_its_signal_and_does_not_page_again_until_the_mute_ends() -> None:
    triage = engine()
    theme = unit_vector(11)
    burst(triage, theme, 0, 600, 10)
    [signal] = triage.signals.values()
    triage.mute(signal.cluster_key, until=T0 + 620 * 60, now=T0 + 606 * 60)
    assert signal.state == "resolved" and triage.decisions[-1].action == RESOLVE
    burst(triage, theme, 100, 607, 20)  # minutes 607..616.5, still muted
    assert len(triage.signals) == 1
    burst(triage, theme, 200, 621, 6)  # the mute has ended and the problem is still surging
    assert len(triage.signals) == 2
    assert triage.signals[f"default:{signal.cluster_key}:1"].state == "resolved"
    assert triage.signals[f"default:{signal.cluster_key}:2"].state == "open"


def test_a_merge_by_a_person_survives_later_ticks() -> None:
    triage = engine()
    burst(triage, unit_vector(21), 0, 600, 4)
    burst(triage, unit_vector(22), 50, 600, 4)
    first, second = sorted(triage.book.clusters)
    triage.merge_clusters(second, first, now=T0 + 605 * 60)
    for minute in range(606, 640):
        triage.tick(T0 + minute * 60)
    assert triage.book.resolve_key(second).key == first
    assert [cluster.key for cluster in triage.current_clusters()] == [first]


def test_a_split_stays_split_even_when_the_parts_look_alike() -> None:
    triage = engine()
    theme = unit_vector(31)
    burst(triage, theme, 0, 600, 8)
    [cluster] = triage.current_clusters()
    moved = {member.post_id for member in cluster.members[:4]}
    part = triage.split_cluster(cluster.key, moved, now=T0 + 610 * 60)
    for minute in range(611, 640):
        triage.tick(T0 + minute * 60)
    keys = {c.key for c in triage.current_clusters()}
    assert keys == {cluster.key, part}
    assert {member.post_id for member in triage.book.clusters[part].members} == moved


def test_a_split_must_leave_posts_on_both_sides() -> None:
    triage = engine()
    burst(triage, unit_vector(41), 0, 600, 4)
    [cluster] = triage.current_clusters()
    with pytest.raises(ValueError, match="each side"):
        triage.split_cluster(cluster.key, {member.post_id for member in cluster.members}, now=T0)


def test_a_problem_that_returns_after_resolution_opens_a_new_signal() -> None:
    triage = engine()
    theme = unit_vector(51)
    burst(triage, theme, 0, 600, 10)
    for minute in range(606, 900, 1):
        triage.tick(T0 + minute * 60)
    [first] = triage.signals.values()
    assert first.state == "resolved"
    burst(triage, theme, 100, 1000, 10)
    keys = sorted(triage.signals)
    assert len(keys) == 2 and triage.signals[keys[1]].state == "open"
    assert triage.signals[keys[1]].cluster_key != first.cluster_key
