"""The whole pipeline on a small scenario of our own, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import write_small_scenario
from triage.replay.flow import replay_file
from triage.replay.report import write_report
from triage.settings import Settings
from triage.storage.database import create_db_engine
from triage.storage.models import ChangeEventRow, PostRow


def sqlite_settings(folder: Path) -> Settings:
    return Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'triage.db'}")


def replay_to(path: Path, settings: Settings, analyzer, report: Path) -> dict:  # type: ignore[no-untyped-def]
    result = replay_file(path, settings, analyzer, timer=lambda: 0.0)
    write_report(result.report, report)
    return result.report


def test_report_follows_the_contract_and_finds_the_outage(tmp_path: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    truth = write_small_scenario(tmp_path / "bank.jsonl")
    report = replay_to(tmp_path / "bank.jsonl", sqlite_settings(tmp_path), analyzer, tmp_path / "r.json")
    assert set(report) >= {"escalations", "clusters", "stats"}
    assert report["stats"]["posts"] == 120 + 60 + len(truth["incident_posts"])
    [escalation] = report["escalations"]
    assert set(escalation) >= {
        "cluster_id",
        "first_triggered_at",
        "service",
        "severity",
        "posts",
        "top_change",
        "changes",
    }
    assert escalation["service"] == "cards"
    assert escalation["top_change"] == truth["cause"]
    assert truth["alert"] not in escalation["changes"]
    caught = set(escalation["posts"]) & set(truth["incident_posts"])
    assert len(caught) >= 0.8 * len(truth["incident_posts"])
    assert escalation["lead_over_alert_minutes"] is not None and escalation["lead_over_alert_minutes"] > 0


def test_same_file_gives_the_same_report_byte_for_byte(tmp_path: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    write_small_scenario(tmp_path / "bank.jsonl")
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    replay_to(tmp_path / "bank.jsonl", sqlite_settings(first), analyzer, first / "r.json")
    replay_to(tmp_path / "bank.jsonl", sqlite_settings(second), analyzer, second / "r.json")
    assert (first / "r.json").read_bytes() == (second / "r.json").read_bytes()


def test_replaying_twice_stores_nothing_twice(tmp_path: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    write_small_scenario(tmp_path / "bank.jsonl")
    settings = sqlite_settings(tmp_path)
    first = replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "a.json")
    second = replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "b.json")
    engine = create_db_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(PostRow)) == first["stats"]["posts"]
        assert connection.scalar(select(func.count()).select_from(ChangeEventRow)) == 3
    assert json.dumps(first) == json.dumps(second)


@pytest.mark.postgres
def test_migrations_and_a_replay_on_postgresql(tmp_path: Path, analyzer, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    truth = write_small_scenario(tmp_path / "bank.jsonl")
    on_sqlite = replay_to(tmp_path / "bank.jsonl", sqlite_settings(tmp_path), analyzer, tmp_path / "s.json")
    on_postgres = replay_to(
        tmp_path / "bank.jsonl",
        Settings(data_dir=tmp_path, database_url=postgres_url),
        analyzer,
        tmp_path / "p.json",
    )
    assert on_postgres == on_sqlite
    assert on_postgres["escalations"][0]["top_change"] == truth["cause"]


def test_a_recorded_mute_stops_the_page_on_the_next_replay(tmp_path: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from triage.actions.service import record_cluster_action
    from triage.storage.database import session_factory, transaction

    write_small_scenario(tmp_path / "bank.jsonl")
    settings = sqlite_settings(tmp_path)
    first = replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "a.json")
    [escalation] = first["escalations"]
    sessions = session_factory(create_db_engine(settings.resolved_database_url))
    with transaction(sessions) as session:
        record_cluster_action(
            session,
            "bank",
            escalation["cluster_id"],
            "mute",
            "lead@example.com",
            datetime(2026, 11, 24, tzinfo=UTC),
        )
    second = replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "b.json")
    assert second["escalations"] == []
    muted = next(c for c in second["clusters"] if c["cluster_id"] == escalation["cluster_id"])
    assert set(muted["posts"]) == set(escalation["posts"])  # a muted cluster keeps its posts


def test_a_person_marking_posts_as_noise_is_respected(tmp_path: Path, analyzer) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from sqlalchemy import select as sql_select

    from triage.actions.service import label_post
    from triage.storage.database import session_factory, transaction

    truth = write_small_scenario(tmp_path / "bank.jsonl")
    settings = sqlite_settings(tmp_path)
    replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "a.json")
    sessions = session_factory(create_db_engine(settings.resolved_database_url))
    with transaction(sessions) as session:
        ids = session.scalars(
            sql_select(PostRow.id).where(PostRow.external_id.in_(truth["incident_posts"]))
        ).all()
        for post_id in ids:
            label_post(
                session,
                "bank",
                post_id,
                "not_problem",
                "lead@example.com",
                datetime(2026, 11, 24, tzinfo=UTC),
            )
    second = replay_to(tmp_path / "bank.jsonl", settings, analyzer, tmp_path / "b.json")
    assert second["escalations"] == []
