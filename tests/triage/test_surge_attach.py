"""A surging incident attaches reports that are plainly close to it, only where those are mostly new."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.factories import START, triage_post, unit_vector
from tests.triage.test_surge_join import loosely_like
from triage.clustering import Cluster, ClusterBook
from triage.detection import surge_attach_similarity
from triage.events import TriagePost
from triage.history import ComplaintHistory
from triage.settings import ClusteringSettings, PolicySettings

NOW = START.timestamp() + 12 * 3600


def history_with(everyday_close_per_hour: int, centre: np.ndarray) -> ComplaintHistory:
    """Eleven hours of varied complaints (30 an hour) plus ``everyday_close_per_hour`` plainly close to
    ``centre``, then a window in which 20 reports plainly close to it arrive."""
    begin = NOW - 12 * 3600
    items = [(begin + minute * 60, unit_vector(50_000 + minute)) for minute in range(0, 11 * 60, 2)]
    items += [
        (begin + index * 3600 / everyday_close_per_hour + 30, loosely_like(centre, 0.7, 60_000 + index))
        for index in range(11 * everyday_close_per_hour)
    ]
    items += [(NOW - 25 * 60 + index * 60, loosely_like(centre, 0.7, 70_000 + index)) for index in range(20)]
    history = ComplaintHistory(24 * 3600)
    for time, vector in sorted(items, key=lambda item: item[0]):
        history.add(time, vector)
    return history


def surging_incident(centre: np.ndarray, attach_at: float | None) -> Cluster:
    cluster = Cluster("cl-incident", born_at=NOW - 1200)
    for number in range(6):
        cluster.add(triage_post(number, 0, f"author{number}", loosely_like(centre, 0.9, 900 + number)))
    cluster.centroid = centre
    cluster.escalated = True
    cluster.surge_attach = attach_at
    return cluster


def book_with(cluster: Cluster) -> ClusterBook:
    book = ClusterBook(ClusteringSettings())
    book.clusters[cluster.key] = cluster
    book.live.append(cluster)
    return book


def plain_only(centre: np.ndarray, recent: np.ndarray, plain_cosine: float, number: int) -> TriagePost:
    """A report plainly close to ``centre`` whose centred vector says nothing like ``recent``."""
    post = triage_post(number, 30, f"customer{number}", loosely_like(centre, plain_cosine, number))
    return replace(post, match_vector=loosely_like(recent, 0.0, 40_000 + number))


def test_plain_counts_ignore_the_stream_mean() -> None:
    centre = unit_vector(7)
    history = history_with(0, centre)
    plain = history.count_matching_levels(centre, [0.65], NOW - 30 * 60, NOW + 1, centred=False)
    assert plain == [20]


def test_quiet_surroundings_let_a_surge_attach_plainly_close_reports() -> None:
    centre = unit_vector(7)
    level = surge_attach_similarity(
        surging_incident(centre, None), NOW, history_with(0, centre), PolicySettings(), ClusteringSettings()
    )
    assert level == min(ClusteringSettings().surge_attach_levels)


def test_everyday_complaints_that_close_attach_nothing() -> None:
    centre = unit_vector(7)
    busy = history_with(20, centre)  # reports that close to it are an everyday thing here
    level = surge_attach_similarity(
        surging_incident(centre, None), NOW, busy, PolicySettings(), ClusteringSettings()
    )
    assert level is None


def test_no_levels_configured_attach_nothing() -> None:
    centre = unit_vector(7)
    clustering = ClusteringSettings(surge_attach_levels=[])
    level = surge_attach_similarity(
        surging_incident(centre, None), NOW, history_with(0, centre), PolicySettings(), clustering
    )
    assert level is None


def test_a_plainly_close_report_is_attached_listed_but_not_counted() -> None:
    centre = unit_vector(7)
    incident = surging_incident(centre, 0.6)
    book = book_with(incident)
    authors_before = incident.distinct_authors
    placed = book.place(plain_only(centre, incident.recent_mean, 0.65, 501))
    assert placed is incident
    assert incident.members[-1].post_id == 501 and 501 in incident.attached
    assert incident.distinct_authors == authors_before + 1
    assert "customer501" not in incident.authors_since(0)


def test_a_report_not_close_enough_or_an_incident_no_longer_surging_waits() -> None:
    centre = unit_vector(7)
    incident = surging_incident(centre, 0.6)
    book = book_with(incident)
    assert book.place(plain_only(centre, incident.recent_mean, 0.5, 502)) is None
    incident.calm_since = NOW  # calm: held to the ordinary join test again
    assert book.place(plain_only(centre, incident.recent_mean, 0.65, 503)) is None
    incident.calm_since, incident.surge_attach = None, None
    assert book.place(plain_only(centre, incident.recent_mean, 0.65, 504)) is None
    assert [post.post_id for post in book.pending] == [502, 503, 504]


def test_recruiting_attaches_plainly_close_waiting_reports() -> None:
    centre = unit_vector(7)
    incident = surging_incident(centre, None)
    book = book_with(incident)
    book.place(plain_only(centre, incident.recent_mean, 0.65, 601))
    book.place(plain_only(centre, incident.recent_mean, 0.3, 602))
    incident.surge_attach = 0.6
    assert book.recruit_pending(incident, 0, 0.22) == 1
    assert 601 in incident.attached and [post.post_id for post in book.pending] == [602]
