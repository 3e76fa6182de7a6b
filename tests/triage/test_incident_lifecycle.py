"""An incident in the middle of everyday complaints: reported as its own burst, resolved once it
falls back, and put on the service its posts point at rather than the one every complaint resembles."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.records import Service
from tests.factories import START, near, triage_post, unit_vector
from triage import detection
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.engine import TriageEngine
from triage.settings import Settings

_EVERYDAY = unit_vector(7)
GROUP = 8


def _day(
    settings: Settings, burst_authors: int, trickle_after_burst: int, minutes: int = 900
) -> TriageEngine:
    """Ordinary varied complaints all day; one everyday complaint of a kind every 5 minutes and a
    flurry of it at minute 300 (a cluster forms, nobody is paged); a burst of that same kind from many
    new authors at minute 540, then ``trickle_after_burst`` posts an hour."""
    engine = TriageEngine(settings, ServiceCatalog([], np.zeros((0, 384))))
    number = 0
    burst_end = 540 + burst_authors // 2
    for minute in range(minutes):
        engine.tick(START.timestamp() + minute * 60)
        number += 1
        topic = unit_vector(10_000 + minute % 40)
        engine.add_post(triage_post(number, minute + 0.1, f"regular{number}", near(topic, number, 0.3)))
        if minute == 300:  # a small flurry of the everyday kind: a cluster forms, but nobody is paged
            for early in range(GROUP):
                number += 1
                engine.add_post(
                    triage_post(number, minute + early / 10, f"first{number}", near(_EVERYDAY, number, 0.2))
                )
        if minute % 5 == 0:
            number += 1
            engine.add_post(
                triage_post(number, minute + 0.2, f"everyday{number}", near(_EVERYDAY, number, 0.2))
            )
        if 540 <= minute < burst_end:
            for extra in range(2):
                number += 1
                engine.add_post(
                    triage_post(
                        number, minute + 0.3 + extra / 10, f"hit{number}", near(_EVERYDAY, number, 0.2)
                    )
                )
        if minute >= burst_end and trickle_after_burst and minute % (60 // trickle_after_burst) == 0:
            number += 1
            engine.add_post(triage_post(number, minute + 0.4, f"after{number}", near(_EVERYDAY, number, 0.2)))
    return engine


def test_a_burst_in_a_long_lived_everyday_cluster_pages_as_its_own_problem() -> None:
    engine = _day(Settings(), burst_authors=30, trickle_after_burst=0, minutes=600)
    signals = list(engine.signals.values())
    assert len(signals) == 1
    signal = signals[0]
    incident = engine.book.resolve_key(signal.cluster_key)
    window_start = signal.first_triggered_at - Settings().policy.window_minutes * 60
    assert min(member.time for member in incident.members) >= window_start
    everyday: list[Cluster] = [
        cluster
        for cluster in engine.current_clusters()
        if cluster is not incident and any(member.author.startswith("first") for member in cluster.members)
    ]
    assert everyday, "the everyday complaints keep a cluster of their own"
    assert not any(cluster.escalated for cluster in everyday)
    assert min(member.time for member in everyday[0].members) < window_start


def test_an_incident_resolves_once_it_falls_back_to_a_share_of_its_peak() -> None:
    """After the burst the kind of complaint goes on a little above its old rate; the page closes."""
    settings = Settings()
    engine = _day(settings, burst_authors=40, trickle_after_burst=12)
    signal = next(iter(engine.signals.values()))
    assert signal.state == "resolved"
    assert signal.resolved_at is not None
    assert signal.resolved_at - signal.first_triggered_at < 4 * 3600


def test_a_cluster_goes_to_the_service_its_posts_point_at_not_the_one_every_complaint_resembles() -> None:
    shared = unit_vector(1)
    specific = unit_vector(2)
    generic_service = (0.9 * shared + 0.1 * unit_vector(3)).astype(np.float32)
    generic_service /= np.linalg.norm(generic_service)
    right_service = (0.3 * shared + 0.7 * specific).astype(np.float32)
    right_service /= np.linalg.norm(right_service)
    catalog = ServiceCatalog(
        [Service(name="app", description="the app"), Service(name="wallet", description="crypto wallet")],
        np.stack([generic_service, right_service]),
    )
    cluster = Cluster(key="cl-1", born_at=START.timestamp())
    for number in range(6):
        vector = 0.85 * shared + 0.25 * specific + 0.05 * unit_vector(100 + number)
        cluster.add(
            triage_post(number, number, f"a{number}", (vector / np.linalg.norm(vector)).astype(np.float32))
        )
    assert catalog.match(cluster).service == "app"  # raw similarity: the template-like direction wins
    assert catalog.match(cluster, background=shared.astype(np.float32)).service == "wallet"


def _mixed(first: np.ndarray, second: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at ``cosine`` to ``first`` in the plane of ``first`` and ``second``."""
    orthogonal = second - float(second @ first) * first
    orthogonal /= np.linalg.norm(orthogonal)
    return (cosine * first + np.sqrt(1 - cosine**2) * orthogonal).astype(np.float32)


def test_a_page_open_for_hours_does_not_swallow_a_new_burst_said_alike() -> None:
    """An everyday complaint that paged in the morning and still gets posts must not fold in an outage
    starting in the afternoon: that one is a new incident with its own page, onset and posts."""
    engine = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    engine.history.add(START.timestamp(), unit_vector(1))  # a baseline exists
    morning, afternoon = START.timestamp() + 8 * 3600, START.timestamp() + 14 * 3600
    old_theme = unit_vector(31)
    new_theme = _mixed(old_theme, unit_vector(32), 0.6)  # related wording: above burst_merge_similarity
    old = engine.book._new_cluster(morning)
    for number in range(40):  # posts from the morning page all day, up to the afternoon
        moment = morning + number * (afternoon - morning) / 40
        old.add(triage_post(number, (moment - START.timestamp()) / 60, f"old{number}", old_theme))
    engine.escalate_now(old.key, morning + 600)
    new = engine.book._new_cluster(afternoon - 900)
    for number in range(12):
        minute = (afternoon - 900 - START.timestamp()) / 60 + number
        new.add(triage_post(100 + number, minute, f"new{number}", new_theme))
    engine.tick(afternoon)
    assert new.merged_into is None and len(new.members) == 12


def test_a_page_on_a_busy_complaint_calms_once_below_the_paging_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twice the usual rate of a busy everyday complaint is improbable under a Poisson law, but it is
    not what paged: the page closes instead of gathering everyday posts for the rest of the day."""
    monkeypatch.setattr(detection, "expected_count", lambda *_: 9.0)  # the usual: 9 authors per window
    engine = TriageEngine(Settings(), ServiceCatalog([], np.zeros((0, 384))))
    engine.history.add(START.timestamp(), unit_vector(1))
    cluster = engine.book._new_cluster(START.timestamp())
    theme = unit_vector(41)
    for number in range(240):  # 20 new authors per 30 minutes for four hours: 2.2x the usual
        minute = number * 1.5
        cluster.add(triage_post(number, minute, f"author{number}", near(theme, number, 0.2)))
        if number == 20:
            engine.escalate_now(cluster.key, START.timestamp() + minute * 60)
        engine.tick(START.timestamp() + minute * 60)
    signal = next(iter(engine.signals.values()))
    assert signal.state == "resolved"
    assert signal.resolved_at is not None and signal.resolved_at - signal.first_triggered_at < 2.5 * 3600


def test_everyday_complaints_joining_a_calmed_incident_do_not_rewrite_its_service() -> None:
    """An identity outage pages on `identity`; after its burst, card complaints that resemble it keep
    joining. While it surges the service is re-voted (more reports, better evidence); once it is calm
    the page stays about what paged."""
    identity_words, card_words = unit_vector(51), unit_vector(52)
    catalog = ServiceCatalog(
        [Service(name="identity", description="verify"), Service(name="cards", description="cards")],
        np.stack([identity_words, card_words]),
    )
    engine = TriageEngine(Settings(), catalog)
    engine.history.add(START.timestamp(), unit_vector(1))
    cluster = engine.book._new_cluster(START.timestamp())
    for number in range(6):
        cluster.add(triage_post(number, number, f"outage{number}", near(identity_words, number, 0.2)))
    engine.escalate_now(cluster.key, START.timestamp() + 6 * 60)
    signal = next(iter(engine.signals.values()))
    assert signal.service == "identity"

    def card_complaints(first: int) -> None:
        for number in range(first, first + 20):
            cluster.add(triage_post(number, number, f"everyday{number}", near(card_words, number, 0.2)))

    cluster.calm_since = START.timestamp() + 30 * 60
    card_complaints(100)
    engine._refresh_signal(cluster, signal, START.timestamp() + 60 * 60)
    assert signal.service == "identity"
    cluster.calm_since = None  # surging: the vote is taken again
    card_complaints(200)
    engine._refresh_signal(cluster, signal, START.timestamp() + 61 * 60)
    assert signal.service == "cards"
