"""Versions in an artifacts root: listing, promotion with its log, rollback, and the promotion gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from classifier.artifact import ModelArtifactError, load_artifact, save_artifact
from classifier.comparison import (
    FigureChange,
    gate_evaluation,
    held_out_changes,
    regressions,
    save_evaluation,
)
from classifier.paths import ARTIFACTS_DIR
from classifier.versions import (
    PROMOTIONS_LOG,
    PromotionError,
    artifacts_root_for,
    current_version,
    import_candidate,
    list_versions,
    promote,
    promotion_log,
    resolve_artifact_dir,
    rollback,
)
from tests.classifier.factories import tiny_artifact

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def add_version(root: Path, version: str, parent: str | None = None, f1: float = 0.8) -> Path:
    artifact = tiny_artifact(version)
    artifact.manifest.update(
        created=f"2026-11-24T0{len(list(root.glob('v*')))}:00:00+00:00",
        parent=parent,
        metrics={"problem": {"test": {"bank": {"f1": f1, "positives": 10.0}}}},
    )
    save_artifact(root / version, artifact, f"# {version}\n")
    return root / version


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    add_version(root, "v1")
    add_version(root, "v2", parent="v1", f1=0.9)
    (root / "DEFAULT").write_text("v1\n")
    return root


def test_committed_versions_stay_loadable_and_listed() -> None:
    listed = {info.version: info for info in list_versions(ARTIFACTS_DIR)}
    assert {"v1", "v2"} <= set(listed)
    assert listed[current_version(ARTIFACTS_DIR)].in_use
    assert listed["v2"].headline["problem_f1_mean"] == pytest.approx(
        0.7251, abs=1e-4
    )  # mean of the five F1s in its card
    assert listed["v1"].parent is None and listed["v1"].valid


def test_list_shows_lineage_and_the_version_in_use(root: Path) -> None:
    listed = list_versions(root)
    assert [info.version for info in listed] == ["v1", "v2"]
    assert listed[0].in_use and not listed[1].in_use
    assert listed[1].parent == "v1" and listed[1].headline["problem_f1_mean"] == pytest.approx(0.9)


def test_a_broken_version_is_listed_as_broken(root: Path) -> None:
    (root / "v2" / "heads.npz").write_bytes(b"nonsense")
    broken = {info.version: info for info in list_versions(root)}["v2"]
    assert not broken.valid and "corrupt" in broken.problem


def test_promote_moves_the_pointer_and_logs_who_and_why(root: Path) -> None:
    record = promote(root, "v2", by="ana", reason="better on banking", at=NOW, evaluation={"against": "v1"})
    assert current_version(root) == "v2"
    assert (record.previous, record.version, record.by) == ("v1", "v2", "ana")
    logged = [json.loads(line) for line in (root / PROMOTIONS_LOG).read_text().splitlines()]
    assert logged == [
        {
            "action": "promote",
            "version": "v2",
            "previous": "v1",
            "by": "ana",
            "reason": "better on banking",
            "at": NOW.isoformat(),
            "forced": False,
            "evaluation": {"against": "v1"},
        }
    ]


@pytest.mark.parametrize(
    ("version", "by", "reason", "message"),
    [
        ("v2", "ana", "  ", "needs a reason"),
        ("v2", "", "why", "who promotes"),
        ("v1", "ana", "why", "already the version in use"),
        ("v9", "ana", "why", "does not exist"),
        ("../v2", "ana", "why", "not a version folder name"),
    ],
)
def test_promote_refuses_what_is_never_right(
    root: Path, version: str, by: str, reason: str, message: str
) -> None:
    with pytest.raises(ModelArtifactError, match=message):
        promote(root, version, by=by, reason=reason, at=NOW)
    assert current_version(root) == "v1" and not (root / PROMOTIONS_LOG).exists()


def test_a_corrupt_candidate_is_refused_before_the_pointer_moves(root: Path) -> None:
    (root / "v2" / "heads.npz").write_bytes(b"nonsense")
    with pytest.raises(ModelArtifactError, match="does not match the hash"):
        promote(root, "v2", by="ana", reason="why", at=NOW)
    assert current_version(root) == "v1"


def test_rollback_returns_through_the_promotions_in_order(root: Path) -> None:
    add_version(root, "v3", parent="v2")
    promote(root, "v2", by="ana", reason="first", at=NOW)
    promote(root, "v3", by="ana", reason="second", at=NOW)
    back = rollback(root, by="bo", reason="v3 pages too often", at=NOW)
    assert (back.previous, back.version, current_version(root)) == ("v3", "v2", "v2")
    rollback(root, by="bo", reason="v2 as well", at=NOW)
    assert current_version(root) == "v1"
    with pytest.raises(PromotionError, match="nothing to roll back to"):
        rollback(root, by="bo", reason="once more", at=NOW)
    assert [(r.action, r.version, r.by) for r in promotion_log(root)] == [
        ("promote", "v2", "ana"),
        ("promote", "v3", "ana"),
        ("rollback", "v2", "bo"),
        ("rollback", "v1", "bo"),
    ]


def test_rollback_refuses_when_the_pointer_was_changed_by_hand(root: Path) -> None:
    promote(root, "v2", by="ana", reason="first", at=NOW)
    (root / "DEFAULT").write_text("v1\n")
    with pytest.raises(PromotionError, match="changed by hand"):
        rollback(root, by="bo", reason="why", at=NOW)


def test_rollback_needs_a_reason(root: Path) -> None:
    promote(root, "v2", by="ana", reason="first", at=NOW)
    with pytest.raises(PromotionError, match="needs a reason"):
        rollback(root, by="bo", reason="", at=NOW)
    assert current_version(root) == "v2"


def test_model_dir_is_a_version_or_a_root(root: Path) -> None:
    assert artifacts_root_for(None) == ARTIFACTS_DIR
    assert artifacts_root_for(root) == root and resolve_artifact_dir(root) == root / "v1"
    assert artifacts_root_for(root / "v2") == root and resolve_artifact_dir(root / "v2") == root / "v2"
    promote(root, "v2", by="ana", reason="why", at=NOW)
    assert resolve_artifact_dir(root) == root / "v2"


def test_a_candidate_written_elsewhere_is_imported_once(root: Path, tmp_path: Path) -> None:
    candidate = add_version(tmp_path / "notebook", "v7")
    assert import_candidate(root, candidate) == "v7"
    assert (
        load_artifact(root / "v7").manifest["weights_sha256"]
        == load_artifact(candidate).manifest["weights_sha256"]
    )
    assert import_candidate(root, candidate) == "v7"  # same weights: nothing to do
    other = tmp_path / "other"
    artifact = tiny_artifact("v7")
    artifact.sentiment.logit_bias = artifact.sentiment.logit_bias + 1.0
    save_artifact(other / "v7", artifact, "# v7\n")
    with pytest.raises(PromotionError, match="already holds a different v7"):
        import_candidate(root, other / "v7")


def _evaluation(candidate_f1: float) -> dict[str, object]:
    current = {"problem_f1_mean": 0.80, "sentiment": {"tweeteval_test_macro_recall": 0.6}, "problem": {}}
    candidate = {**current, "problem_f1_mean": candidate_f1}
    return {"current": current, "candidate": candidate}


@pytest.mark.parametrize(("candidate_f1", "blocked"), [(0.79, False), (0.81, False), (0.77, True)])
def test_held_out_regression_beyond_the_tolerance_blocks(candidate_f1: float, blocked: bool) -> None:
    figures = _evaluation(candidate_f1)
    changes = held_out_changes(figures["current"], figures["candidate"], 0.02)  # type: ignore[arg-type]
    assert [change.name for change in regressions(changes)] == (["problem F1 mean"] if blocked else [])


def test_counts_that_page_people_may_not_get_worse() -> None:
    missed = FigureChange("smoke: incidents detected", 3, 2, True, 0.0)
    louder = FigureChange("smoke: false escalations", 0, 1, False, 0.0)
    quieter = FigureChange("smoke: false escalations", 1, 0, False, 0.0)
    assert missed.worse and louder.worse and not quieter.worse


def test_gate_needs_a_current_evaluation_of_the_same_weights(root: Path) -> None:
    sha = {v: load_artifact(root / v).manifest["weights_sha256"] for v in ("v1", "v2")}
    record, problem = gate_evaluation(root, "v2", sha["v2"], "v1", sha["v1"])
    assert record is None and "has not been evaluated" in problem
    base = {"candidate": "v2", "candidate_sha256": sha["v2"], "current": "v1", "current_sha256": sha["v1"]}
    save_evaluation(root, {**base, "regressions": []})
    assert gate_evaluation(root, "v2", sha["v2"], "v1", sha["v1"]) == ({**base, "regressions": []}, "")
    assert "other weights" in gate_evaluation(root, "v2", "f" * 64, "v1", sha["v1"])[1]
    assert "is in use now" in gate_evaluation(root, "v2", sha["v2"], "v3", "a" * 64)[1]
    save_evaluation(root, {**base, "regressions": [{"name": "problem F1 mean"}]})
    record, problem = gate_evaluation(root, "v2", sha["v2"], "v1", sha["v1"])
    assert record is not None and "worse than v1 beyond the tolerance on: problem F1 mean" in problem
