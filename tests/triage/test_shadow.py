"""Shadow mode: a candidate's heads on stored analyses, compared with the model that wrote them."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from classifier.analysis import apply_heads
from classifier.artifact import ModelArtifact, ModelArtifactError, save_artifact
from ingest.records import Post
from tests.classifier.factories import (
    CountingLayerEncoder,
    separable_embeddings,
    tiny_artifact,
    tiny_layer_pool_artifact,
)
from triage.actions.shadow import ShadowFilters, shadow_compare
from triage.cli.app import app
from triage.settings import Settings
from triage.storage.analyses import store_analyses
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.intake import store_posts
from triage.storage.models import PostRow

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TENANT = "shadowbank"


def never_a_problem(artifact: ModelArtifact, version: str) -> ModelArtifact:
    """The same heads, except that the problem head is pushed hard towards "not a problem"."""
    problem = dataclasses.replace(
        artifact.problem,
        logit_bias=np.array([0.0, -50.0], dtype=np.float32)
        if artifact.problem.labels == ("not_problem", "problem")
        else np.array([-50.0, 0.0], dtype=np.float32),
    )
    return dataclasses.replace(artifact, version=version, problem=problem)


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, ModelArtifact]:
    """60 posts (twitter then zendesk, a minute apart) analysed by ``t1``."""
    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    engine = create_db_engine(url)
    migrate(engine)
    in_use = tiny_artifact("t1")
    embeddings, _ = separable_embeddings(20, 3, seed=0)
    posts = [
        Post(
            source="twitter" if number < 30 else "zendesk",
            external_id=f"p{number}",
            author_key=f"a{number}",
            text=f"generated post number {number}",
            created_at=START + timedelta(minutes=number),
        )
        for number in range(len(embeddings))
    ]
    with transaction(session_factory(engine)) as session:
        store_posts(session, TENANT, posts)
        ids = {row.external_id: row.id for row in session.execute(select(PostRow.external_id, PostRow.id))}
        post_ids = [ids[post.external_id] for post in posts]
        store_analyses(
            session, post_ids, apply_heads(in_use, [post.text for post in posts], embeddings), "t1"
        )
    engine.dispose()
    return url, in_use


def compare(url: str, candidate: ModelArtifact, filters: ShadowFilters | None = None):  # type: ignore[no-untyped-def]
    engine = create_db_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            return shadow_compare(session, TENANT, candidate, 0.5, filters)
    finally:
        engine.dispose()


def test_the_same_heads_agree_on_everything(database: tuple[str, ModelArtifact]) -> None:
    url, in_use = database
    report = compare(url, dataclasses.replace(in_use, version="t1-copy"))
    assert report.posts == 60
    assert report.in_use_versions == {"t1": 60}
    assert report.problem_agreement == report.sentiment_agreement == 1.0
    assert report.both_problem > 0 and report.category_agreement == 1.0
    assert report.disagreements == []


def test_a_candidate_that_never_sees_problems_flips_exactly_the_problem_reports(
    database: tuple[str, ModelArtifact],
) -> None:
    url, in_use = database
    baseline = compare(url, in_use)
    problems = baseline.both_problem
    assert 0 < problems < 60, "the fixture must hold both kinds"
    report = compare(url, never_a_problem(in_use, "t2"))
    assert report.stopped_being_problem == problems
    assert report.became_problem == 0
    assert report.same_problem == 60 - problems
    assert report.sentiment_agreement == 1.0, "the sentiment head did not change"
    assert len(report.disagreements) == problems
    shifts = [abs(item.problem_shift) for item in report.most_disputed(problems)]
    assert shifts == sorted(shifts, reverse=True)
    assert all(item.in_use.problem and not item.candidate.problem for item in report.disagreements)


def test_filters_pick_the_posts_compared(database: tuple[str, ModelArtifact]) -> None:
    url, in_use = database
    assert compare(url, in_use, ShadowFilters(source="zendesk")).posts == 30
    assert compare(url, in_use, ShadowFilters(since=START + timedelta(minutes=50))).posts == 10
    assert compare(url, in_use, ShadowFilters(until=START + timedelta(minutes=5))).posts == 5
    assert compare(url, in_use, ShadowFilters(limit=7)).posts == 7


def test_the_command_lists_and_writes_the_disagreements(
    database: tuple[str, ModelArtifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, in_use = database
    root = tmp_path / "models"
    save_artifact(root / "t1", in_use, "# t1\n")
    save_artifact(root / "t2", never_a_problem(in_use, "t2"), "# t2\n")
    (root / "DEFAULT").write_text("t1\n")
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("SIGNAL_TRIAGE_MODEL_DIR", str(root))
    out = tmp_path / "disputed.csv"
    expected = compare(url, never_a_problem(in_use, "t2"))

    result = CliRunner().invoke(
        app,
        ["model", "shadow", "t2", "--tenant", TENANT, "--show", "3", "--out", str(out)],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "posts compared" in result.output and "t2 beside t1 (60)" in result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(expected.disagreements)
    assert {row["candidate_category"] for row in rows} == {""}, "nothing is a problem, so no category"
    assert Settings().model_dir == root


def test_the_command_says_when_nothing_is_analysed(
    database: tuple[str, ModelArtifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, in_use = database
    root = tmp_path / "models"
    save_artifact(root / "t1", in_use, "# t1\n")
    (root / "DEFAULT").write_text("t1\n")
    monkeypatch.setenv("SIGNAL_TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("SIGNAL_TRIAGE_MODEL_DIR", str(root))
    result = CliRunner().invoke(app, ["model", "shadow", "t1", "--tenant", "nobody"])
    assert result.exit_code == 1
    assert "no analysed posts" in result.output


def test_a_candidate_on_layer_pools_encodes_the_texts_again(database: tuple[str, ModelArtifact]) -> None:
    url, _ = database
    candidate = tiny_layer_pool_artifact("l1")
    with pytest.raises(ModelArtifactError, match="needs the encoder"):
        compare(url, candidate)
    encoder = CountingLayerEncoder()
    engine = create_db_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            report = shadow_compare(session, TENANT, candidate, 0.5, None, encoder)
    finally:
        engine.dispose()
    assert report.posts == 60 and report.in_use_versions == {"t1": 60}
    assert sorted(encoder.seen) == sorted(f"generated post number {number}" for number in range(60))
