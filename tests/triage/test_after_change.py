"""A count that is surprising but not surprising enough pages when the cluster's service has just
changed: most outages follow a change, so the laxer budget is spent only where one is likely."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.records import Service
from tests.factories import START, near, triage_change, triage_post, unit_vector
from triage import engine as engine_module
from triage.catalog import ServiceCatalog
from triage.clustering import Cluster
from triage.correlation import latest_change_on, share_after_changes
from triage.detection import DetectionVerdict
from triage.engine import TriageEngine
from triage.settings import Settings

_CARDS = unit_vector(7)
_BURST_AT = 540


def _engine(settings: Settings | None = None) -> TriageEngine:
    catalog = ServiceCatalog(
        [Service(name="cards", description="card payments"), Service(name="loans", description="loans")],
        np.stack([_CARDS, unit_vector(8)]),
    )
    return TriageEngine(settings or Settings(), catalog)


def _cluster_about_cards() -> Cluster:
    cluster = Cluster(key="cl-1", born_at=START.timestamp())
    for number in range(6):
        cluster.add(triage_post(number, 500 + number, f"a{number}", near(_CARDS, number, 0.2)))
    return cluster


def _verdict(probability: float, exceeds_usual_rate: bool = True) -> DetectionVerdict:
    return DetectionVerdict(
        7, 1.0, probability, probability <= 1e-4 and exceeds_usual_rate, exceeds_usual_rate=exceeds_usual_rate
    )


@pytest.mark.parametrize(
    ("change", "probability", "exceeds_usual_rate", "pages"),
    [
        (("c1", 480.0, "cards", "deploy"), 5e-4, True, True),
        (("c1", 480.0, "cards", "flag"), 5e-4, True, True),
        (("c1", 480.0, "cards", "alert"), 5e-4, True, False),  # monitoring noticing is not a change
        (("c1", 480.0, "loans", "deploy"), 5e-4, True, False),  # another service changed
        (("c1", 400.0, "cards", "deploy"), 5e-4, True, False),  # longer ago than after_change_minutes
        (("c1", 520.0, "cards", "deploy"), 5e-3, True, False),  # not surprising enough even so
        (("c1", 480.0, "cards", "deploy"), 5e-4, False, False),  # not above the usual rate
        (("c1", 560.0, "cards", "deploy"), 5e-4, True, False),  # made after the count: not known yet
    ],
)
def test_a_recent_change_on_the_service_lets_a_nearly_surprising_count_page(
    change: tuple[str, float, str, str], probability: float, exceeds_usual_rate: bool, pages: bool
) -> None:
    engine = _engine()
    change_id, minute, service, kind = change
    engine.add_change(triage_change(change_id, minute, service, kind))
    now = START.timestamp() + 510 * 60
    verdict = engine._after_recent_change(
        _cluster_about_cards(), now, _verdict(probability, exceeds_usual_rate)
    )
    assert verdict.triggered is pages
    if pages:
        assert verdict.after_change is not None
        assert verdict.after_change.startswith(f"{kind} c1 on cards 30 min before")
        assert "chance allowed 1.0e-03" in verdict.explain()


def test_without_after_change_minutes_every_count_keeps_the_strict_budget() -> None:
    settings = Settings()
    settings.policy.after_change_minutes = 0
    engine = _engine(settings)
    engine.add_change(triage_change("c1", 500, "cards"))
    verdict = engine._after_recent_change(
        _cluster_about_cards(), START.timestamp() + 510 * 60, _verdict(5e-4)
    )
    assert not verdict.triggered


def test_a_service_that_is_always_just_changed_gets_no_laxer_budget() -> None:
    """Deployed every hour for a day, "it just changed" says nothing about an outage there."""
    engine = _engine()
    for hour in range(24):
        engine.add_change(triage_change(f"c{hour}", 60 * hour + 5, "cards"))
    now = START.timestamp() + (23 * 60 + 30) * 60
    assert not engine._after_recent_change(_cluster_about_cards(), now, _verdict(5e-4)).triggered


def test_the_budget_grows_by_how_rarely_the_service_is_just_changed() -> None:
    """Changes 3 hours apart keep cards within 90 min of one 660 of the last 1,440 minutes: budget x2.18."""
    engine = _engine()
    for step in range(8):
        engine.add_change(triage_change(f"c{step}", 180 * step, "cards"))
    now = START.timestamp() + (21 * 60 + 30) * 60
    cluster = _cluster_about_cards()
    assert engine._after_recent_change(cluster, now, _verdict(2.1e-4)).triggered
    assert not engine._after_recent_change(cluster, now, _verdict(2.3e-4)).triggered


def test_share_after_changes_counts_overlapping_spans_once() -> None:
    changes = [
        triage_change("c1", 0, "cards"),
        triage_change("c2", 30, "cards"),  # overlaps c1's span
        triage_change("c3", 600, "cards", "alert"),  # not a change
        triage_change("c4", 700, "loans"),
    ]
    now = START.timestamp() + 24 * 3600
    assert share_after_changes("cards", changes, now, 90, 24) == pytest.approx(120 / 1440)
    assert share_after_changes("loans", changes, now, 90, 24) == pytest.approx(90 / 1440)
    assert share_after_changes("cards", changes, now, 90, 12) == 0.0
    assert share_after_changes(None, changes, now, 90, 24) == 0.0


def test_latest_change_on_picks_the_most_recent_change_of_the_service() -> None:
    changes = [
        triage_change("c1", 10, "cards"),
        triage_change("c2", 40, "cards", "config"),
        triage_change("c3", 50, "cards", "alert"),
        triage_change("c4", 55, "loans"),
    ]
    now = START.timestamp() + 60 * 60
    picked = latest_change_on("cards", changes, now, 90)
    assert picked is not None and picked.external_id == "c2"
    assert latest_change_on("cards", changes, now, 15) is None
    assert latest_change_on(None, changes, now, 90) is None


def _day_with_burst(deploy_before_burst: bool) -> TriageEngine:
    """Varied everyday complaints, a few of the card kind each hour, then one new author a minute
    reporting the card problem from minute 540 on; optionally a card deploy 20 minutes earlier."""
    engine = _engine()
    if deploy_before_burst:
        engine.add_change(triage_change("c9", _BURST_AT - 20, "cards"))
    number = 0
    for minute in range(_BURST_AT + 40):
        engine.tick(START.timestamp() + minute * 60)
        number += 1
        topic = unit_vector(10_000 + minute % 40)
        engine.add_post(triage_post(number, minute + 0.1, f"regular{number}", near(topic, number, 0.3)))
        if minute % 20 == 0:
            number += 1
            engine.add_post(triage_post(number, minute + 0.2, f"everyday{number}", near(_CARDS, number, 0.2)))
        if minute >= _BURST_AT:
            number += 1
            engine.add_post(triage_post(number, minute + 0.3, f"hit{number}", near(_CARDS, number, 0.2)))
    return engine


def test_the_same_burst_pages_earlier_after_a_deploy_on_its_service() -> None:
    plain, after_deploy = _day_with_burst(False), _day_with_burst(True)
    plain_signal = next(iter(plain.signals.values()))
    deploy_signal = next(iter(after_deploy.signals.values()))
    assert len(plain.signals) == len(after_deploy.signals) == 1
    assert deploy_signal.service == plain_signal.service == "cards"
    assert deploy_signal.first_triggered_at < plain_signal.first_triggered_at
    assert deploy_signal.verdict.after_change is not None
    assert plain_signal.verdict.after_change is None
    assert deploy_signal.top_change == "c9"


def test_the_change_is_looked_up_on_the_service_of_the_burst_not_of_the_everyday_reports_before_it() -> None:
    """A long-lived cluster of loan complaints whose last half hour is a card burst pages (if it pages)
    as a card problem, so a card deploy is what lets it page sooner."""
    engine = _engine()
    engine.add_change(triage_change("c1", 590, "cards"))
    cluster = Cluster(key="cl-1", born_at=START.timestamp())
    loans = unit_vector(8)
    for number in range(30):
        cluster.add(triage_post(number, 400 + 5 * number, f"old{number}", near(loans, number, 0.2)))
    for number in range(30, 40):
        cluster.add(triage_post(number, 590 + (number - 30), f"new{number}", near(_CARDS, number, 0.2)))
    now = START.timestamp() + 600 * 60
    assert engine.catalog.match(cluster).service == "loans"
    verdict = engine._after_recent_change(cluster, now, _verdict(5e-4))
    assert verdict.triggered and verdict.after_change is not None and "on cards" in verdict.after_change


@pytest.mark.parametrize(
    ("probability", "with_change", "bursting"),
    [
        (5e-3, False, True),  # bursting at the birth level anyway
        (5e-2, False, False),
        (5e-2, True, True),  # laxer after a change, as a page is
        (2e-1, True, False),  # beyond the largest allowance
    ],
)
def test_whether_a_cluster_is_bursting_for_a_merge_gets_the_same_allowance_after_a_change(
    monkeypatch: pytest.MonkeyPatch, probability: float, with_change: bool, bursting: bool
) -> None:
    engine = _engine()
    if with_change:
        engine.add_change(triage_change("c1", 480, "cards"))
    monkeypatch.setattr(engine_module, "evaluate_cluster", lambda *args, **kwargs: _verdict(probability))
    assert engine._is_bursting(_cluster_about_cards(), START.timestamp() + 510 * 60) is bursting
