"""Beat sends what ``triage run`` runs, on the same intervals; the worker command refuses unknown queues."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from triage.cli.app import app
from triage.errors import ConfigurationError
from triage.runners.celery_app import create_celery_app
from triage.runners.schedule import Intervals, beat_schedule
from triage.settings import Settings


def test_beat_schedules_each_source_the_analysis_the_tick_and_delivery() -> None:
    schedule = beat_schedule("acme", ["zendesk", "folder"], Intervals(pull=45), delivery=True)
    assert {entry["task"] for entry in schedule.values()} == {
        "triage.ingest.pull",
        "triage.analysis.dispatch",
        "triage.tick",
        "triage.delivery.deliver",
    }
    pulls = [entry for entry in schedule.values() if entry["task"] == "triage.ingest.pull"]
    assert [entry["kwargs"] for entry in pulls] == [
        {"tenant": "acme", "source": "zendesk"},
        {"tenant": "acme", "source": "folder"},
    ]
    assert all(entry["schedule"] == timedelta(seconds=45) for entry in pulls)
    assert schedule["tick acme"]["schedule"] == timedelta(seconds=60)
    assert "delivery" not in beat_schedule("acme", [], Intervals(), delivery=False)


def test_tasks_are_routed_to_their_queues_with_late_acks() -> None:
    app = create_celery_app(Settings(broker_url="redis://127.0.0.1:6379/15"))
    routes = {
        "triage.ingest.pull": "ingest",
        "triage.ingest.replay_file": "ingest",
        "triage.analysis.dispatch": "analysis",
        "triage.analysis.batch": "analysis",
        "triage.tick": "triage",
        "triage.delivery.deliver": "delivery",
    }
    for name, queue in routes.items():
        assert app.amqp.router.route({}, name)["queue"].name == queue, name
        task = app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name
    assert app.conf.worker_prefetch_multiplier == 1


def test_scale_out_needs_a_broker() -> None:
    with pytest.raises(ConfigurationError, match="SIGNAL_TRIAGE_BROKER_URL"):
        create_celery_app(Settings(broker_url=None))


def test_worker_refuses_unknown_queues() -> None:
    result = CliRunner().invoke(app, ["worker", "--queues", "ingest,reports"])
    assert result.exit_code != 0
    assert "queues are a comma-separated subset" in result.output


def test_each_app_runs_its_own_tasks_with_its_own_settings() -> None:
    first = create_celery_app(Settings(broker_url="redis://127.0.0.1:6379/14"))
    second = create_celery_app(Settings(broker_url="redis://127.0.0.1:6379/15"))
    assert first.tasks["triage.tick"].context.broker_url.endswith("/14")
    assert second.tasks["triage.tick"].context.broker_url.endswith("/15")
