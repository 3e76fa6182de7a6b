from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.factories import near, triage_post, unit_vector
from triage.clustering import RESOLVED, SUBSIDING, ClusterBook
from triage.settings import ClusteringSettings


def test_a_lone_post_waits_in_the_pool() -> None:
    book = ClusterBook(ClusteringSettings())
    assert book.place(triage_post(1, 0, "a", unit_vector(1))) is None
    assert len(book.pending) == 1 and book.clusters == {}


def test_a_cluster_is_born_only_from_distinct_authors() -> None:
    settings = ClusteringSettings(birth_distinct_authors=3)
    book = ClusterBook(settings)
    theme = unit_vector(1)
    for number in range(5):
        assert book.place(triage_post(number, number, "same-author", near(theme, number, 0.2))) is None
    born = book.place(triage_post(10, 6, "b", near(theme, 10, 0.2)))
    assert born is None
    born = book.place(triage_post(11, 7, "c", near(theme, 11, 0.2)))
    assert born is not None and born.distinct_authors == 3 and len(born.members) == 7


def test_later_posts_join_the_nearest_live_cluster() -> None:
    book = ClusterBook(ClusteringSettings(birth_distinct_authors=2))
    first, second = unit_vector(1), unit_vector(2)
    for number, theme in enumerate([first, first, second, second]):
        book.place(triage_post(number, number, f"a{number}", near(theme, number, 0.2)))
    assert len(book.live) == 2
    joined = book.place(triage_post(9, 9, "z", near(second, 9, 0.2)))
    assert joined is not None and joined.key == "cl-00002"


def test_quiet_clusters_subside_then_resolve_and_take_no_more_posts() -> None:
    settings = ClusteringSettings(birth_distinct_authors=2, quiet_minutes_to_dissolve=90)
    book = ClusterBook(settings)
    theme = unit_vector(1)
    for number in range(3):
        book.place(triage_post(number, number, f"a{number}", near(theme, number, 0.2)))
    cluster = book.live[0]
    start = cluster.last_post_at
    book.update_lifecycle(start + settings.quiet_minutes_to_subside * 60)
    assert cluster.state == SUBSIDING
    assert book.update_lifecycle(start + settings.quiet_minutes_to_dissolve * 60) == [cluster]
    assert cluster.state == RESOLVED and book.live == []
    again = book.place(triage_post(20, 500, "late", near(theme, 20, 0.2)))
    assert again is None  # a recurrence starts over in the pool, as a new cluster


def test_close_clusters_merge_unless_a_person_split_them() -> None:
    settings = ClusteringSettings(birth_distinct_authors=2, merge_similarity=0.5)
    book = ClusterBook(settings)
    theme = unit_vector(1)
    first = book._new_cluster(0)
    second = book._new_cluster(0)
    for number in range(3):
        first.add(triage_post(number, number, f"a{number}", near(theme, number, 0.2)))
        second.add(triage_post(10 + number, number, f"b{number}", near(theme, 10 + number, 0.2)))
    second.cannot_link.add(first.key)
    assert book.find_merges() == []
    second.cannot_link.clear()
    [(survivor, absorbed)] = book.find_merges()
    book.merge(survivor, absorbed)
    assert book.resolve_key(absorbed.key) is survivor and len(survivor.members) == 6


def test_a_cluster_that_never_paged_dissolves_sooner_than_an_incident() -> None:
    settings = ClusteringSettings(birth_distinct_authors=2)
    book = ClusterBook(settings)
    for theme_seed, escalated in ((1, False), (2, True)):
        theme = unit_vector(theme_seed)
        for number in range(3):
            book.place(
                triage_post(
                    theme_seed * 10 + number,
                    number,
                    f"a{theme_seed}{number}",
                    near(theme, theme_seed * 10 + number, 0.2),
                )
            )
        book.live[-1].escalated = escalated
    quiet, incident = book.live
    resolved = book.update_lifecycle(quiet.last_post_at + settings.quiet_minutes_to_dissolve * 60)
    assert resolved == [quiet] and book.live == [incident]


def _two_problems_with_close_raw_centres() -> tuple[ClusterBook, str, str]:
    """Two clusters whose raw embeddings share a strong common part (every complaint of a stream does)
    but whose centred reports, the ones posts join by, point in different directions."""
    book = ClusterBook(ClusteringSettings())
    common = unit_vector(100)
    keys = []
    for side, theme in enumerate([unit_vector(101), unit_vector(102)]):
        cluster = book._new_cluster(0)
        for number in range(4):
            distinct = near(theme, 200 + 10 * side + number, 0.2)
            raw = 0.9 * common + 0.3 * distinct
            post = replace(
                triage_post(10 * side + number, number, f"{side}-{number}", raw / np.linalg.norm(raw)),
                match_vector=distinct,
            )
            cluster.add(post)
        keys.append(cluster.key)
    return book, keys[0], keys[1]


def test_close_raw_centres_do_not_merge_two_different_problems() -> None:
    book, first, second = _two_problems_with_close_raw_centres()
    live = {cluster.key: cluster for cluster in book.live}
    assert float(live[first].centroid @ live[second].centroid) >= book.settings.merge_similarity
    assert book.find_merges() == []
    assert book.find_merges(lambda cluster: cluster.key == first) == []


def test_close_clusters_bursting_together_merge_as_one_outage() -> None:
    book, first, second = _two_problems_with_close_raw_centres()
    [(survivor, absorbed)] = book.find_merges(lambda cluster: True)
    assert {survivor.key, absorbed.key} == {first, second}


def _at_cosine(base: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """A unit vector at exactly ``cosine`` from ``base``."""
    other = unit_vector(seed)
    other = other - (other @ base) * base
    other /= np.linalg.norm(other)
    return (cosine * base + np.sqrt(1 - cosine**2) * other).astype(np.float32)


def test_variously_worded_first_reports_form_a_cluster_at_a_loose_level_if_the_burst_test_agrees() -> None:
    settings = ClusteringSettings()
    theme = unit_vector(1)
    cosine = (settings.birth_similarity + settings.loose_birth_similarity) / 2
    asked: list[tuple[int, float]] = []

    def burst_test(approve: bool):  # type: ignore[no-untyped-def]
        def test(_seed, authors: int, level: float) -> bool:  # type: ignore[no-untyped-def]
            asked.append((authors, level))
            return approve

        return test

    for approve in (False, True):
        book = ClusterBook(settings)
        book.place(triage_post(1, 0, "a", _at_cosine(theme, cosine, 11)), burst_test(approve))
        book.place(triage_post(2, 1, "b", _at_cosine(theme, cosine, 12)), burst_test(approve))
        born = book.place(triage_post(3, 2, "c", theme), burst_test(approve))
        assert (born is not None) is approve
    assert asked[-1] == (3, settings.loose_birth_similarity)
    # without a burst test nothing tells an outage from everyday complaints at the loose level
    book = ClusterBook(settings)
    for number, vector in enumerate([_at_cosine(theme, cosine, 11), _at_cosine(theme, cosine, 12), theme]):
        assert book.place(triage_post(number, number, f"a{number}", vector)) is None


def _everyday_cluster_then_new_problem(burst_test, host_age_minutes: float):  # type: ignore[no-untyped-def]
    """A broad everyday cluster (one theme said many loose ways) that has lived ``host_age_minutes``,
    then three new customers saying one new, specific thing that still fits the broad cluster."""
    book = ClusterBook(ClusteringSettings())
    everyday, outage = unit_vector(50), unit_vector(51)
    outage = outage - (outage @ everyday) * everyday
    outage /= np.linalg.norm(outage)
    for number in range(3):  # the everyday cluster is born from three close reports
        book.place(triage_post(number, number, f"e{number}", near(everyday, 60 + number, 0.1)), burst_test)
    step = host_age_minutes / 12
    for number in range(3, 15):  # then loosely worded everyday complaints keep joining it
        loose = _at_cosine(everyday, 0.55, 70 + number)
        book.place(triage_post(number, 3 + step * (number - 3), f"e{number}", loose), burst_test)
    [host] = book.live
    start = 3 + host_age_minutes
    specific = (0.5 * everyday + 0.87 * outage).astype(np.float32)
    new = [
        book.place(triage_post(100 + n, start + n, f"n{n}", near(specific, 90 + n, 0.1)), burst_test)
        for n in range(3)
    ]
    return book, host, new


def test_a_new_problem_landing_in_a_long_lived_everyday_cluster_is_born_as_its_own() -> None:
    book, host, new = _everyday_cluster_then_new_problem(lambda _seed, authors, level: True, 60)
    born = new[-1]
    assert born is not None and born is not host
    assert sorted(member.author for member in born.members) == ["n0", "n1", "n2"]
    assert not {member.author for member in host.members} & {"n0", "n1", "n2"}
    assert len(host.members) == 15 and host.distinct_authors == 15


def test_without_a_burst_or_in_a_young_cluster_new_reports_join_the_cluster_they_fit() -> None:
    # the burst test says the new reports are everyday chatter: they stay in the cluster they fit
    _, host, new = _everyday_cluster_then_new_problem(lambda seed, authors, level: seed.author[0] == "e", 60)
    assert all(cluster is host for cluster in new) and host.distinct_authors == 18
    # a cluster younger than the birth window is still an event itself, not a kind of complaint
    _, host, new = _everyday_cluster_then_new_problem(lambda _seed, authors, level: True, 10)
    assert all(cluster is host for cluster in new)
