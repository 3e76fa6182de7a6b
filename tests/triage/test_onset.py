"""The onset of a page is where its burst began, not where its cluster began."""

from __future__ import annotations

import math

import pytest

from triage.onset import OnsetRange, burst_onset_range

WINDOW_START, NOW = 0.0, 1800.0
EVERYDAY = 4 / 1800  # four reports of the kind in an ordinary half hour


def test_everyday_reports_before_an_outage_do_not_move_its_onset_earlier() -> None:
    everyday = [60.0, 500.0, 900.0, 1300.0]
    outage = [1500.0 + 15 * index for index in range(18)]
    assert burst_onset_range(everyday + outage, WINDOW_START, NOW, EVERYDAY).earliest == 1500.0


def test_a_cluster_born_from_the_burst_keeps_its_first_report_as_onset() -> None:
    burst = [300.0 + 60 * index for index in range(25)]
    assert burst_onset_range(burst, WINDOW_START, NOW, EVERYDAY).earliest == 300.0


def test_sparse_first_reports_of_an_outage_stay_in_it_unless_they_are_clearly_everyday() -> None:
    ramp = [300.0, 600.0, 800.0] + [900.0 + 60 * index for index in range(10)]
    assert burst_onset_range(ramp, WINDOW_START, NOW, EVERYDAY).earliest == 300.0


def test_without_a_baseline_every_report_belongs_to_the_burst() -> None:
    times = [60.0, 1500.0, 1510.0, 1520.0]
    assert burst_onset_range(times, WINDOW_START, NOW, math.inf).earliest == 60.0
    assert burst_onset_range(times, WINDOW_START, NOW, math.nan).earliest == 60.0
    assert burst_onset_range(times, WINDOW_START, NOW, 0.0).earliest == 60.0


def test_a_lone_last_report_is_not_a_burst() -> None:
    times = [100.0 + 60 * index for index in range(10)] + [1790.0]
    assert burst_onset_range(times, WINDOW_START, NOW, EVERYDAY).earliest == 100.0


def test_no_reports_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        burst_onset_range([], WINDOW_START, NOW, EVERYDAY)


def test_the_onset_range_runs_from_the_earliest_plausible_start_to_the_likeliest() -> None:
    """Sparse first reports stay in the burst (the reported onset), but the burst most likely began where
    the reports thicken: a change made in between can still have caused it."""
    ramp = [300.0, 600.0, 800.0] + [900.0 + 60 * index for index in range(10)]
    onset = burst_onset_range(ramp, WINDOW_START, NOW, EVERYDAY)
    assert onset.earliest == 300.0
    assert 800.0 <= onset.likeliest <= 900.0


def test_a_clear_burst_has_one_onset() -> None:
    burst = [300.0 + 60 * index for index in range(25)]
    assert burst_onset_range(burst, WINDOW_START, NOW, EVERYDAY) == OnsetRange(300.0, 300.0)
