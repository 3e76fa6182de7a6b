"""A surging incident takes its loosely worded reports only where they are mostly the incident."""

from __future__ import annotations

import numpy as np

from tests.factories import START, triage_post, unit_vector, warm_up
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.detection import surge_join_similarity
from triage.engine import TriageEngine
from triage.history import ComplaintHistory
from triage.settings import ClusteringSettings, PolicySettings, Settings

NOW = START.timestamp() + 12 * 3600


def loosely_like(direction: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector at exactly ``cosine`` to ``direction`` (the rest of it points somewhere random)."""
    other = unit_vector(seed)
    other = other - float(other @ direction) * direction
    other /= np.linalg.norm(other)
    return (cosine * direction + np.sqrt(1 - cosine**2) * other).astype(np.float32)


def history_with(everyday_loose_per_hour: int, incident_direction: np.ndarray) -> ComplaintHistory:
    """Eleven hours of varied complaints (30 an hour), ``everyday_loose_per_hour`` more of them loosely
    like the incident, then a window in which 30 reports loosely like it arrive with 10 unrelated ones."""
    begin = NOW - 12 * 3600
    items = [(begin + minute * 60, unit_vector(50_000 + minute)) for minute in range(0, 11 * 60, 2)]
    items += [
        (
            begin + index * 3600 / everyday_loose_per_hour + 30,
            loosely_like(incident_direction, 0.12, 60_000 + index),
        )
        for index in range(11 * everyday_loose_per_hour)
    ]
    items += [
        (NOW - 25 * 60 + index * 40, loosely_like(incident_direction, 0.12, 70_000 + index))
        for index in range(30)
    ]
    items += [(NOW - 25 * 60 + index * 120 + 7, unit_vector(80_000 + index)) for index in range(10)]
    history = ComplaintHistory(24 * 3600)
    for time, vector in sorted(items, key=lambda item: item[0]):
        history.add(time, vector)
    return history


def incident(direction: np.ndarray) -> Cluster:
    cluster = Cluster("cl-incident", born_at=NOW - 1200)
    cluster.recent_mean = direction
    return cluster


def test_quiet_surroundings_let_a_surge_take_loosely_worded_reports() -> None:
    direction = unit_vector(7)
    clustering, policy = ClusteringSettings(), PolicySettings()
    level = surge_join_similarity(incident(direction), NOW, history_with(0, direction), policy, clustering)
    assert level < clustering.hot_join_similarity
    assert level == min(clustering.surge_join_levels)


def test_dense_everyday_complaints_of_the_kind_keep_the_hot_threshold() -> None:
    direction = unit_vector(7)
    clustering, policy = ClusteringSettings(), PolicySettings()
    busy = history_with(20, direction)  # the loosely similar complaints are an everyday thing here
    level = surge_join_similarity(incident(direction), NOW, busy, policy, clustering)
    assert level == clustering.hot_join_similarity


def test_no_levels_configured_means_the_hot_threshold() -> None:
    direction = unit_vector(7)
    clustering = ClusteringSettings(surge_join_levels=[])
    level = surge_join_similarity(
        incident(direction), NOW, history_with(0, direction), PolicySettings(), clustering
    )
    assert level == clustering.hot_join_similarity


def test_an_attached_report_is_listed_but_neither_moves_the_centre_nor_counts_in_the_window() -> None:
    cluster = Cluster("cl-test", born_at=START.timestamp())
    theme = unit_vector(3)
    for number in range(6):
        cluster.add(triage_post(number, number, f"author{number}", loosely_like(theme, 0.9, 500 + number)))
    centre, recent = cluster.centroid.copy(), cluster.recent_mean.copy()
    cluster.add(triage_post(99, 7, "loose-author", unit_vector(12345)), attached=True)
    assert cluster.members[-1].post_id == 99 and cluster.distinct_authors == 7
    assert np.array_equal(cluster.centroid, centre) and np.array_equal(cluster.recent_mean, recent)
    assert "loose-author" not in cluster.authors_since(START.timestamp())


def _surge_then_loose_reports(settings: Settings) -> tuple[TriageEngine, list[int]]:
    triage = TriageEngine(settings, ServiceCatalog([], np.zeros((0, 384))))
    end = warm_up(triage)
    theme = unit_vector(21)
    number = 0
    for number in range(14):  # the first reports say it alike: a page
        triage.add_post(
            triage_post(number, end + 10 + number / 2, f"first{number}", loosely_like(theme, 0.95, number))
        )
    triage.tick(START.timestamp() + (end + 18) * 60)
    loose_ids = []
    for index in range(12):  # later customers describe it in their own words
        number = 1000 + index
        loose_ids.append(number)
        triage.add_post(
            triage_post(number, end + 19 + index / 2, f"later{index}", loosely_like(theme, 0.16, number))
        )
        triage.tick(START.timestamp() + (end + 19 + index / 2) * 60)
    return triage, loose_ids


def test_an_incident_in_quiet_surroundings_is_reported_with_its_loosely_worded_reports() -> None:
    triage, loose_ids = _surge_then_loose_reports(Settings())
    assert len(triage.signals) == 1
    signal = next(iter(triage.signals.values()))
    members = {post.post_id for post in triage.book.clusters[signal.cluster_key].members}
    assert set(loose_ids) <= members

    without = Settings(clustering=ClusteringSettings(surge_join_levels=[]))
    triage, loose_ids = _surge_then_loose_reports(without)
    signal = next(iter(triage.signals.values()))
    members = {post.post_id for post in triage.book.clusters[signal.cluster_key].members}
    assert not set(loose_ids) & members
