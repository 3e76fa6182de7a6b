"""The detection benchmark's count of everyday posts listed with escalations, by phase."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._escalation_company import escalation_company, post_times

TRUTH = {
    "incidents": [
        {"id": "i1", "onset": "2026-03-01T10:00:00Z", "end": "2026-03-01T11:00:00Z", "posts": ["a", "b"]},
        {"id": "i2", "onset": "2026-03-01T15:00:00Z", "end": "2026-03-01T15:30:00Z", "posts": ["c"]},
    ]
}
TIMES = {
    name: datetime(2026, 3, 1, hour, minute, tzinfo=UTC)
    for name, hour, minute in [
        ("a", 10, 5),
        ("b", 10, 20),
        ("c", 15, 1),
        ("early", 9, 50),
        ("mid", 10, 30),
        ("late", 11, 40),
        ("stray", 15, 45),
    ]
}


def test_other_posts_are_placed_against_the_incident_their_escalation_caught() -> None:
    report = {
        "escalations": [
            {"posts": ["early", "a", "mid", "b", "late"]},
            {"posts": ["c", "stray"]},
        ]
    }
    company = escalation_company(TRUTH, report, TIMES)
    assert company.incident_posts == 3
    assert company.others == {"before_onset": 1, "during": 1, "after_end": 2}
    assert abs(company.incident_share - 3 / 7) < 1e-9


def test_an_escalation_of_no_incident_counts_all_its_posts_as_others() -> None:
    company = escalation_company(TRUTH, {"escalations": [{"posts": ["early", "late"]}]}, TIMES)
    assert company.incident_posts == 0 and sum(company.others.values()) == 2
    assert company.incident_share == 0.0


def test_no_escalations_list_nothing() -> None:
    company = escalation_company(TRUTH, {"escalations": []}, TIMES)
    assert company.incident_posts == 0 and company.incident_share == 1.0


def test_post_times_read_only_posts_from_a_replay_file(tmp_path: Path) -> None:
    replay = tmp_path / "day.jsonl"
    replay.write_text(
        "\n".join(
            json.dumps(record)
            for record in [
                {"type": "service", "name": "cards", "description": "card payments"},
                {"type": "post", "id": "t1", "created_at": "2026-03-01T10:00:00Z", "text": "x"},
                {"type": "change", "id": "c1", "created_at": "2026-03-01T09:00:00Z"},
            ]
        ),
        encoding="utf-8",
    )
    assert post_times(replay) == {"t1": datetime(2026, 3, 1, 10, tzinfo=UTC)}
