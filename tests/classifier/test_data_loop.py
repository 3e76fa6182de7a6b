"""The data scientist's whole loop on small data: relabel through the API, export, retrain, evaluate,
promote into a temporary artifacts root, and see the next analysis use the new version; then roll back.

Small settings throughout (40 rows per dataset and split, a 200-post scenario), so it runs in a couple of
minutes on a CPU with a cold embedding cache and in well under one with a warm one.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from classifier.analysis import load_analyzer
from classifier.paths import ARTIFACTS_DIR
from classifier.versions import current_version, promotion_log
from tests.api.factories import TENANT, Builder, build_incident_day
from tests.classifier.conftest import requires_shared
from tests.factories import stamp, write_small_scenario
from triage.access.settings import ApiKey, ApiSettings
from triage.cli.app import app as triage_app
from triage.replay.flow import SilentProgress, analyse_pending
from triage.settings import Settings
from triage.storage.database import transaction
from triage.storage.models import AnalysisRow

LEAD = {"X-API-Key": "lead-key"}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(triage_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def small_scenario(folder: Path) -> Path:
    """The factories' tiny bank day, with the truth file the shared scorer needs."""
    scenario = folder / "bank.jsonl"
    ids = write_small_scenario(scenario)
    truth = {
        "scenario": "bank",
        "incidents": [
            {
                "id": "card-outage",
                "service": "cards",
                "onset": stamp(242.5),
                "cause": ids["cause"],
                "posts": ids["incident_posts"],
            }
        ],
    }
    scenario.with_suffix(".truth.json").write_text(json.dumps(truth), encoding="utf-8")
    return scenario


@requires_shared
def test_relabel_export_retrain_evaluate_promote_and_analyse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "artifacts"  # never the package: promotions happen here
    for version in ("v1", "v2"):
        shutil.copytree(ARTIFACTS_DIR / version, root / version)
    (root / "DEFAULT").write_text("v2\n")
    monkeypatch.setenv("SIGNAL_TRIAGE_MODEL_DIR", str(root))
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{(tmp_path / 'loop.db').as_posix()}",
        model_dir=root,
        api=ApiSettings(keys=[ApiKey(name="dana", key=SecretStr("lead-key"), role="lead")]),
    )
    api = create_app(settings)
    with transaction(api.state.sessions) as session:
        build_incident_day(session)

    with TestClient(api) as client:
        # 1. a support lead reviews: praise is not a problem, one post gets its category, a cluster is real
        for query, body in (
            ("dark mode", {"label": "not_problem", "note": "praise"}),
            ("declined twice", {"label": "category", "category": "payment"}),
            ("change my email", {"label": "not_problem"}),
        ):
            for post in client.get("/v1/posts", params={"q": query}, headers=LEAD).json()["items"]:
                answer = client.post(f"/v1/posts/{post['id']}/labels", json=body, headers=LEAD)
                assert answer.status_code == 201, answer.text
        confirmed = client.post("/v1/clusters/k-login/actions", json={"action": "confirm"}, headers=LEAD)
        assert confirmed.status_code == 201

        # 2. the data scientist exports them
        exported = client.get("/v1/labels/export", params={"format": "parquet"}, headers=LEAD)
        assert exported.status_code == 200
        export = tmp_path / "labels.parquet"
        export.write_bytes(exported.content)
        table = pq.read_table(io.BytesIO(exported.content))
        card = json.loads(exported.headers["x-data-card"])
        assert card["rows"] == table.num_rows == 12 + 5 + 1 + 1  # login members, praise, payment, email
        assert card["class_balance"]["not_problem"] == 6 and set(table.column("actor").to_pylist()) == {
            "dana"
        }
        in_use = [
            model["version"] for model in client.get("/v1/models", headers=LEAD).json() if model["in_use"]
        ]
        assert in_use == ["v2"]

        # 3. retrain on the datasets plus the export (few rows, same training code as the committed models)
        invoke(
            "model",
            "train",
            "--artifacts-root",
            str(root),
            "--version",
            "v3",
            "--max-per-split",
            "40",
            "--sentiment-sample",
            "200",
            "--noise-sample",
            "160",
            "--reviewed-labels",
            str(export),
        )
        manifest = json.loads((root / "v3" / "manifest.json").read_text())
        assert manifest["parent"] == "v2" and manifest["training_data"]["reviewed_labels"]["rows"] == 19
        assert current_version(root) == "v2"  # training never changes what is in use

        # 4. evaluate against the version in use: held-out sets and a replay with detection figures
        scenario = small_scenario(tmp_path)
        printed = invoke(
            "model",
            "evaluate",
            "v3",
            "--artifacts-root",
            str(root),
            "--sample",
            "40",
            "--scenario",
            str(scenario),
            "--reviewed-labels",
            str(export),
        )
        record = json.loads((root / "evaluations" / "v3.json").read_text())
        assert record["current"] == "v2" and record["scenarios"] == ["bank"]
        assert set(record["detection"]["bank"]) == {"current", "candidate"}
        assert "bank: incidents detected" in printed and "problem F1 reviewed_labels" in printed
        assert "reviewed_labels" in record["held_out"]["candidate"]["problem"]

        # 5. promote: a head trained on 40 rows per set loses to v2 on the held-out sets, so the gate refuses
        #    it; forced, the promotion is recorded with who, why, and what it was forced past
        assert "problem F1 mean" in [change["name"] for change in record["regressions"]]
        refused = CliRunner().invoke(
            triage_app, ["model", "promote", "v3", "--artifacts-root", str(root), "--reason", "reviews"]
        )
        assert refused.exit_code != 0 and "not promoted" in str(refused.exception)
        assert current_version(root) == "v2"
        invoke(
            "model",
            "promote",
            "v3",
            "--artifacts-root",
            str(root),
            "--reason",
            "ship the reviews",
            "--by",
            "ana",
            "--force",
        )
        assert current_version(root) == "v3"
        last = promotion_log(root)[-1]
        assert (last.action, last.version, last.previous) == ("promote", "v3", "v2")
        assert (last.by, last.reason, last.forced, last.evaluation["against"]) == (
            "ana",
            "ship the reviews",
            True,
            "v2",
        )
        assert "problem F1 mean" in last.evaluation["regressions"]

        # 6. the next analysis runs with the promoted version, and the API shows it in use
        with transaction(api.state.sessions) as session:
            fresh = Builder(session, TENANT, post_number=500).post("the app crashes when I open my card", 300)
            session.delete(session.get(AnalysisRow, fresh.id))
        next_analyzer = load_analyzer(settings.model_dir)
        assert next_analyzer.model_version == "v3"
        analyse_pending(api.state.sessions, TENANT, next_analyzer, settings, SilentProgress())
        with transaction(api.state.sessions) as session:
            scored_by = session.scalar(
                select(AnalysisRow.model_version).where(AnalysisRow.post_id == fresh.id)
            )
        assert scored_by == "v3"
        models = {model["version"]: model for model in client.get("/v1/models", headers=LEAD).json()}
        # every post the old version scored was rerun by the promoted one (heads only: embeddings are kept)
        assert set(models) == {"v3"} and models["v3"]["in_use"] and models["v3"]["posts_scored"] == 25
        assert models["v3"]["promoted_by"] == last.by
        page = client.get("/sources", headers={**LEAD, "accept": "text/html"}).text
        assert "in use" in page and last.reason in page

    # 7. and a rollback returns to v2, recorded too
    invoke("model", "rollback", "--artifacts-root", str(root), "--reason", "pages too often", "--by", "bo")
    assert current_version(root) == "v2" and load_analyzer(root).model_version == "v2"
    assert promotion_log(root)[-1].action == "rollback"
    api.state.engine.dispose()
