"""The detection benchmark's split of B-cubed recall into where incident posts ended up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from benchmarks._cluster_recall import classifier_ceiling, flagged_external_ids, incident_post_fates
from triage.storage.database import create_db_engine, migrate, session_factory, transaction
from triage.storage.models import AnalysisRow, PostRow


def test_each_incident_post_gets_one_fate_against_its_own_main_cluster() -> None:
    truth = {"incidents": [{"posts": ["a1", "a2", "a3", "a4", "a5"]}, {"posts": ["b1", "b2"]}]}
    report = {
        "clusters": [
            {"posts": ["a1", "a2", "a3", "noise"]},  # incident a's main cluster
            {"posts": ["a4", "b1"]},  # a4 elsewhere; b1 is b's main (its only) cluster
        ]
    }
    fates = incident_post_fates(truth, report, flagged={"a1", "a2", "a3", "a4", "a5", "b1"})
    assert fates.counts == {"main": 4, "other_cluster": 1, "flagged_unclustered": 1, "not_flagged": 1}
    assert fates.total == 7 and abs(fates.share("main") - 4 / 7) < 1e-9


def test_an_incident_with_nothing_clustered_has_no_main_cluster() -> None:
    fates = incident_post_fates({"incidents": [{"posts": ["x", "y"]}]}, {"clusters": []}, flagged={"x"})
    assert fates.counts["flagged_unclustered"] == 1 and fates.counts["not_flagged"] == 1
    assert fates.counts["main"] == 0


def test_flagged_ids_are_the_tenants_posts_at_or_above_the_threshold(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flagged.db'}"
    engine = create_db_engine(url)
    migrate(engine)
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with transaction(session_factory(engine)) as session:
        for number, (tenant, external_id, probability) in enumerate(
            [("t", "hit", 0.5), ("t", "miss", 0.49), ("other", "elsewhere", 0.9)], start=1
        ):
            session.add(
                PostRow(
                    id=number,
                    tenant=tenant,
                    source="x",
                    external_id=external_id,
                    author_key="a",
                    text="t",
                    created_at=when,
                )
            )
            session.flush()
            session.add(
                AnalysisRow(
                    post_id=number,
                    model_version="v",
                    problem_probability=probability,
                    sentiment="neutral",
                    language="en",
                    embedding=b"",
                )
            )
    engine.dispose()
    assert flagged_external_ids(url, "t", 0.5) == {"hit"}


def test_the_classifier_ceiling_is_perfect_clustering_of_the_flagged_posts() -> None:
    truth = {"incidents": [{"posts": ["a1", "a2", "a3", "a4"]}, {"posts": ["b1", "b2"]}]}
    # every post flagged: a perfect clustering is B-cubed 1
    assert classifier_ceiling(truth, {"a1", "a2", "a3", "a4", "b1", "b2"}) == 1.0
    # a4 unflagged: a1-a3 each find 3 of 4, a4 only itself; b's posts all of b
    recall = (3 * 3 / 4 + 1 / 4 + 2) / 6
    ceiling = classifier_ceiling(truth, {"a1", "a2", "a3", "b1", "b2"})
    assert ceiling is not None and abs(ceiling - 2 * recall / (1 + recall)) < 1e-12
    assert classifier_ceiling({"incidents": []}, set()) is None
