"""Reviewed labels export: which reviews become rows, filters, the data card, CLI and API formats."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.api.factories import TENANT, Builder, at, build_incident_day
from triage.actions.export import ExportFilter, card_markdown, data_card, export_rows
from triage.actions.service import label_post, record_cluster_action
from triage.settings import Settings
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.models import PostRow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """An incident day with reviews: one confirmed cluster, one dismissed, one muted then unmuted,
    a post relabelled twice, a category label inside the dismissed cluster, and a ticket."""
    url = f"sqlite:///{(tmp_path / 'labels.db').as_posix()}"
    engine = create_db_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        build_incident_day(session)
        ticket = Builder(session, TENANT, post_number=100).post(
            "invoice page crashes when I open it", 70, source="zendesk"
        )
        session.flush()
        by_text = {post.text: post.id for post in session.query(PostRow).filter(PostRow.tenant == TENANT)}
        dark_mode = by_text["love the new dark mode, thanks team (0)"]
        declined = by_text["my payment was declined twice at the checkout"]
        label_post(session, TENANT, dark_mode, "problem", "dana", at(200))
        label_post(session, TENANT, dark_mode, "not_problem", "dana", at(201), note="praise")
        label_post(session, TENANT, declined, "category", "dana", at(202), category="payment")
        label_post(session, TENANT, ticket.id, "problem", "sam", at(203))
        record_cluster_action(session, TENANT, "k-login", "confirm", "lee", at(210))
        record_cluster_action(session, TENANT, "k-pay", "mute", "lee", at(211))
        record_cluster_action(session, TENANT, "k-old", "mute", "lee", at(212))
        record_cluster_action(session, TENANT, "k-old", "unmute", "lee", at(213))
    yield url, sessions
    engine.dispose()


def rows_for(sessions: sessionmaker[Session], filters: ExportFilter | None = None) -> list[dict[str, object]]:
    with transaction(sessions) as session:
        return export_rows(session, TENANT, filters)


def test_every_kind_of_review_becomes_one_row_per_post(database: tuple[str, sessionmaker[Session]]) -> None:
    rows = rows_for(database[1])
    kinds = [row["label_kind"] for row in rows]
    assert kinds.count("cluster_confirmed") == 12  # every k-login member
    assert kinds.count("cluster_dismissed") == 3  # k-pay members but the one a person labelled
    assert kinds.count("post") == 3 and len(rows) == 18  # k-old was unmuted: not dismissed
    declined = next(row for row in rows if row["text"] == "my payment was declined twice at the checkout")
    assert (declined["label"], declined["is_problem"], declined["category"]) == ("category", True, "payment")
    praise = next(row for row in rows if str(row["text"]).startswith("love the new dark mode"))
    assert (praise["label"], praise["actor"], praise["note"]) == ("not_problem", "dana", "praise")
    confirmed = next(row for row in rows if row["label_kind"] == "cluster_confirmed")
    assert confirmed["cluster_key"] == "k-login" and confirmed["actor"] == "lee"
    assert confirmed["labelled_at"] == at(210) and confirmed["model_version"] == "test-v1"


def test_history_keeps_every_decision(database: tuple[str, sessionmaker[Session]]) -> None:
    rows = rows_for(database[1], ExportFilter(history=True))
    praise = [row["label"] for row in rows if row["text"] == "love the new dark mode, thanks team (0)"]
    assert praise == ["problem", "not_problem"]
    declined = [
        row["label_kind"] for row in rows if row["text"] == "my payment was declined twice at the checkout"
    ]
    assert declined == ["post", "cluster_dismissed"]  # in time order: the label came first


def test_filters_by_post_time_and_source(database: tuple[str, sessionmaker[Session]]) -> None:
    sessions = database[1]
    late = rows_for(sessions, ExportFilter(since=at(60)))
    assert late and all(row["created_at"] >= at(60) for row in late)  # type: ignore[operator]
    assert len(late) == 2 + 4 + 1  # two login posts, four payment posts, the ticket
    early = rows_for(sessions, ExportFilter(until=at(60)))
    assert len(early) + len(late) == len(rows_for(sessions))
    tickets = rows_for(sessions, ExportFilter(sources=("zendesk",)))
    assert [(row["source"], row["actor"]) for row in tickets] == [("zendesk", "sam")]
    assert rows_for(sessions, ExportFilter(since=at(500))) == []


def test_data_card_counts_and_class_balance(database: tuple[str, sessionmaker[Session]]) -> None:
    rows = rows_for(database[1])
    card = data_card(rows, TENANT, ExportFilter(), at(300))
    assert card["rows"] == 18 and card["posts"] == 18
    assert card["class_balance"] == {"problem": 14, "not_problem": 4, "problem_share": round(14 / 18, 4)}
    assert card["categories"] == {"payment": 1}
    assert card["label_kinds"] == {"cluster_confirmed": 12, "cluster_dismissed": 3, "post": 3}
    assert card["sources"] == {"twitter": 17, "zendesk": 1}
    assert card["labelled_by"] == {"dana": 2, "lee": 15, "sam": 1}
    text = card_markdown(card)
    assert "class balance: problem 14, not_problem 4 (problem share 77.8 %)" in text
    empty = data_card([], TENANT, ExportFilter(), at(300))
    assert empty["class_balance"]["problem_share"] is None and "problem share –" in card_markdown(empty)


def test_cli_writes_parquet_with_its_card(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triage.cli.app import app

    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", database[0])
    out = tmp_path / "exports" / "labels.parquet"
    since = (at(0) + timedelta(minutes=60)).isoformat()
    result = CliRunner().invoke(
        app, ["labels", "export", "--out", str(out), "--tenant", TENANT, "--since", since]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 7 and str(table.schema.field("labelled_at").type) == "timestamp[us, tz=UTC]"
    card = json.loads((tmp_path / "exports" / "labels.card.json").read_text())
    assert card["rows"] == 7 and card["filters"]["since"] == since
    assert (tmp_path / "exports" / "labels.card.md").read_text() in result.stdout


def test_cli_csv_by_source_and_one_line_errors(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path
) -> None:
    env = dict(os.environ, SIGNAL_TRIAGE_DATABASE_URL=database[0], HF_HUB_OFFLINE="1", COLUMNS="400")
    command = [sys.executable, "-m", "triage", "labels", "export", "--tenant", TENANT]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "t.csv"), "--source", "zendesk"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t.csv").read_text().count("\n") == 2 and "rows: 1 (1 posts)" in done.stdout
    bad = subprocess.run(
        [*command, "--out", str(tmp_path / "t.csv"), "--since", "yesterday"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "--since 'yesterday' is not an ISO 8601" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = subprocess.run(
        [*command, "--out", str(tmp_path / "t.xlsx")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode == 1 and "name it .parquet or .csv" in unknown.stderr


def test_api_exports_parquet_with_filters_and_the_card_header(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path
) -> None:
    from api.app import create_app

    app = create_app(Settings(data_dir=tmp_path, database_url=database[0]))
    with TestClient(app) as client:
        response = client.get(
            "/v1/labels/export",
            params={"format": "parquet", "tenant": TENANT, "since": at(60).isoformat(), "source": "twitter"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.apache.parquet"
        table = pq.read_table(io.BytesIO(response.content))
        assert table.num_rows == 6 and set(table.column("source").to_pylist()) == {"twitter"}
        card = json.loads(response.headers["x-data-card"])
        assert card["rows"] == 6 and card["filters"]["sources"] == ["twitter"]
        naive = client.get(
            "/v1/labels/export", params={"format": "json", "tenant": TENANT, "until": "2026-05-04T10:00"}
        )
        assert {row["created_at"] < "2026-05-04T10:00" for row in naive.json()} == {True}
    app.state.engine.dispose()
