from __future__ import annotations

from tests.factories import START, triage_change, unit_vector
from triage.correlation import lead_over_alert_minutes, rank_likely_causes
from triage.settings import CorrelationSettings

ONSET = START.timestamp() + 600 * 60


def test_the_change_on_the_cluster_service_beats_a_nearer_change_elsewhere() -> None:
    changes = [triage_change("c1", 580, "cards"), triage_change("c2", 595, "transfers")]
    ranked = rank_likely_causes(ONSET, "cards", unit_vector(5), changes, CorrelationSettings())
    assert [change.change_id for change in ranked] == ["c1", "c2"]
    assert ranked[0].reasons[0] == "deploy on cards 20 min before onset"
    assert "service matches (cards)" in ranked[0].reasons


def test_an_alert_is_never_a_cause() -> None:
    changes = [triage_change("a1", 598, "cards", kind="alert"), triage_change("c1", 500, "cards")]
    ranked = rank_likely_causes(ONSET, "cards", unit_vector(5), changes, CorrelationSettings())
    assert [change.change_id for change in ranked] == ["c1"]


def test_changes_outside_the_lookback_are_not_candidates() -> None:
    settings = CorrelationSettings(lookback_minutes=60)
    ranked = rank_likely_causes(ONSET, "cards", unit_vector(5), [triage_change("c1", 400, "cards")], settings)
    assert ranked == []


def test_semantic_closeness_breaks_a_tie() -> None:
    complaint = unit_vector(7)
    changes = [
        triage_change("c1", 580, "cards", embedding=unit_vector(8)),
        triage_change("c2", 580, "cards", embedding=complaint),
    ]
    ranked = rank_likely_causes(ONSET, "cards", complaint, changes, CorrelationSettings())
    assert ranked[0].change_id == "c2"


def test_lead_over_the_first_later_alert_on_the_same_service() -> None:
    changes = [
        triage_change("a1", 620, "cards", kind="alert"),
        triage_change("a2", 610, "transfers", kind="alert"),
    ]
    assert lead_over_alert_minutes(ONSET, "cards", changes) == 20.0
    assert lead_over_alert_minutes(ONSET, "atm", changes) is None


def test_a_change_made_as_the_burst_began_is_still_a_cause() -> None:
    """The onset reported is the earliest plausible one; a change made between it and where the burst
    most likely began is as close in time as a change can be, not a change made after the problem."""
    changes = [triage_change("early", 560, "cards"), triage_change("during", 612, "cards")]
    settings = CorrelationSettings()
    ranked = rank_likely_causes(ONSET, "cards", unit_vector(5), changes, settings)
    assert [change.change_id for change in ranked] == ["early"]
    likeliest = ONSET + 15 * 60
    ranked = rank_likely_causes(ONSET, "cards", unit_vector(5), changes, settings, likeliest)
    assert [change.change_id for change in ranked] == ["during", "early"]
    assert ranked[0].reasons[0] == "deploy on cards 12 min after the first reports, as the burst began"


def test_a_change_made_after_the_burst_began_loses_to_the_same_change_made_before() -> None:
    """Only clock skew makes a later change a candidate: the same config change on the same service
    10 min before the first reports beats its repeat 4 min after them."""
    changes = [
        triage_change("before", 590, "atm", kind="config"),
        triage_change("after", 604, "atm", kind="config"),
    ]
    ranked = rank_likely_causes(ONSET, "atm", unit_vector(5), changes, CorrelationSettings())
    assert [change.change_id for change in ranked] == ["before", "after"]
    assert ranked[1].reasons[0] == "config on atm 4 min after onset"
