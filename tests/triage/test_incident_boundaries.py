"""What an incident lists stops where the incident does: a calm incident gathers nothing more, and an
incident that merges with a long-lived everyday cluster takes only that cluster's recent reports."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import START, near, triage_post, unit_vector
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.engine import TriageEngine
from triage.settings import Settings

_THEME = unit_vector(61)


def _engine() -> TriageEngine:
    engine = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    engine.history.add(START.timestamp(), unit_vector(1))  # a baseline exists
    return engine


def _incident(engine: TriageEngine, first_minute: float, authors: int) -> Cluster:
    """An escalated cluster of ``authors`` reports, one a minute from ``first_minute``."""
    cluster = engine.book._new_cluster(START.timestamp() + first_minute * 60)
    for number in range(authors):
        minute = first_minute + number
        cluster.add(triage_post(number, minute, f"hit{number}", near(_THEME, number, 0.2)))
    engine.escalate_now(cluster.key, START.timestamp() + (first_minute + authors) * 60)
    return cluster


def _pending_report(engine: TriageEngine, number: int, minute: float) -> None:
    engine.book.pending.append(triage_post(number, minute, f"waiting{number}", near(_THEME, number, 0.2)))


@pytest.mark.parametrize("calm", [False, True])
def test_only_a_surging_incident_recruits_the_pending_pool(calm: bool) -> None:
    engine = _engine()
    incident = _incident(engine, 0, 20)
    if calm:
        incident.calm_since = START.timestamp() + 20 * 60
    _pending_report(engine, 500, 21)
    engine._end_calm_incidents = lambda now: None  # type: ignore[method-assign]  # keep the state set here
    engine.tick(START.timestamp() + 22 * 60)
    recruited = any(member.post_id == 500 for member in incident.members)
    assert recruited is not calm
    assert (len(engine.book.pending) == 1) is calm


def test_a_calm_incident_does_not_fold_in_a_burst_beside_it() -> None:
    engine = _engine()
    incident = _incident(engine, 0, 20)
    incident.calm_since = START.timestamp() + 20 * 60
    beside = engine.book._new_cluster(START.timestamp() + 25 * 60)
    for number in range(100, 104):
        beside.add(triage_post(number, 25 + number % 10, f"new{number}", near(_THEME, number, 0.2)))
    engine._end_calm_incidents = lambda now: None  # type: ignore[method-assign]
    engine.book.find_merges = lambda bursting=None: []  # type: ignore[method-assign]  # only the gather
    engine.tick(START.timestamp() + 30 * 60)
    assert beside.merged_into is None and len(beside.members) == 4


def _everyday_cluster(engine: TriageEngine, old_minutes: list[float], recent_minutes: list[float]) -> Cluster:
    cluster = engine.book._new_cluster(START.timestamp() + old_minutes[0] * 60)
    for offset, minute in enumerate(old_minutes + recent_minutes):
        number = 1_000 + offset
        cluster.add(triage_post(number, minute, f"everyday{number}", near(_THEME, number, 0.2)))
    return cluster


def test_an_incident_merging_with_a_long_lived_cluster_takes_only_its_recent_reports() -> None:
    engine = _engine()
    everyday = _everyday_cluster(engine, [-360 + 10 * step for step in range(30)], [5, 12, 30])
    incident = _incident(engine, 0, 20)  # escalated at minute 20: its burst began at minute 0
    signal = engine.signals[engine.signal_of_cluster[incident.key]]
    # the larger everyday cluster comes first, as find_merges orders a pair
    engine.book.find_merges = lambda bursting=None: [(everyday, incident)]  # type: ignore[method-assign]
    engine.tick(START.timestamp() + 31 * 60)

    assert engine.book.resolve_key(signal.cluster_key) is incident and signal.state == "open"
    everyday_ids = {member.post_id for member in incident.members if member.author.startswith("everyday")}
    assert everyday_ids == {1_030, 1_031, 1_032}, "the reports posted since the burst began"
    assert everyday.merged_into is None and len(everyday.members) == 30
    assert everyday.key in incident.cannot_link, "the everyday part never merges back"


def test_an_everyday_cluster_with_nothing_since_the_burst_is_not_merged_into_the_incident() -> None:
    engine = _engine()
    everyday = _everyday_cluster(engine, [-360 + 10 * step for step in range(30)], [])
    incident = _incident(engine, 0, 20)
    engine.book.find_merges = lambda bursting=None: [(everyday, incident)]  # type: ignore[method-assign]
    engine.tick(START.timestamp() + 31 * 60)
    assert everyday.merged_into is None and incident.merged_into is None
    assert not any(member.author.startswith("everyday") for member in incident.members)


def test_two_everyday_clusters_still_merge_whole() -> None:
    engine = _engine()
    first = _everyday_cluster(engine, [-360 + 10 * step for step in range(30)], [5])
    second = engine.book._new_cluster(START.timestamp())
    for number in range(5):
        second.add(triage_post(2_000 + number, number, f"other{number}", near(_THEME, number, 0.2)))
    engine.book.find_merges = lambda bursting=None: [(first, second)]  # type: ignore[method-assign]
    engine.tick(START.timestamp() + 10 * 60)
    assert second.merged_into == first.key and len(first.members) == 36
